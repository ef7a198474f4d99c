"""The DES DRAM: transfers take whole cycles, striped over channels and sliced as the bounds assume; the access
latency is pipelined and a short transfer is not stuck behind a long one."""
import simpy

from archsim import simulate
from archsim.des.dram import SLICE_CYCLES, Dram, chunk_bytes, chunk_cycles, lane_slices, slice_bytes, transfer_cycles


def test_chunk_cycles_round_up_to_whole_cycles():
    assert chunk_cycles(64, 12.0) == 6  # 5.33 cycles of data: the channel is free at the 6th clock edge
    assert chunk_cycles(60, 12.0) == 5
    assert chunk_cycles(64, 12.8) == 5  # 64 / 12.8 is 5.000000000000001 in floats: still 5
    assert chunk_cycles(0, 12.0) == 0
    assert chunk_cycles(10**9, float("inf")) == 0  # unlimited bandwidth (SCALE-Sim CALC mode)


def test_a_lone_transfer_takes_transfer_cycles_in_integers():
    env = simpy.Environment()
    dram = Dram(env, bytes_per_cycle=24.0, channels=2, latency_cycles=50)
    env.process(dram.transfer(1000, write=False))
    env.run()
    assert chunk_bytes(1000, 2) == [500, 500]
    assert env.now == transfer_cycles(1000, 24.0, 2, 50) == 50 + 42  # ⌈500 / 12⌉
    assert isinstance(env.now, int) and dram.busy_cycles == 84 and dram.read_bytes == 1000


def test_des_reports_whole_cycles(graphs):
    # the default DRAM moves 12 bytes per cycle per channel, so a fluid model gave fractional cycles
    res = simulate(graphs("fashion_cnn"), "default", "dybit4", "des")
    t = res.total
    assert isinstance(t["cycles"], int)
    assert all(isinstance(r[k], int) for r in res.layers for k in ("cycles", "start_cycle", "end_cycle"))
    assert sum(r["cycles"] for r in res.layers) == t["cycles"]
    assert t["lower_bound_cycles"] <= t["cycles"] <= t["serial_bound_cycles"]


def test_lane_slices_cover_the_bytes_in_slices_of_slice_cycles():
    assert slice_bytes(12.0) == 12 * SLICE_CYCLES and slice_bytes(0.5) == 64  # at least one burst
    parts = lane_slices(10_000, 12.0)
    assert sum(parts) == 10_000 and max(parts) == slice_bytes(12.0) and len(parts) == -(-10_000 // slice_bytes(12.0))
    assert lane_slices(10**9, float("inf")) == [10**9]


def _finish_times(dram, env, transfers):
    done = {}

    def issue(name, nbytes, at):
        yield env.timeout(at)
        yield env.process(dram.transfer(nbytes, write=False, label=name))
        done[name] = env.now

    for name, nbytes, at in transfers:
        env.process(issue(name, nbytes, at))
    env.run()
    return done


def test_a_short_load_waits_one_slice_behind_a_long_prefetch_not_the_whole_prefetch():
    env = simpy.Environment()
    dram = Dram(env, bytes_per_cycle=16.0, channels=2, latency_cycles=0)
    done = _finish_times(dram, env, [("prefetch", 100_000, 0), ("demand", 64, 10)])
    assert done["prefetch"] >= 100_000 / 16  # the prefetch alone needs 6,250 cycles
    assert done["demand"] <= 10 + SLICE_CYCLES + chunk_cycles(64, 8.0)  # one slice's wait, then its 8 cycles


def test_access_latency_is_pipelined_and_holds_no_channel():
    env = simpy.Environment()
    dram = Dram(env, bytes_per_cycle=8.0, channels=1, latency_cycles=100)
    done = _finish_times(dram, env, [("a", 64, 0), ("b", 64, 0)])
    assert sorted(done.values()) == [108, 116]  # both wait the latency at once, then share the channel
    assert dram.busy_cycles == 16
