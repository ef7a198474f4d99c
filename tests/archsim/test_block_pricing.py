"""Block- and group-scaled formats in the hardware model: the scale bits stored and moved, the cost of applying
the scales, and the multiplier rule of their elements."""

import pytest

from archsim import SimError, load_hw
from archsim.energy import layer_energy_pj
from archsim.mapping import map_layer
from archsim.precision import layer_cost, operand_cost, scale_pj_per_mac, stored_bits


def test_storage_bits_per_value_include_the_block_scales():
    expect = {"mxfp4": 4 + 8 / 32, "nvfp4": 4 + 8 / 16, "mxdybit4": 4 + (8 + 2) / 32, "nvdybit4": 4 + (8 + 2) / 16,
              "mxdybit4c3": 4 + 8 / 32, "nvdybit3c2g32": 3 + 8 / 32, "int4g128": 4 + 16 / 128, "int8g32": 8.5,
              "uint4g128": 4 + (16 + 4) / 128}  # uint: a 4-bit zero point per group beside the FP16 scale
    assert {n: operand_cost(n).storage_bits for n in expect} == expect
    assert all(operand_cost(n).channel_bits == 0 for n in expect)  # block scales replace per-channel ones
    assert [operand_cost(n).tensor_bits for n in ("nvfp4", "nvdybit4", "mxdybit4", "int4g128")] == [32, 96, 0, 0]
    assert operand_cost("hifloat8").storage_bits == 8 and operand_cost("hifloat8").channel_bits == 32


def test_stored_bits_of_a_tensor_by_hand():
    values = 64 * 256
    assert stored_bits("nvfp4", 64, 256) == values * 4 + (values / 16) * 8 + 32
    assert stored_bits("int4g128", 4, 300) == 4 * (300 * 4 + 3 * 16)  # a partial group still stores its scale
    assert stored_bits("mxdybit4", 2, 64) == 2 * (64 * 4 + 2 * (8 + 2))
    assert stored_bits("int4", 64, 256) == values * 4 + 64 * 32  # per-channel float32 scales
    with pytest.raises(SimError, match="reduction: must be a positive integer, got 0"):
        stored_bits("nvfp4", 4, 0)


def test_a_layer_moves_its_block_scales_with_its_weights(graphs):
    hw = load_hw("default")
    layer = graphs("lenet5")["linear1"]  # 200 × 3136 weights, 3136 = 196 blocks of 16
    values = 200 * 3136
    m_nv = map_layer(layer, layer_cost(hw, "nvfp4", "int8"), hw)
    weight_bytes = (values * 4 + (values / 16) * 8) / 8
    # the tiling fetches the weights a whole number of times, each time with their scales (without them the
    # ratio would be a multiple of 4 / 4.5)
    loads = m_nv.dram_read["weight"] / weight_bytes
    assert loads >= 1 and loads == pytest.approx(round(loads), abs=1e-6)
    assert (stored_bits("nvfp4", 200, 3136) - 32) / 8 == weight_bytes  # the per-tensor FP32 is not in the traffic


def test_applying_block_scales_costs_energy_per_block(graphs):
    hw = load_hw("default")
    en = hw.energy
    assert scale_pj_per_mac(operand_cost("nvfp4"), en) == pytest.approx((4 * en.shift_add_pj + en.exponent_add_pj) / 16)
    assert scale_pj_per_mac(operand_cost("mxfp4"), en) == pytest.approx(en.exponent_add_pj / 32)
    assert scale_pj_per_mac(operand_cost("int4g128"), en) == pytest.approx((11 * en.shift_add_pj
                                                                            + en.exponent_add_pj) / 128)
    assert scale_pj_per_mac(operand_cost("int4"), en) == 0
    layer = graphs("lenet5")["conv2"]
    cost_nv, cost_fp4 = layer_cost(hw, "nvfp4", "nvfp4"), layer_cost(hw, "e2m1", "e2m1")
    m = map_layer(layer, cost_nv, hw)
    kw = dict(cycles=1000, dram_read_bytes=0, dram_write_bytes=0)
    mac_nv = layer_energy_pj(m, cost_nv, hw, **kw)["mac"]
    mac_fp4 = layer_energy_pj(m, cost_fp4, hw, **kw)["mac"]
    assert mac_nv - mac_fp4 == pytest.approx(m.macs * 2 * (4 * en.shift_add_pj + en.exponent_add_pj) / 16)


def test_block_formats_multiply_at_their_element_width():
    hw = load_hw("default")
    assert operand_cost("nvfp4").mult_bits == operand_cost("e2m1").mult_bits == 3
    assert operand_cost("mxdybit4c3").mult_bits == operand_cost("dybit4c3").mult_bits == 3
    assert operand_cost("nvdybit4").mult_bits == 4 and operand_cost("nvdybit4").decoder  # DyBit decoder, widest cap
    assert operand_cost("int4g128").mult_bits == 4 and not operand_cost("int4g128").decoder
    assert layer_cost(hw, "nvfp4", "nvfp4").fusion == layer_cost(hw, "int4", "int4").fusion == 4
    assert operand_cost("hifloat8").mult_bits == 5 and operand_cost("hifloat8").decoder
