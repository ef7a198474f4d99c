"""The DES DRAM: whole cycles, fair sharing between the streams (capped by each transfer's lanes), pipelined
access latency, and a short transfer is never stuck behind a long one."""
import pytest
import simpy

from archsim import simulate
from archsim.des.dram import Dram, fair_rates, lanes, transfer_cycles, whole_cycles


def test_whole_cycles_round_up_to_a_clock_edge():
    assert whole_cycles(64 / 12) == 6  # 5.33 cycles of data: done at the 6th clock edge
    assert whole_cycles(64 / 12.8) == 5  # 5.000000000000001 in floats: still 5
    assert whole_cycles(0.0) == 0


def test_transfer_cycles_is_the_lone_transfer_arithmetic_of_the_dram():
    """The serialised bound (vectorised) and a lone DES transfer (latency, then bytes / lanes' bandwidth,
    rounded to a clock edge) are the same numbers."""
    import numpy as np

    n = np.concatenate([[0, 1, 63, 64, 65, 128, 129], np.random.default_rng(0).integers(0, 10**7, 500)])
    for bpc, channels, lat in ((24.0, 2, 50), (12.8, 7, 0), (8.0, 1, 3), (512.0, 8, 100)):
        assert transfer_cycles(n, bpc, channels, lat).tolist() == \
            [lat + whole_cycles(v / (lanes(v, channels) * (bpc / channels))) if v else 0 for v in n.tolist()]


def test_fair_rates_are_max_min_fair_under_the_caps():
    assert fair_rates([5.0, 5.0, 5.0], 12.0) == [4.0, 4.0, 4.0]
    assert fair_rates([10.0, 1.0, 10.0], 12.0) == [5.5, 1.0, 5.5]  # the capped one's leftover goes to the rest
    assert fair_rates([1.0, 2.0], 12.0) == [1.0, 2.0]  # all capped: the bandwidth is not all used
    assert sum(fair_rates([3.0, 7.0, 100.0, 0.5], 12.0)) == pytest.approx(12.0)


def test_a_lone_transfer_takes_transfer_cycles_in_integers():
    env = simpy.Environment()
    dram = Dram(env, bytes_per_cycle=24.0, channels=2, latency_cycles=50)
    env.process(dram.transfer(1000, write=False))
    env.run()
    assert lanes(1000, 2) == 2 and lanes(100, 8) == 2 and lanes(1, 8) == 1
    assert env.now == transfer_cycles([1000], 24.0, 2, 50)[0] == 50 + 42  # ⌈1000 / 24⌉
    assert isinstance(env.now, int) and dram.read_bytes == 1000


def _finish_times(dram, env, transfers):
    done = {}

    def issue(name, nbytes, at):
        yield env.timeout(at)
        yield env.process(dram.transfer(nbytes, write=False))
        done[name] = env.now

    for name, nbytes, at in transfers:
        env.process(issue(name, nbytes, at))
    env.run()
    return done


def test_a_short_load_shares_the_bandwidth_with_a_long_prefetch_instead_of_waiting_for_it():
    env = simpy.Environment()
    dram = Dram(env, bytes_per_cycle=16.0, channels=2, latency_cycles=0)
    done = _finish_times(dram, env, [("prefetch", 100_000, 0), ("demand", 64, 10)])
    assert done["demand"] == 10 + 8  # one burst on one lane: its 8 B/cycle share, from the moment it asks
    # work conserving: the prefetch loses exactly what the demand load used
    assert done["prefetch"] == whole_cycles((100_000 + 64) / 16)


def test_access_latency_is_pipelined_and_takes_no_bandwidth():
    env = simpy.Environment()
    dram = Dram(env, bytes_per_cycle=8.0, channels=1, latency_cycles=100)
    done = _finish_times(dram, env, [("a", 64, 0), ("b", 64, 0)])
    assert done == {"a": 116, "b": 116}  # both wait the latency at once, then share the channel


def test_unlimited_bandwidth_costs_only_the_latency():
    env = simpy.Environment()
    dram = Dram(env, bytes_per_cycle=float("inf"), channels=2, latency_cycles=7)
    assert _finish_times(dram, env, [("a", 10**9, 0)]) == {"a": 7}


def test_des_reports_whole_cycles(graphs):
    # the default DRAM moves 12 bytes per cycle per channel, so a fluid model gave fractional cycles
    res = simulate(graphs("fashion_cnn"), "default", "dybit4", "des")
    t = res.total
    assert isinstance(t["cycles"], int)
    assert all(isinstance(r[k], int) for r in res.layers for k in ("cycles", "start_cycle", "end_cycle"))
    assert sum(r["cycles"] for r in res.layers) == t["cycles"]
    assert t["lower_bound_cycles"] <= t["cycles"] <= t["serial_bound_cycles"]


def test_processor_sharing_bounds_on_random_transfers():
    """Random overlapping transfers: none beats its lone time, the bus is never over-committed (the last one
    lands no later than if they had gone one by one after the last arrival), and every byte is counted."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    transfer = st.tuples(st.integers(0, 2000), st.integers(1, 50_000))

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(st.lists(transfer, min_size=1, max_size=8), st.sampled_from([8.0, 12.8, 24.0, 64.0]),
           st.integers(1, 8), st.integers(0, 60))
    def check(transfers, bpc, channels, lat):
        env = simpy.Environment()
        dram = Dram(env, bytes_per_cycle=bpc, channels=channels, latency_cycles=lat)
        done = _finish_times(dram, env, [(f"t{k}", n, at) for k, (at, n) in enumerate(transfers)])
        lone = transfer_cycles([n for _, n in transfers], bpc, channels, lat).tolist()
        for k, (at, _) in enumerate(transfers):
            assert done[f"t{k}"] >= at + lone[k]
            assert isinstance(done[f"t{k}"], int)
        # the bus is shared, not multiplied: all the bytes need at least total / bandwidth cycles
        assert max(done.values()) >= min(at for at, _ in transfers) + lat + sum(n for _, n in transfers) / bpc - 1
        # each finish is rounded up to a clock edge: at most one cycle per start or end event
        assert max(done.values()) <= max(at for at, _ in transfers) + sum(lone) + 2 * len(transfers)
        assert dram.read_bytes == sum(n for _, n in transfers)

    check()
