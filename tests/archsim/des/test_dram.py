"""The DES DRAM: transfers take whole cycles, split over channels as the bounds assume."""
import simpy

from archsim import simulate
from archsim.des.dram import Dram, chunk_bytes, chunk_cycles, transfer_cycles


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
