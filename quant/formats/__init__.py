"""Number formats by name: ``get_format("dybit4")``, ``get_format("e4m3")``, ``get_format("mxfp4")`` …

Names (n = bits, 2..8 unless noted):
  intN (symmetric, narrow range) · uintN (asymmetric/affine with a zero point) · eXmY minifloats with
  aliases fp4=e2m1, fp6=e2m3, fp8=e4m3 · positNesK · flintN (n ≥ 3) · potN · apotN (n ≥ 3) · nfN ·
  adaptivfloatN (n ≥ 3) · mxfp4 / mxfp6 / mxfp8 / mxint8 (OCP MX, block 32, E8M0 scales) ·
  antN (per-tensor choice among intN, flintN, potN; n ≥ 3) · dybitNcK (fixed cap K) · dybitN (adaptive cap)
  · dybitNcKeS (DyBit whose exponent run steps 2^S binades, S = 1, 2: a project extension) · dybitNeS (cap and
  step 0..S chosen per tensor, channel or block) · fp32 / fp16 / bf16 (not quantised at that width).
Block- and group-scaled (``quant.formats.blockscaled``; ``gG`` = G values per scale): nvfp4 (E2M1, E4M3 scale
  per 16, FP32 per tensor) · mxdybitN[cK][gG] (E8M0 scale per 32) · nvdybitN[cK][gG] (E4M3 per 16 + FP32 per
  tensor) · intNgG (symmetric INT, FP16 scale per G, e.g. int4g128) · uintNgG (+ an N-bit zero point per G).
hifloat8 (alias hif8): Huawei Ascend's tapered 8-bit float (arXiv 2409.16626), ties away from zero.
"""
from __future__ import annotations

import re
from functools import cache

from quant.errors import QuantError
from quant.formats import baselines as B
from quant.formats.adaptive import AdaptiveFormat, AdaptiveParams, PassThroughFormat
from quant.formats.base import NumberFormat
from quant.formats.blockscaled import BlockAdaptiveFormat, BlockScaledFormat
from quant.formats.dybit import DyBitFormat, HardwareView, WideDyBitFormat
from quant.formats.intfq import IntFormat, int_fake_quant

__all__ = ["get_format", "list_formats", "NumberFormat", "DyBitFormat", "AdaptiveFormat", "AdaptiveParams",
           "PassThroughFormat", "IntFormat", "HardwareView", "ALIASES", "int_fake_quant", "BlockScaledFormat",
           "BlockAdaptiveFormat"]

ALIASES = {"fp4": "e2m1", "fp6": "e2m3", "fp8": "e4m3", "int": "int8", "dybit": "dybit4", "hif8": "hifloat8"}
_MX = {"mxfp4": ("e2m1", 4), "mxfp6": ("e2m3", 6), "mxfp8": ("e4m3", 8), "mxint8": ("int8", 8)}


