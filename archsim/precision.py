"""The per-format cost rule: how wide a multiplier operand each number format needs (one place).

| format            | multiplier operand (signed bits)             | extra per MAC        | decoder |
|-------------------|----------------------------------------------|----------------------|---------|
| intN / uintN      | N                                            | —                    | no      |
| dybitNcK          | decoded significand + sign (``HardwareView``) | shift-add            | yes     |
| dybitN (adaptive) | widest candidate's significand (cap 1 = N)   | shift-add            | yes     |
| dybitNcKeS, NeS   | as dybitNcK, from its own fields (wider shift)| shift-add            | yes     |
| flintN            | as dybitN c(N−1) (same magnitudes)           | shift-add            | yes     |
| eXmY, mxfpN       | significand: Y + 1 (+ sign)                  | exponent add         | no      |
| adaptivfloatN     | significand: m + 1 (+ sign)                  | exponent add         | no      |
| positNesK         | widest fraction + hidden bit + sign          | exponent add         | yes     |
| potN              | 1-bit significand + sign: a pure shift       | shift-add            | no      |
| apotN             | two shifted terms: 2 + sign                  | shift-add            | no      |
| antN (adaptive)   | widest candidate (intN: N; flint, pot less)  | shift-add            | yes     |
| nfN               | the codebook is expanded to INT8 on chip     | —                    | yes     |
| mxint8            | 8                                            | —                    | no      |
| hifloat8          | widest mantissa (3) + hidden bit + sign = 5  | exponent add         | yes     |
| nvfp4             | as e2m1: 3                                   | exponent add + scale | no      |
| mx/nvdybitN[cK]   | as dybitN[cK] (the element's decoder)        | shift-add + scale    | yes     |
| intNgG, uintNgG   | N (uint: zero point off the multiplier)      | scale                | no      |

On a Bit Fusion array the P/2 × P/2 2-bit BitBricks of a unit (P = ``max_bits``: 4×4 = 16 for P = 8) fuse
only in power-of-two groups along each operand (ISCA 2018 §III; Bit Fusion's simulator:
``perf_factor = ⌊pmax/a⌋·⌊pmax/b⌋``): an a-bit operand occupies g(a) = ⌈a/2⌉ rounded up to a power of two
(at most P/2) brick columns, so one unit does ⌊(P/2)/g(a)⌋·⌊(P/2)/g(b)⌋ MACs per cycle and a MAC occupies
g(a)·g(b) bricks (its energy). At P = 8:

| a ╲ b  | 2  | 3–4 | 5–8 |
|--------|----|-----|-----|
| 2      | 16 | 8   | 4   |
| 3–4    | 8  | 4   | 2   |
| 5–8    | 4  | 2   | 1   |

(a 5- or 6-bit × 2-bit product: 4 MACs per unit per cycle, not ⌊16/3⌋ = 5; a 3-bit operand runs as a 4-bit
one). On a fixed array every multiply takes one PE.
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

Block- and group-scaled formats (``quant.formats.blockscaled``) store a scale per ``block`` values along the
reduction axis instead of the per-channel scale, and it travels with them: ``storage_bits`` = element bits +
scale bits / block (nvfp4: 4 + 8/16 = 4.5; mxdybit4: 4 + (8 + 2 cap bits)/32 = 4.3125; nvdybit4: 4 + 10/16;
int4g128: 4 + 16/128 = 4.125; uint4g128 adds a 4-bit zero point per group: 4 + 20/128). The FP32
per-tensor scale of the E4M3 formats (one per cap for nvdybitN) is ``tensor_bits``: ``stored_bits`` counts
it, the per-layer traffic model does not (≤ 96 bits a tensor).
Where the scale is applied: not in the decoder — dequantising an element by an E4M3 scale before the array
would widen the operand (E2M1 × E4M3 significands: 6 bits) and lose the 4-bit multiply rate. As the OCP MX v1.0
spec defines the dot product of two block-scaled vectors (Σ of element products, then × X_a·X_b) and
block-scaled tensor cores run it, the elements enter the multipliers at their own width (DyBit elements
through the DyBit decoder before the array, as ``dybitNcK``), and each block's partial sum is scaled once in
the accumulator. Cost, per block of MACs and per block-scaled operand (``scale_pj_per_mac``, derived from the
hardware file's own adder energies; no separate area is counted): E8M0 — one exponent add
(``exponent_add_pj``); E4M3 — a 4-bit-significand multiply of the partial sum (4 shift-adds, hidden bit
included) + an exponent add; FP16 — 11 shift-adds + an exponent add. nvfp4 on the default hardware:
(4·0.03 + 0.015)/16 = 0.0084 pJ per MAC (a 4×4 Bit Fusion MAC: 4 bricks). The FP32 tensor scales fold into
the output's requantisation scale, once per output value (not counted).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
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
    block: int = 0  # values per stored block scale (0: no block scales)
    block_scale: str = ""  # how the block scale is stored: e8m0 | e4m3 | fp16
    block_scale_bits: int = 0  # bits stored per block: the scale (+ the cap index of mxdybitN / nvdybitN)
    tensor_bits: int = 0  # per-tensor scale bits (FP32 of the E4M3 formats; one per cap for nvdybitN)


CHANNEL_SCALE_BITS = 32  # one float32 scale per output channel (quant.qmodel: weights per channel, axis 0)
SCALE_SIGNIFICAND_BITS = {"e4m3": 4, "fp16": 11}  # hidden bit included: shift-adds to multiply by such a scale


@cache
def operand_cost(fmt: str) -> OperandCost:
    """Cost of one operand format (a name accepted by ``quant.formats.get_format``)."""
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
    if hasattr(f, "scale_kind"):  # block- and group-scaled: the element's rule + the stored block scales
        return _block_cost(f)
    # MX formats store an 8-bit E8M0 scale per block beside the elements (OCP MX v1.0): mxfp4 is 4.25 bits
    mx = getattr(f, "scale_rule", "") == "mx"
    storage = bits + (8 / f.default_block if mx else 0)
    if mx:
        elem = _operand_cost({"mxfp4": "e2m1", "mxfp6": "e2m3", "mxfp8": "e4m3", "mxint8": "int8"}[name])
        return replace(elem, fmt=name, storage_bits=storage, block=f.default_block, block_scale="e8m0",
                       block_scale_bits=8)
    if name == "hifloat8":  # tapered: the widest mantissa is 3 bits (|E| ≤ 3); the dot field needs a decoder
        return OperandCost(name, storage, 3 + 2, False, True, True)
    if name in ("fp32", "fp16", "bf16"):
        return OperandCost(name, storage, bits, False, True, False)
    if m := re.fullmatch(r"dybit(\d)c(\d)(e\d)?", name):  # eS: the wider-step extension, its own widths
        return OperandCost(name, storage, f.hardware.multiplier_bits, True, False, True)
    if name.startswith("dybit"):
        widest = max(c.hardware.multiplier_bits for c in f.candidates)
        return OperandCost(name, storage, widest, True, False, True)
    if name.startswith("flint"):
        same = get_format(f"dybit{bits}c{bits - 1}")  # the same magnitudes
        return OperandCost(name, storage, same.hardware.multiplier_bits, True, False, True)
    if m := re.fullmatch(r"e(\d)m(\d)", name):
        return OperandCost(name, storage, int(m.group(2)) + 2, False, True, False)
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
    if name.startswith(("int", "uint")):
        return OperandCost(name, storage, bits, False, False, False)  # uint: zero point handled off the multiplier
    raise SimError(f"format {name!r}: no cost rule")  # pragma: no cover - every registry family is listed


def _block_cost(f) -> OperandCost:
    """nvfp4, mx/nvdybitN[cK], intNgG: the element's multiplier rule (adaptive: the widest candidate), storage
    with the block scales."""
    elems = [c.element for c in f.candidates] if hasattr(f, "candidates") else [f.element]
    costs = [_operand_cost(e.name) for e in elems]
    kind = f.scale_kind
    return OperandCost(f.name, f.bits + f.scale_bits / f.default_block, max(c.mult_bits for c in costs),
                       any(c.shift_add for c in costs), any(c.exponent_add for c in costs),
                       any(c.decoder for c in costs), block=f.default_block, block_scale=kind.name,
                       block_scale_bits=f.scale_bits, tensor_bits=f.tensor_scale_bits)


def stored_bits(fmt: str, rows: int, reduction: int) -> float:
    """Bits a weight tensor of ``rows`` output channels × ``reduction`` values takes in memory (and moves once):
    the packed elements, the block scales (one per ``block`` values of each row, a partial block included), the
    per-tensor scale, or the per-channel scales of the other scaled formats."""
    for name, v in (("rows", rows), ("reduction", reduction)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise SimError(f"{name}: must be a positive integer, got {v!r}")
    c = operand_cost(fmt)
    from quant import get_format

    bits = get_format(c.fmt).bits
    if c.block:
        return rows * (reduction * bits + math.ceil(reduction / c.block) * c.block_scale_bits) + c.tensor_bits
    return rows * (reduction * c.storage_bits + c.channel_bits)


def scale_pj_per_mac(cost: OperandCost, en) -> float:
    """Energy per MAC (pJ) of applying ``cost``'s block scales to each block's partial sum (see the module
    docstring); 0 for formats without block scales."""
    if not cost.block:
        return 0.0
    shift_adds = SCALE_SIGNIFICAND_BITS.get(cost.block_scale, 0)
    return (shift_adds * en.shift_add_pj + en.exponent_add_pj) / cost.block


def bricks(a_bits: int, b_bits: int) -> int:
    """2-bit BitBricks an a×b-bit multiply needs before fusion groups are rounded (Bit Fusion, ISCA 2018)."""
    return math.ceil(a_bits / 2) * math.ceil(b_bits / 2)


def fused_columns(bits: int, max_bits: int) -> int:
    """Brick columns an operand of ``bits`` occupies in a unit of ``max_bits``-bit operands: ⌈bits/2⌉ rounded
    up to a power of two, at most max_bits/2 (bricks fuse in power-of-two groups)."""
    need = math.ceil(bits / 2)
    return min(1 << (need - 1).bit_length(), max_bits // 2)


def fusion_macs_per_cycle(a_bits: int, b_bits: int, max_bits: int) -> tuple[int, int]:
    """(MACs per fusion unit per cycle, bricks each MAC occupies) for an a×b multiply: the table above."""
    half = max_bits // 2
    ga, gb = fused_columns(a_bits, max_bits), fused_columns(b_bits, max_bits)
    return max(1, (half // ga) * (half // gb)), ga * gb


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
    f, nb = fusion_macs_per_cycle(w.mult_bits, a.mult_bits, arr.max_bits)
    return LayerCost(w, a, f, nb)
