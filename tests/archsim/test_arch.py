"""Array microarchitectures (fold timing), power-of-two fusion, and outputs requantised to their consumers."""
import numpy as np
import pytest

from archsim import SimError, load_hw, simulate
from archsim.arch import MICROARCHITECTURES, FoldWork
from archsim.errors import ConfigError
from archsim.mapping import map_layer
from archsim.precision import fusion_macs_per_cycle, layer_cost
from workloads.graph import LayerGraph


def test_fold_timing_of_each_microarchitecture_by_hand():
    """Two candidates: 3 folds streaming 100 rows each (one load per fold), and 6 folds of 50 rows. A 16×32
    systolic array pays each load 16 cycles plus the 16 + 32 − 2 = 46 cycle fill/drain; Bit Fusion's array
    pays the fill/drain once for the layer, whatever the tiling."""
    work = FoldWork(np.array([300, 300]), np.array([3, 6]), load_cycles=16, group_passes=2)
    sa, bf = MICROARCHITECTURES["systolic"], MICROARCHITECTURES["bitfusion"]
    assert sa.cycles(work, 16, 32).tolist() == [2 * (300 + 3 * 62), 2 * (300 + 6 * 62)]
    assert bf.cycles(work, 16, 32).tolist() == [2 * 300 + 46, 2 * 300 + 46]
    os_work = FoldWork(np.array([40]), np.array([5]), load_cycles=0)  # OS: no load phase, a drain per block
    assert sa.cycles(os_work, 16, 32).tolist() == [40 + 5 * 46]
    assert bf.cycles(os_work, 16, 32).tolist() == [40 + 46]


def _linear(g, name, prev, M, K, N):
    return g.add_layer(name, "linear", [prev], in_shapes=[(M, K)], out_shape=(M, N), weight_shape=(N, K),
                       operands=["act", "weight"], in_channels=K, out_channels=N, macs=M * K * N,
                       weight_elems=N * K, act_in_elems=M * K, act_out_elems=M * N,
                       gemm={"batch": 1, "M": M, "N": N, "K": K})


def test_fc_layer_on_bit_fusion_has_no_per_fold_weight_load():
    """A batch-16 4096×4096 FC at 8 bits on 16×32 fusion units: Bit Fusion's simulator gives 16 rows ×
    ⌈4096/32⌉ column folds × ⌈4096/16⌉ reduction folds = 524,288 cycles; we add one fill/drain (46). The
    systolic timing of the same array pays 16 + 46 cycles per fold on top of the 16 useful ones (4.9×)."""
    g = LayerGraph(name="fc")
    g.add_layer("input", "input", out_shape=(16, 4096))
    _linear(g, "fc", "input", 16, 4096, 4096)
    hw = load_hw("default")
    layer = g.layers()[0]
    m = map_layer(layer, layer_cost(hw, "int8", "int8"), hw)
    assert m.compute_cycles == 16 * 128 * 256 + 46
    sa = hw.with_overrides({"array.microarchitecture": "systolic"})
    ms = map_layer(layer, layer_cost(sa, "int8", "int8"), sa)
    assert ms.compute_cycles == 128 * 256 * (16 + 16 + 46)