def _build(name: str):
    if name in ("fp32", "fp16", "bf16"):
        return PassThroughFormat(name, {"fp32": 32, "fp16": 16, "bf16": 16}[name])
    if name == "hifloat8":
        return NumberFormat(name, 8, B.hifloat8_values(), ties="away",
                            description="HiFloat8 (Ascend): tapered 8-bit float, prefix-coded exponent width")
    if name in _MX:
        elem_name, n = _MX[name]
        elem = get_format(elem_name)
        values = elem.code_values / (64.0 if elem_name == "int8" else 1.0)  # MXINT8: implicit 2^-6
        return NumberFormat(name, n, values, scale_rule="mx", granularity="block", block=32,
                            description=f"OCP MX v1.0 block format: {elem_name} elements, E8M0 scale per 32")
    block = _build_block(name)
    if block is not None:
        return block
    m = re.fullmatch(r"e(\d)m(\d)", name)
    if m:
        e, mm = int(m.group(1)), int(m.group(2))
        return NumberFormat(name, 1 + e + mm, B.minifloat_values(e, mm), description=f"minifloat E{e}M{mm}")
    m = re.fullmatch(r"posit(\d+)es(\d+)", name)
    if m:
        n, es = int(m.group(1)), int(m.group(2))
        return NumberFormat(name, _n(name, n), B.posit_values(n, es), description=f"posit({n}, es={es})")
    m = re.fullmatch(r"dybit(\d+)c(\d+)(?:e(\d+))?", name)
    if m:
        n, cap, es = _n(name, int(m.group(1))), int(m.group(2)), int(m.group(3) or 0)
        if m.group(3) is not None and es == 0:
            raise QuantError(f"{name}: exponent step e0 is plain DyBit; write dybit{n}c{cap}")
        return WideDyBitFormat(n, cap, es) if es else DyBitFormat(n, cap)
    m = re.fullmatch(r"dybit(\d+)e(\d+)", name)
    if m:
        n, es = _n(name, int(m.group(1))), int(m.group(2))
        return AdaptiveFormat(name, n, _wide_candidates(name, n, es), f"adaptive DyBit {n}-bit: cap and exponent "
                              f"step (2^0..2^{es} binades) chosen per tensor, channel or block")
    m = re.fullmatch(r"(int|uint|flint|pot|apot|nf|adaptivfloat|ant|dybit)(\d+)", name)
    if not m:
        return None
    kind, n = m.group(1), _n(name, int(m.group(2)))
    if kind == "dybit":
        DyBitFormat(n, 1)  # validates n
        return AdaptiveFormat(name, n, [get_format(f"dybit{n}c{c}") for c in range(1, n)],
                              f"adaptive DyBit {n}-bit: cap chosen per tensor, channel or block")
    if kind == "ant":
        if n < 3:
            raise QuantError(f"{name}: ANT needs at least 3 bits (flint is defined from 3 bits)")
        return AdaptiveFormat(name, n, [get_format(f"{k}{n}") for k in ("int", "flint", "pot")],
                              f"ANT {n}-bit: per-tensor choice among int, flint and PoT")
    builders = {"int": B.int_values, "uint": B.uint_values, "flint": B.flint_values, "pot": B.pot_values,
                "apot": B.apot_values, "nf": B.nf_values, "adaptivfloat": B.adaptivfloat_values}
    values = builders[kind](n)
    cls = IntFormat if kind in ("int", "uint") else NumberFormat
    return cls(name, n, values, affine=(kind == "uint"),
                        scale_rule="pow2" if kind == "adaptivfloat" else "float",
                        description={"int": "symmetric INT", "uint": "asymmetric (affine) INT"}.get(kind, kind))


