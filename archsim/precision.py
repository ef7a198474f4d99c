"""The per-format cost rule: how wide a multiplier operand each number format needs (one place).

| format            | multiplier operand (signed bits)             | extra per MAC        | decoder |
|-------------------|----------------------------------------------|----------------------|---------|
| intN / uintN      | N                                            | —                    | no      |
| dybitNcK          | decoded significand + sign (``HardwareView``) | shift-add            | yes     |
| dybitN (adaptive) | widest candidate's significand (cap 1 = N)   | shift-add            | yes     |
| flintN            | as dybitN c(N−1) (same magnitudes)           | shift-add            | yes     |
| eXmY, mxfpN       | significand: Y + 1 (+ sign)                  | exponent add         | no      |
| adaptivfloatN     | significand: m + 1 (+ sign)                  | exponent add         | no      |
| positNesK         | widest fraction + hidden bit + sign          | exponent add         | yes     |
| potN              | 1-bit significand + sign: a pure shift       | shift-add            | no      |
| apotN             | two shifted terms: 2 + sign                  | shift-add            | no      |
| antN (adaptive)   | widest candidate (intN: N; flint, pot less)  | shift-add            | yes     |
| nfN               | the codebook is expanded to INT8 on chip     | —                    | yes     |
| mxint8            | 8                                            | —                    | no      |

On a Bit Fusion array an a×b multiply takes ⌈a/2⌉·⌈b/2⌉ 2-bit bricks of a 16-brick unit, so one unit does
⌊16 / bricks⌋ MACs per cycle (8b×8b: 1; 4b×4b: 4; 2b×2b: 16). On a fixed array every multiply takes one PE.
On a binary (EBS bit-plane) array an a×b multiply is a·b binary AND+popcount products (W = Σ 2^i B_i, likewise
for activations) and a unit has ``popcount_width`` lanes, so it does ⌊popcount_width / (a·b)⌋ MACs per cycle
(64 lanes: 8b×8b 1, 4b×4b 4, 3b×3b 7, 2b×2b 16); each bit-plane pair's partial sum is scaled by 2^(i+j)
and accumulated (``plane_scale_pj``).
Storage and traffic always use the format's stored bits (packed), with the block scales of MX formats
(8 bits per 32 elements: mxfp4 4.25, mxint8 8.25 bits per element). Weights of every other scaled format
carry one float32 scale per output channel (``CHANNEL_SCALE_BITS``, as ``quant``'s per-channel PTQ stores
it), plus the index of the chosen candidate for adaptive formats (dybitN: which cap; antN: which type) and
the zero point of affine ones (uintN); these bits travel and are stored with the channel's weights.
Activations have one scale per tensor, not counted. FP32/FP16/BF16 have no scale.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache

from archsim.errors import SimError


@dataclass(frozen=True)
class OperandCost:
    fmt: str
    storage_bits: float  # bits per element in memory (packed), block scales included
    mult_bits: int  # signed operand width entering the multiplier
    shift_add: bool  # DyBit/PoT-style shifted significands need a shift-add per MAC
    exponent_add: bool  # floating formats add exponents per MAC
    decoder: bool  # needs the DyBit/codebook decoder between buffer and array
    channel_bits: int = 0  # bits stored per output channel beside a weight tensor: scale (+ candidate index)


CHANNEL_SCALE_BITS = 32  # one float32 scale per output channel (quant.qmodel: weights per channel, axis 0)


@cache
def operand_cost(fmt: str) -> OperandCost:
    """Cost of one operand format (a name accepted by ``quant.formats.get_format``)."""
    from dataclasses import replace

    from quant import get_format

    c = _operand_cost(fmt)
    f = get_format(c.fmt)
    if c.fmt in ("fp32", "fp16", "bf16") or c.storage_bits != f.bits:  # no scale / MX block scales instead
        return c
    candidates = getattr(f, "candidates", None) or ()
    choice = math.ceil(math.log2(len(candidates))) if len(candidates) > 1 else 0
    zero_point = f.bits if f.affine else 0  # uintN: a zero point per channel at the code width
    return replace(c, channel_bits=CHANNEL_SCALE_BITS + choice + zero_point)


def _operand_cost(fmt: str) -> OperandCost:
    from quant import QuantError, get_format

    try:
        f = get_format(fmt)
    except QuantError as exc:
        raise SimError(f"format {fmt!r}: {exc}") from None
    name, bits = f.name, f.bits
    # MX formats store an 8-bit E8M0 scale per block beside the elements (OCP MX v1.0): mxfp4 is 4.25 bits
    storage = bits + (8 / f.default_block if getattr(f, "scale_rule", "") == "mx" else 0)
    if name in ("fp32", "fp16", "bf16"):
        return OperandCost(name, storage, bits, False, True, False)
    if m := re.fullmatch(r"dybit(\d)c(\d)", name):
        return OperandCost(name, storage, f.hardware.multiplier_bits, True, False, True)
    if name.startswith("dybit"):
        widest = max(c.hardware.multiplier_bits for c in f.candidates)
        return OperandCost(name, storage, widest, True, False, True)
    if name.startswith("flint"):
        same = get_format(f"dybit{bits}c{bits - 1}")  # the same magnitudes
        return OperandCost(name, storage, same.hardware.multiplier_bits, True, False, True)
    if m := re.fullmatch(r"e(\d)m(\d)", name):
        return OperandCost(name, storage, int(m.group(2)) + 2, False, True, False)
    if name in ("mxfp4", "mxfp6", "mxfp8"):
        mant = {"mxfp4": 1, "mxfp6": 3, "mxfp8": 3}[name]
        return OperandCost(name, storage, mant + 2, False, True, False)
    if name.startswith("adaptivfloat"):
        e = 2 if bits <= 5 else 3
        return OperandCost(name, storage, bits - 1 - e + 2, False, True, False)
    if m := re.fullmatch(r"posit(\d)es(\d)", name):
        frac = max(bits - 3 - int(m.group(2)), 0)
        return OperandCost(name, storage, frac + 2, False, True, True)
    if name.startswith("pot"):
        return OperandCost(name, storage, 2, True, False, False)
    if name.startswith("apot"):
        return OperandCost(name, storage, 3, True, False, False)
    if name.startswith("ant"):
        # ANT (Guo et al., MICRO 2022): a decoder turns int/flint/PoT codes into an exponent-integer pair that an
        # integer multiplier + shifter consumes, so the operand is as wide as the widest candidate needs
        widest = max(_operand_cost(c.name).mult_bits for c in f.candidates)
        return OperandCost(name, storage, widest, True, False, True)
    if name.startswith("nf"):
        return OperandCost(name, storage, 8, False, False, True)
    if name == "mxint8" or name.startswith(("int", "uint")):
        return OperandCost(name, storage, bits, False, False, False)  # uint: zero point handled off the multiplier
    raise SimError(f"format {name!r}: no cost rule")  # pragma: no cover - every registry family is listed


def bricks(a_bits: int, b_bits: int) -> int:
    """2-bit BitBricks an a×b-bit multiply occupies (Bit Fusion, ISCA 2018)."""
    return math.ceil(a_bits / 2) * math.ceil(b_bits / 2)


@dataclass(frozen=True)
class LayerCost:
    w: OperandCost
    a: OperandCost
    fusion: int  # MACs per unit per cycle
    bricks: int  # bricks per MAC (fusion arrays), 0 on fixed arrays


def layer_cost(hw, w_fmt: str, a_fmt: str, layer: str = "") -> LayerCost:
    w, a = operand_cost(w_fmt), operand_cost(a_fmt)
    where = f"layer {layer!r}: " if layer else ""
    arr = hw.array
    for role, c in (("weight", w), ("activation", a)):
        if c.mult_bits > arr.max_bits:
            raise SimError(f"{where}{role} format {c.fmt} needs {c.mult_bits}-bit multiplier operands; "
                           f"the {hw.name} array takes at most {arr.max_bits} bits (quantise the layer first)")
        if c.decoder and hw.decoder.count == 0:
            raise SimError(f"{where}{role} format {c.fmt} needs a decoder and {hw.name} has none (decoder.count=0)")
    if arr.kind == "fixed":
        return LayerCost(w, a, 1, 0)
    if arr.kind == "binary":  # EBS: b_w·b_a AND+popcount bit-plane products per MAC, popcount_width lanes/unit
        planes = w.mult_bits * a.mult_bits
        return LayerCost(w, a, max(1, arr.popcount_width // planes), planes)
    nb = bricks(w.mult_bits, a.mult_bits)
    return LayerCost(w, a, max(1, arr.bricks_per_unit // nb), nb)
