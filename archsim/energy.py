"""Energy and area: a pure function of the mapping, the layer's precision and the hardware constants.

Every constant comes from the hardware YAML, where its unit is in its name and its source in a comment
(Bit Fusion 45 nm synthesis, Horowitz ISSCC 2014, …).
  MAC:      fusion array — MACs × bricks a MAC occupies (power-of-two groups) × brick_pj_per_op;
            fixed array — MACs × fixed_pe_pj_per_mac;
            binary array — MACs × a·b × (binary_pj_per_bitop + plane_scale_pj / popcount_width);
            + a shift-add per MAC for shifted significands (DyBit, PoT) and an exponent add for floats;
            + each block-scaled operand's scale applied once per block partial sum (``precision.scale_pj_per_mac``).
  Register: bits through the registers under the array × register_pj_per_bit (the level below the SRAM
            buffers; what moves there is counted by the mapper, ``Mapping.register_bits``: partial-sum and
            input pipeline registers every unit-cycle, a systolic PE's weight register once per load).
  SRAM:     bits read × read_pj_per_bit + bits written × write_pj_per_bit, per buffer. Absent from the
            config: sram_pj_per_bit_8kib · sqrt(capacity / 8 KiB) for both (Horowitz: 8 KB 10 pJ/64 b,
            32 KB 20 pJ/64 b — energy per access grows with the square root of capacity).
  DRAM:     bits × energy_pj_per_bit.
  Decoder:  decoded values × energy_pj_per_value.
  Leakage:  area × leakage_mw_per_mm2 × time.
"""
from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

from archsim.precision import scale_pj_per_mac

if TYPE_CHECKING:  # the mapper scores its candidate tilings with movement_energy_pj
    from archsim.mapping import Mapping
    from archsim.precision import LayerCost

COMPONENTS = ("mac", "register", "weight_sram", "input_sram", "output_sram", "dram", "decoder", "leakage")
# ZigZag 3.9.1's tpu_like example (rf_2B): a 16-bit register file, 0.021 pJ per 16-bit access
REGISTER_PJ_PER_BIT_DEFAULT = 0.021 / 16


def sram_pj_per_bit(hw, which: str, access: str = "read") -> float:
    """pJ per bit of one read (``access="read"``) or write of buffer ``which``: the config's
    ``buffers.<which>.read_pj_per_bit`` / ``write_pj_per_bit``, or Horowitz's square-root scaling."""
    b = hw.buffers[which]
    given = b.read_pj_per_bit if access == "read" else b.write_pj_per_bit
    return given if given is not None else hw.energy.sram_pj_per_bit_8kib * math.sqrt(b.kib / 8.0)


def register_pj_per_bit(hw) -> float:
    given = hw.energy.register_pj_per_bit
    return REGISTER_PJ_PER_BIT_DEFAULT if given is None else given


def area_mm2(hw) -> dict:
    """Area per component in mm²."""
    a = hw.array
    unit = {"fusion": hw.area.fusion_unit_um2, "fixed": hw.area.fixed_pe_um2, "binary": hw.area.binary_unit_um2}[a.kind]
    out = {"array": a.rows * a.cols * unit / 1e6}
    for which in ("weight", "input", "output"):
        out[f"{which}_sram"] = hw.buffers[which].kib * 1024 * 8 * hw.area.sram_um2_per_bit / 1e6
    out["decoder"] = hw.decoder.count * hw.decoder.area_um2 / 1e6
    return out


@functools.lru_cache(maxsize=256)
def _movement_constants(hw) -> tuple:
    """Per-hardware constants of ``movement_energy_pj`` (the mapper calls it for every layer it maps)."""
    sram = tuple((which, sram_pj_per_bit(hw, which, "read"), sram_pj_per_bit(hw, which, "write"))
                 for which in ("weight", "input", "output"))
    leak_w = sum(area_mm2(hw).values()) * hw.energy.leakage_mw_per_mm2 * 1e-3
    return sram, hw.dram.energy_pj_per_bit, hw.decoder.energy_pj_per_value, leak_w, hw.clock_mhz * 1e6


def movement_energy_pj(hw, *, cycles, dram_bytes, sram_bits: dict, decode_values=0) -> dict:
    """The components of a layer's energy that its tiling decides (pJ): SRAM (reads and writes at their own
    costs), DRAM, decoder and leakage. Works element-wise on NumPy arrays, so the mapper scores every
    candidate tiling at once."""
    sram, dram_pj_per_bit, decoder_pj_per_value, leakage_w, clock_hz = _movement_constants(hw)
    e = {f"{which}_sram": sram_bits.get(f"{which}_rd", 0) * rd_pj + sram_bits.get(f"{which}_wr", 0) * wr_pj
         for which, rd_pj, wr_pj in sram}
    e["dram"] = dram_bytes * 8 * dram_pj_per_bit
    e["decoder"] = decode_values * decoder_pj_per_value
    e["leakage"] = leakage_w * (cycles / clock_hz) * 1e12
    return e


def layer_energy_pj(m: Mapping | None, cost: LayerCost | None, hw, *, cycles: float, dram_read_bytes: float,
                    dram_write_bytes: float, vector_ops: int = 0, vector_bits: int = 8,
                    sram_bits: dict | None = None) -> dict:
    """Energy breakdown (pJ) of one layer that took ``cycles``."""
    e = dict.fromkeys(COMPONENTS, 0.0)
    en = hw.energy
    if m is not None:
        if hw.array.kind == "fusion":
            e["mac"] = m.macs * cost.bricks * en.brick_pj_per_op
        elif hw.array.kind == "binary":  # bit-plane products + one scale-and-accumulate per plane pair per pass
            e["mac"] = m.macs * cost.bricks * (en.binary_pj_per_bitop + en.plane_scale_pj / hw.array.popcount_width)
        else:
            e["mac"] = m.macs * en.fixed_pe_pj_per_mac
        if cost.w.shift_add or cost.a.shift_add:
            e["mac"] += m.macs * en.shift_add_pj
        if cost.w.exponent_add or cost.a.exponent_add:
            e["mac"] += m.macs * en.exponent_add_pj
        e["mac"] += m.macs * (scale_pj_per_mac(cost.w, en) + scale_pj_per_mac(cost.a, en))  # block scales
        sram_bits = m.sram_bits
        e["register"] = m.register_bits * register_pj_per_bit(hw)
    elif vector_ops:  # pooling / element-wise: one add or compare per op in the post-processing unit
        e["mac"] = vector_ops * en.shift_add_pj
    e.update(movement_energy_pj(hw, cycles=cycles, dram_bytes=dram_read_bytes + dram_write_bytes,
                                sram_bits=sram_bits or {}, decode_values=m.decode_values if m is not None else 0))
    return e