def test_power_of_two_fusion_table():
    """Bricks fuse in power-of-two groups (Bit Fusion's perf_factor = ⌊8/a⌋·⌊8/b⌋ at pmax = 8, a, b ≥ 2)."""
    for a in range(1, 9):
        for b in range(1, 9):
            f, nb = fusion_macs_per_cycle(a, b, 8)
            assert f == (8 // max(a, 2)) * (8 // max(b, 2)), (a, b)
            assert f * nb <= 16
    assert fusion_macs_per_cycle(5, 2, 8) == (4, 4)  # not ⌊16/3⌋ = 5
    assert fusion_macs_per_cycle(6, 6, 8) == (1, 16)
    assert fusion_macs_per_cycle(3, 3, 8) == (4, 4)
    assert fusion_macs_per_cycle(2, 2, 4) == (4, 1)  # a 2×2-brick unit
    hw = load_hw("default")
    assert layer_cost(hw, "int6", "int2").fusion == 4
    assert layer_cost(hw, "int3", "int2").fusion == 8


def test_microarchitecture_key_is_validated():
    with pytest.raises(ConfigError, match="array.microarchitecture: must be one of systolic, bitfusion, got 'tpu'"):
        load_hw("default").with_overrides({"array.microarchitecture": "tpu"})
    assert load_hw("int8_systolic").array.microarchitecture == "systolic"
    assert load_hw("server").array.microarchitecture == "bitfusion"


def _chain():
    """input → fc1 (64→128) → {fc2 (128→32), fc3 (128→16)}, fc2 → fc4 (32→8); 4 rows."""
    g = LayerGraph(name="branch")
    g.add_layer("input", "input", out_shape=(4, 64))
    _linear(g, "fc1", "input", 4, 64, 128)
    _linear(g, "fc2", "fc1", 4, 128, 32)
    _linear(g, "fc3", "fc1", 4, 128, 16)
    _linear(g, "fc4", "fc2", 4, 32, 8)
    return g


def test_outputs_are_written_at_their_consumers_width():
    """fc1 (int8 inputs) feeds fc2 (int2) and fc3 (int4): its output is requantised once, to the widest consumer
    (4 bits), and both read that copy. fc2 feeds fc4 (int8): written at 8 bits. fc3 and fc4 are read by nobody:
    their own activation width. Weights int8 with a float32 scale per output channel, read once (every tile
    fits)."""
    from quant.plan import PrecisionPlan

    g = _chain()
    plan = PrecisionPlan({"fc1": "w=int8,a=int8", "fc2": "w=int8,a=int2", "fc3": "w=int8,a=int4",
                          "fc4": "w=int8,a=int8"})
    r = {rec["name"]: rec for rec in simulate(g, "default", plan, "analytic").layers}
    assert r["fc1"]["dram_write_bytes"] == 4 * 128 * 4 // 8
    assert r["fc2"]["dram_write_bytes"] == 4 * 32 * 8 // 8
    assert r["fc3"]["dram_write_bytes"] == 4 * 16 * 4 // 8
    assert r["fc4"]["dram_write_bytes"] == 4 * 8 * 8 // 8

    def weights(k, n):
        return (k * n * 8 + n * 32) // 8

    assert r["fc1"]["dram_read_bytes"] == weights(64, 128) + 4 * 64 * 8 // 8  # the network input at int8
    assert r["fc2"]["dram_read_bytes"] == weights(128, 32) + 4 * 128 * 4 // 8  # fc1's 4-bit copy
    assert r["fc3"]["dram_read_bytes"] == weights(128, 16) + 4 * 128 * 4 // 8
    assert r["fc4"]["dram_read_bytes"] == weights(32, 8) + 4 * 32 * 8 // 8
    # a uniform plan is unchanged by the rule: every tensor at the one width
    u = {rec["name"]: rec for rec in simulate(g, "default", "int4", "analytic").layers}
    assert u["fc1"]["dram_write_bytes"] == 4 * 128 * 4 // 8


def test_a_vector_layer_passes_its_consumers_width_through():
    """fc1 (a=int8) → add (with the network input) → fc2 (a=int2): the add writes its output at fc2's 2 bits,
    fc1 writes at the add's stored width (2 bits), and the add reads both operands at the wider of its
    inputs' widths (the 8-bit network input)."""
    from quant.plan import PrecisionPlan

    g = LayerGraph(name="vec")
    g.add_layer("input", "input", out_shape=(4, 64))
    _linear(g, "fc1", "input", 4, 64, 64)
    g.add_layer("add", "add", ["fc1", "input"], in_shapes=[(4, 64), (4, 64)], out_shape=(4, 64),
                operands=["act", "act"], vector_ops=256, act_in_elems=512, act_out_elems=256)
    _linear(g, "fc2", "add", 4, 64, 8)
    plan = PrecisionPlan({"fc1": "int8", "fc2": "w=int8,a=int2"})
    r = {rec["name"]: rec for rec in simulate(g, "default", plan, "analytic").layers}
    assert r["fc1"]["dram_write_bytes"] == 256 * 2 // 8
    assert r["add"]["dram_write_bytes"] == 256 * 2 // 8
    assert r["add"]["dram_read_bytes"] == 512 * 8 // 8
    with pytest.raises(SimError):
        simulate(g, "default", PrecisionPlan({"fc1": "int8"}))
