"""SRAM ports as a timing bound and energy by level, on a layer small enough to count by hand."""
import numpy as np
import pytest

from archsim.config import load_hw
from archsim.energy import REGISTER_PJ_PER_BIT_DEFAULT, sram_pj_per_bit
from archsim.errors import ConfigError
from archsim.mapping import map_layer, port_cycles, schedule_cycles
from archsim.precision import layer_cost


def _linear(M=64, K=16, N=32):
    return {"name": "fc", "op": "linear", "macs": M * K * N, "gemm": {"batch": 1, "M": M, "N": N, "K": K},
            "act_in_elems": M * K, "act_out_elems": M * N, "weight_elems": K * N, "operands": ["act", "weight"]}


def test_bit_fusion_sram_traffic_of_a_hand_counted_layer():
    """64×16 · 16×32 on `default` (16×32 fusion units, int8, f = 1): one reduction fold, one column fold, 64
    streamed rows. Bit Fusion's units read their weight from their own bank every cycle (32,768 MACs × 8 bits),
    each input is read once and broadcast along its row (64·16 values), and the partial sums stay in the column
    accumulators: the output buffer takes one 32-bit write per output (64·32) and is read once per output, at 8
    bits, on its way to DRAM."""
    hw = load_hw("default")
    m = map_layer(_linear(), layer_cost(hw, "int8", "int8"), hw)
    assert m.sram_bits["weight_rd"] == 32768 * 8
    assert m.sram_bits["input_rd"] == 64 * 16 * 8
    assert m.sram_bits["output_wr"] == 64 * 32 * 32
    assert m.sram_bits["output_rd"] == 64 * 32 * 8
    # registers: a psum read and write per unit-cycle (32 bits each), an input register written and read per MAC
    assert m.register_bits == 32768 * (2 * 32 + 2 * 8)


def test_systolic_array_read_modify_writes_its_psums_every_fold():
    """The same layer with K = 64 (4 reduction folds of 16 rows) on a systolic array: every fold's partial sums
    leave the array, so the output buffer takes 4 writes per output and 3 read-modify-write reads; Bit Fusion
    keeps them in its accumulators (1 write, no read)."""
    layer = _linear(K=64)
    bf = load_hw("default")
    sa = bf.with_overrides({"array.microarchitecture": "systolic", "buffers.output.shared_port": False})
    m_bf = map_layer(layer, layer_cost(bf, "int8", "int8"), bf)
    m_sa = map_layer(layer, layer_cost(sa, "int8", "int8"), sa)
    assert m_bf.tiles["n_k"] == 1 and m_bf.sram_bits["output_wr"] == 64 * 32 * 32
    spilled = m_sa.dram_read["psum"] * 8  # partial sums a tiling spills leave the buffer and come back
    assert m_sa.sram_bits["output_wr"] == 4 * 64 * 32 * 32 + spilled
    assert m_sa.sram_bits["output_rd"] == 3 * 64 * 32 * 32 + 64 * 32 * 8 + spilled
    # the systolic PE registers also take each loaded weight once (64·32 weights, 8 bits, one load)
    assert m_sa.register_bits == layer["macs"] * (2 * 32 + 2 * 8) + 64 * 32 * 8


def test_port_bandwidth_throttles_a_hand_built_schedule_by_the_computed_factor():
    """Narrow the output buffer's shared port to 32 banks × 8 bits = 256 bits per cycle. The layer's output-buffer
    traffic is 64·32·32 bits written + 64·32·8 read = 81,920 bits → 320 port cycles, against 64 streamed rows + one
    fill/drain (16 + 32 − 2) = 110 array cycles: the ports stretch the array's time to 320 cycles in both engines,
    and the DES reports the 210-cycle difference as port stall."""
    from archsim.des.engine import Job, run

    hw = load_hw("default").with_overrides({"buffers.output.width_bits": 8})
    m = map_layer(_linear(), layer_cost(hw, "int8", "int8"), hw)
    assert m.compute_cycles == 64 + 46
    assert m.port_cycles == 320 == int(port_cycles(m.sram_bits, hw))
    assert schedule_cycles(m.steps, hw) >= 320
    unbound = np.c_[m.steps[:, :7], np.zeros(len(m.steps), np.int64)]
    assert schedule_cycles(unbound, hw) < schedule_cycles(m.steps, hw)
    total, stats, _ = run([Job(0, "fc", "array", m.steps.tolist(), [])], bytes_per_cycle=hw.dram_bytes_per_cycle,
                          channels=hw.dram.channels, latency_cycles=hw.dram_latency_cycles,
                          slots={"weight": 2, "input": 2, "output": 2})
    assert stats[0].compute_cycles == 110 and stats[0].port_stall_cycles == 210
    assert total >= 320


