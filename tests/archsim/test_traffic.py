"""DRAM traffic: the compulsory floor, the pixels a strided conv fetches, the loop orders that reach the floor."""
import numpy as np
import pytest

from archsim import load_hw, simulate
from archsim.mapping import map_layer, used_input_fraction
from archsim.precision import layer_cost
from workloads import load_workload
from workloads.graph import LayerGraph
from workloads.zoo import list_models


def _conv(g, name, prev, n, c, h, k_out, k, s, p):
    ho = (h + 2 * p - k) // s + 1
    return g.add_layer(name, "conv", [prev], in_shapes=[(n, c, h, h)], out_shape=(n, k_out, ho, ho),
                       weight_shape=(k_out, c, k, k), operands=["act", "weight"], kernel=(k, k), stride=(s, s),
                       padding=(p, p), dilation=(1, 1), groups=1, in_channels=c, out_channels=k_out,
                       macs=n * ho * ho * k * k * c * k_out, weight_elems=k_out * c * k * k,
                       act_in_elems=n * c * h * h, act_out_elems=n * k_out * ho * ho,
                       gemm={"batch": 1, "M": n * ho * ho, "N": k_out, "K": c * k * k})


def test_floor_and_traffic_of_a_small_conv_by_hand():
    """3×3 conv, 16→32 channels, 8×8 input, int8: everything fits, so weights (+ a float32 scale per output
    channel), inputs and outputs move once each — traffic equals the floor."""
    g = LayerGraph(name="c")
    g.add_layer("input", "input", out_shape=(1, 16, 8, 8))
    _conv(g, "conv", "input", 1, 16, 8, 32, 3, 1, 1)
    r = simulate(g, "default", "int8", "analytic").layers[0]
    floor = 32 * 16 * 9 + 32 * 4 + 16 * 8 * 8 + 32 * 8 * 8
    assert r["dram_floor_bytes"] == floor
    assert r["dram_read_bytes"] + r["dram_write_bytes"] == floor and r["dram_over_floor"] == 1.0


def test_a_strided_1x1_conv_reads_exactly_the_pixels_it_uses():
    """ResNet's downsample: 1×1, stride 2 on 56×56 → every other row and column, a quarter of the pixels."""
    layer = load_workload("resnet18")["layer2.0.downsample.0"]
    assert used_input_fraction(layer) == 0.25
    hw = load_hw("default").with_overrides({"buffers.input.kib": 4096, "buffers.weight.kib": 4096,
                                            "buffers.output.kib": 4096})
    m = map_layer(layer, layer_cost(hw, "int8", "int8"), hw)
    assert m.dram_read["input"] == 64 * 56 * 56 // 4
    # a 3×3 stride-2 conv touches every row; a dilated 3×3 (d = 2) with stride 4 only the even rows
    assert used_input_fraction(load_workload("resnet18")["layer2.0.conv1"]) == 1.0
    dil = {"op": "conv", "in_shapes": [(1, 8, 16, 16)], "out_shape": (1, 8, 4, 4), "kernel": (3, 3),
           "stride": (4, 4), "padding": (0, 0), "dilation": (2, 2)}
    pos = (np.arange(4)[:, None] * 4 + np.arange(3)[None, :] * 2).ravel()
    rows = np.unique(pos[pos < 16]).size
    assert rows == 8 and used_input_fraction(dil) == pytest.approx((rows / 16) ** 2)


def test_a_layer_whose_weights_fit_reads_them_once():
    """conv1 of ResNet-18: 9,408 weights (+ 64 scales) fit the weight buffer; they were read 26× (241,600 B)."""
    layer = load_workload("resnet18")["conv1"]
    hw = load_hw("default")
    m = map_layer(layer, layer_cost(hw, "int8", "int8"), hw)
    assert m.dram_read["weight"] == 9408 + 64 * 4


def test_inputs_stay_resident_while_weight_tiles_stream():
    """A batch-16 FC, 4,096 → 1,024 at 2 bits: its whole input (16 KiB) fits the input buffer's tile and its
    weights do not fit the weight buffer: the input_resident order reads both once, at full array width."""
    g = LayerGraph(name="fc")
    g.add_layer("input", "input", out_shape=(16, 4096))
    g.add_layer("fc", "linear", ["input"], in_shapes=[(16, 4096)], out_shape=(16, 1024), weight_shape=(1024, 4096),
                operands=["act", "weight"], in_channels=4096, out_channels=1024, macs=16 * 4096 * 1024,
                weight_elems=4096 * 1024, act_in_elems=16 * 4096, act_out_elems=16 * 1024,
                gemm={"batch": 1, "M": 16, "N": 1024, "K": 4096})
    hw = load_hw("default")
    m = map_layer(g.layers()[0], layer_cost(hw, "int2", "int2"), hw)
    assert m.order == "input_resident"
    assert m.dram_read["input"] == 16 * 4096 * 2 // 8
    assert m.dram_read["weight"] == 4096 * 1024 * 2 // 8 + 1024 * 4
    assert m.compute_cycles == 16 * (1024 // 32) * (4096 // (16 * 16)) + 46


@pytest.mark.parametrize("model", list_models())
def test_no_result_is_below_the_floor(model):
    g = load_workload(model)
    for hw, plan in (("default", "int8"), ("default", "dybit4"), ("int8_systolic", "int8"), ("server", "int4")):
        r = simulate(g, hw, plan, "analytic")
        for rec in r.layers:
            assert rec["dram_read_bytes"] + rec["dram_write_bytes"] >= rec["dram_floor_bytes"] > 0 or \
                rec["op"] == "concat", (model, hw, plan, rec["name"])
        assert r.total["dram_floor_bytes"] == sum(rec["dram_floor_bytes"] for rec in r.layers)