def _wide_candidates(name: str, n: int, es: int, prefix: str = "", suffix: str = "") -> list:
    """dybitNcK with every cap and exponent step 0..es, each level table once (cap 1 step 2 is cap 2 step 1)."""
    if not 1 <= es <= 2:
        raise QuantError(f"{name}: exponent step es must be 1 or 2 (es 0 is plain dybit{n}), got {es}")
    out, seen = [], set()
    for s in range(es + 1):
        for c in range(1, n):
            f = get_format(f"{prefix}dybit{n}c{c}" + (f"e{s}" if s else "") + suffix)
            key = f.levels.tobytes()
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def _build_block(name: str):
    """The block- and group-scaled names (see ``quant.formats.blockscaled``), or None."""
    if name == "nvfp4":
        return BlockScaledFormat(name, get_format("e2m1"), "e4m3",
                                 description="NVIDIA NVFP4: E2M1 elements, E4M3 scale per 16, FP32 per tensor")
    m = re.fullmatch(r"(mx|nv)(dybit\d+)(c\d+)?(e\d+)?(?:g(\d+))?", name)
    if m:
        kind, base, cap, es, g = m.group(1), m.group(2), m.group(3), m.group(4) or "", m.group(5)
        scale, what = ("e8m0", "E8M0 (power-of-two)") if kind == "mx" else ("e4m3", "E4M3 + FP32 per tensor")
        block = None if g is None else int(g)
        if cap is None:
            n = _n(name, int(base[5:]))
            suffix = "" if g is None else f"g{g}"
            cands = (_wide_candidates(name, n, int(es[1:]), kind, suffix) if es else
                     [get_format(f"{kind}{base}c{c}{suffix}") for c in range(1, n)])
            return BlockAdaptiveFormat(name, n, cands, f"DyBit {n}-bit{es and ', step ' + es}, cap chosen per "
                                                        f"block, {what} block scales")
        elem = get_format(base + cap + es)
        return BlockScaledFormat(name, elem, scale, block,
                                 f"{elem.description}, {what} scale per {block or ('32' if kind == 'mx' else '16')}")
    m = re.fullmatch(r"(u?)int(\d+)g(\d+)", name)
    if m:
        elem = get_format(f"{m.group(1)}int{m.group(2)}")
        what = "asymmetric UINT{}, FP16 scale and zero point" if m.group(1) else "symmetric INT{}, FP16 scale"
        return BlockScaledFormat(name, elem, "fp16", int(m.group(3)),
                                 what.format(elem.bits) + f" per {m.group(3)} values")
    return None


def _n(name: str, n: int) -> int:
    if not 2 <= n <= 8:
        raise QuantError(f"{name}: bits must be in 2..8, got {n}")
    return n


@cache
def _cached(name: str):
    fmt = _build(name)
    if fmt is None:
        raise QuantError(f"unknown format {name!r}; known kinds: {', '.join(list_formats(kinds=True))}")
    return fmt


def get_format(name: str):
    """The format called ``name`` (case-insensitive; see the module docstring for the names)."""
    if not isinstance(name, str) or not name.strip():
        raise QuantError(f"format name must be a non-empty string, got {name!r}")
    key = name.strip().lower()
    return _cached(ALIASES.get(key, key))


def list_formats(bits: int | None = None, *, kinds: bool = False) -> list[str]:
    """Concrete format names (for ``bits`` if given), or the name patterns when ``kinds``."""
    if kinds:
        return ["intN", "uintN", "eXmY", "fp4", "fp6", "fp8", "positNesK", "flintN", "potN", "apotN", "nfN",
                "adaptivfloatN", "mxfp4", "mxfp6", "mxfp8", "mxint8", "antN", "dybitN", "dybitNcK",
                "dybitNeS", "dybitNcKeS", "nvfp4", "mxdybitN[cK][eS][gG]", "nvdybitN[cK][eS][gG]", "intNgG", "uintNgG",
                "hifloat8", "fp32", "fp16", "bf16"]
    if bits is not None and (isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 8):
        raise QuantError(f"bits: the quantised formats have 2..8 bits, got {bits!r} "
                         "(fp32, fp16 and bf16 are pass-through)")
    names = []
    for n in ([bits] if bits else range(2, 9)):
        names += [f"int{n}", f"uint{n}", f"pot{n}", f"nf{n}", f"dybit{n}"]
        names += [f"dybit{n}c{c}" for c in range(1, n)]
        if n >= 3:
            names += [f"flint{n}", f"apot{n}", f"adaptivfloat{n}", f"ant{n}"]
        names += [f"e{e}m{n - 1 - e}" for e in range(1, n)]
        names += [f"posit{n}es{es}" for es in range(0, 3)]
        names += [f"mxdybit{n}", f"nvdybit{n}", f"int{n}g128", f"uint{n}g128", f"dybit{n}e1", f"mxdybit{n}e1"]
        names += [f"dybit{n}c{c}e1" for c in range(1, n)]
    names += [k for k, (_, n) in _MX.items() if bits in (None, n)]
    names += ["nvfp4"] if bits in (None, 4) else []
    names += ["hifloat8"] if bits in (None, 8) else []
    return names