def test_energy_by_level_of_a_hand_counted_layer():
    """Every SRAM bit read and written at its buffer's own cost (Bit Fusion's CACTI figures on `default`), the
    registers at register_pj_per_bit: the components add up by hand."""
    from archsim.energy import layer_energy_pj

    hw = load_hw("default")
    cost = layer_cost(hw, "int8", "int8")
    m = map_layer(_linear(), cost, hw)
    e = layer_energy_pj(m, cost, hw, cycles=200, dram_read_bytes=m.dram_read_bytes,
                        dram_write_bytes=m.dram_write_bytes)
    for b in ("weight", "input", "output"):
        buf = hw.buffers[b]
        want = m.sram_bits[f"{b}_rd"] * buf.read_pj_per_bit + m.sram_bits[f"{b}_wr"] * buf.write_pj_per_bit
        assert e[f"{b}_sram"] == pytest.approx(want)
    assert hw.buffers.weight.read_pj_per_bit != hw.buffers.weight.write_pj_per_bit  # CACTI: writes cost more
    assert e["register"] == pytest.approx(32768 * 80 * hw.energy.register_pj_per_bit)
    assert e["mac"] == pytest.approx(32768 * 16 * hw.energy.brick_pj_per_op)
    assert e["dram"] == pytest.approx((m.dram_read_bytes + m.dram_write_bytes) * 8 * 15.0)


def test_buffer_costs_and_register_cost_default_when_absent_and_refuse_bad_values():
    hw = load_hw("int8_systolic")
    assert hw.buffers.weight.read_pj_per_bit is None  # Horowitz's square-root scaling, both directions
    assert sram_pj_per_bit(hw, "weight", "read") == sram_pj_per_bit(hw, "weight", "write") == \
        pytest.approx(0.156 * (64 / 8) ** 0.5)
    plain = hw.to_dict()
    del plain["energy"]["register_pj_per_bit"]
    from archsim.config import Accelerator

    assert Accelerator(plain).energy.register_pj_per_bit is None
    from archsim.energy import register_pj_per_bit
    assert register_pj_per_bit(Accelerator(plain)) == REGISTER_PJ_PER_BIT_DEFAULT == 0.021 / 16
    with pytest.raises(ConfigError, match=r"buffers.output.read_pj_per_bit: must be ≥ 0, got -1"):
        hw.with_overrides({"buffers.output.read_pj_per_bit": -1})
    with pytest.raises(ConfigError, match=r"buffers.output.shared_port: expected bool"):
        hw.with_overrides({"buffers.output.shared_port": 3})


def test_an_input_loaded_once_may_fill_the_whole_input_buffer():
    """ResNet-18 layer3.0.conv2 on 64/64/64 KiB buffers: its 50 kB input does not fit half the input buffer (the
    double-buffered tile), but it is loaded once and never refilled, so it may fill the whole buffer: inputs are
    read from DRAM exactly once (the used-input floor), and the DES moves them during the first pass over the
    weight columns."""
    from workloads import load_workload

    hw = load_hw("int8_systolic").with_overrides({"buffers.weight.kib": 64, "buffers.input.kib": 64,
                                                  "buffers.output.kib": 64, "dram.bus_bits": 80,
                                                  "dram.latency_ns": 0.0, "dram.channels": 1})
    layer = load_workload("resnet18")["layer3.0.conv2"]
    m = map_layer(layer, layer_cost(hw, "int8", "int8"), hw)
    assert layer["act_in_elems"] > hw.tile_capacity_bytes("input")
    assert m.order == "input_resident" and m.resident_input
    assert m.dram_read["input"] == layer["act_in_elems"]
    first = max(1, round(len(m.steps) / m.tiles["n_n"]))
    assert m.steps[:first, 1].sum() == layer["act_in_elems"] and not m.steps[first:, 1].any()


def test_a_shared_buffer_is_split_per_layer_and_never_overfilled():
    """`buffers.shared`: the three buffers are one SRAM of their summed capacity. The mapper splits it per layer
    (each operand's tiles, double-buffered ones twice, within the pool), which can only help: on every ResNet-18
    layer the shared pool moves no more DRAM bytes than the same capacities split 64/64/64 KiB, and ResNet-18 as a
    whole moves fewer. A pool too small for the smallest tiles is refused in one line."""
    from archsim.simulate import simulate
    from workloads import load_workload

    base = {"buffers.weight.kib": 64, "buffers.input.kib": 64, "buffers.output.kib": 64, "dram.bus_bits": 80,
            "dram.latency_ns": 0.0, "dram.channels": 1}
    g = load_workload("resnet18")
    split = simulate(g, load_hw("int8_systolic").with_overrides(base), "int8", "analytic", objective="traffic")
    pooled_hw = load_hw("int8_systolic").with_overrides({**base, "buffers.shared": True})
    pooled = simulate(g, pooled_hw, "int8", "analytic", objective="traffic")
    pool = 3 * 64 * 1024
    for a, b in zip(split.layers, pooled.layers, strict=True):
        assert b["dram_read_bytes"] + b["dram_write_bytes"] <= a["dram_read_bytes"] + a["dram_write_bytes"], a["name"]
        if b.get("buffer_use_bytes"):
            assert sum(b["buffer_use_bytes"].values()) <= pool, b["name"]
    moved = {r: r.total["dram_read_bytes"] + r.total["dram_write_bytes"] for r in (split, pooled)}
    assert moved[pooled] < moved[split]
    assert any(r.get("buffer_use_bytes", {}).get("input", 0) > 64 * 1024 for r in pooled.layers)
    with pytest.raises(ConfigError, match=r"^buffers.shared: the pooled .* cannot hold the smallest legal tiles"):
        load_hw("int8_systolic").with_overrides({"buffers.shared": True, "buffers.weight.kib": 0.5,
                                                 "buffers.input.kib": 0.5, "buffers.output.kib": 0.5})
