"""Block- and group-scaled formats: an element grid plus one stored scale per ``G`` values, and for the
NVFP4-style formats an FP32 scale per tensor.

Names (``G`` = values sharing one scale, along the dot product's reduction axis; ``gG`` overrides the default):

  ``nvfp4``                    NVIDIA NVFP4: E2M1 elements, an E4M3 scale per 16 values, an FP32 per-tensor scale
  ``mxdybitNcK[eS][gG]``       DyBit(N, cap K[, exponent step 2^S]) elements, an E8M0 (power-of-two) scale per
                               32 values, as OCP MX
  ``mxdybitN[eS][gG]``         the same with the cap (and step 0..S) chosen per block: ⌈log2(grids)⌉ bits a block
  ``nvdybitNcK[eS][gG]``       DyBit elements, an E4M3 scale per 16 values + an FP32 per tensor, as NVFP4
  ``nvdybitN[eS][gG]``         the same with the cap (and step) chosen per block
  ``intNgG``                   symmetric INT (narrow range, no zero point), an FP16 scale per G values: W4A16's
                               group quantisation (``int4g128``), scale = FP16(group max / (2^(N−1) − 1))
  ``uintNgG``                  asymmetric INT: an FP16 scale and an N-bit zero point per G values (the GPTQ/AWQ
                               storage), scale = FP16((max − min) / (2^N − 1)) over [min(x, 0), max(x, 0)],
                               zero point = clip(rint(−min / scale), 0, 2^N − 1)

Scale rules (each block's scale is a function of the tensor itself, at run time, as OCP MX's):

* E4M3 + FP32 (NVIDIA's NVFP4 recipe, Transformer Engine docs "NVFP4"): s_enc = 448·Q / amax(tensor) in FP32
  (Q = the element's largest level: 6 for E2M1), each block's scale code = E4M3(amax(block)/Q · s_enc) rounded to
  nearest-even and saturated at 448, the block's decode scale float32(E4M3 value / s_enc); an element is the
  nearest grid level to float32(x / decode scale). (TE multiplies x by the reciprocal s_enc / E4M3 value; a
  product and a quotient can differ in the last bit, so a rare tie may round the other way there.) An all-zero
  tensor has s_enc = 1. A block whose E4M3 scale underflows to 0 decodes to 0 (its codes are 0).
* E8M0 for DyBit elements: the smallest power of two at which the block's maximum does not saturate, or half
  of it (the top value then saturates, as OCP MX's floor rule does for FP4), whichever gives the smaller
  squared error; the encoder tries both. Scales are clipped to 2^−126…2^127.
* FP16 for INT groups: FP16(amax / qmax), round to nearest even, clipped to the FP16 range (an underflowing
  scale becomes the smallest FP16 subnormal, 2^−24). ``intNgG`` has no zero point (symmetric, the narrow INT
  range); ``uintNgG`` stores one per group at the element width.

The stored scale codes (E4M3 / E8M0 / FP16 bit patterns) and the FP32 tensor scale of a tensor come with its
``QParams`` (``qp.extra``), so ``encode_blocks`` gives exactly what the hardware stores.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from quant._arrays import to_numpy
from quant.errors import QuantError
from quant.formats.adaptive import AdaptiveFormat
from quant.formats.base import NumberFormat
from quant.scaling import Layout, QParams

E4M3_MAX = 448.0  # OCP FP8 E4M3 ("fn") largest finite value
FP16_MAX = 65504.0
FP16_MIN_SUBNORMAL = 2.0**-24
_TINY = float(np.finfo(np.float32).tiny)
_FMAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class ScaleKind:
    """How a block's scale is stored: the format name, bits per block and bits per tensor."""

    name: str  # "e8m0" | "e4m3" | "fp16"
    block_bits: int
    tensor_bits: int  # per-tensor scale bits (FP32 for the E4M3 two-level scheme)
    default_block: int


SCALES = {"e8m0": ScaleKind("e8m0", 8, 0, 32), "e4m3": ScaleKind("e4m3", 8, 32, 16),
          "fp16": ScaleKind("fp16", 16, 0, 128)}


@dataclass
class BlockEncoded:
    """What the hardware stores for one tensor: element codes, block-scale codes, the FP32 tensor scale."""

    codes: np.ndarray  # uint8, the tensor's shape
    scale_codes: np.ndarray  # uint8 (E4M3 / E8M0) or uint16 (FP16) bit patterns, compact block shape
    tensor_scale: float | None  # s_enc (FP32) of the E4M3 scheme, else None
    qparams: QParams  # the decode scales (what the codec divides by)


class BlockScaledFormat(NumberFormat):
    """``element``'s grid with a stored scale per ``block`` values (see the module docstring)."""

    family = "block"

    def __init__(self, name: str, element: NumberFormat, scale: str, block: int | None = None,
                 description: str = ""):
        kind = SCALES[scale]
        block = kind.default_block if block is None else block
        check_block(name, block)
        super().__init__(name, element.bits, element.code_values, affine=element.affine, scale_rule="mx",
                         granularity="block", block=block, description=description)
        self.element, self.scale_kind = element, kind

    @property
    def hardware(self):
        """The element's hardware view (DyBit elements: significand width and shift)."""
        return self.element.hardware

    @property
    def scale_bits(self) -> int:
        """Bits stored per block: the scale (+ the zero point of affine elements, at their width)."""
        return self.scale_kind.block_bits + (self.bits if self.affine else 0)

    @property
    def tensor_scale_bits(self) -> int:
        return self.scale_kind.tensor_bits

    # the element's own (fast, exact) kernels
    def _kernel(self, op, x2d, s2d, z2d, block, out) -> int:
        return self.element._kernel(op, x2d, s2d, z2d, block, out)

    def _decode_kernel(self, c2d, s2d, z2d, block, out) -> bool:
        return self.element._decode_kernel(c2d, s2d, z2d, block, out)

    # ------------------------------------------------------------------ scales
    def block_qparams(self, g: np.ndarray, lay: Layout) -> QParams:
        """The format's own scales for the (groups × block) view ``g`` of a tensor laid out as ``lay``
        (``choose_qparams(fmt, x, "mx")`` ends here)."""
        amax = np.abs(g).max(axis=1).astype(np.float32) if g.size else np.zeros(g.shape[0], np.float32)
        tensor_scale = zp = None
        if self.affine:
            return self._affine_qparams(g, lay)
        if self.scale_kind.name == "e4m3":
            scale, codes, tensor_scale = e4m3_block_scales(amax, self.max_level)
        elif self.scale_kind.name == "e8m0":
            scale = self._e8m0_scales(g, amax)
            codes = (np.log2(scale).astype(np.int32) + 127).astype(np.uint8)
        else:
            scale = fp16_block_scales(amax, self.max_level)
            codes = scale.astype(np.float16).view(np.uint16)
        qp = QParams(lay.groups_to_scale(scale), lay, zero_point=zp, method="mx")
        qp.extra.update(scale_codes=lay.groups_to_scale(codes).astype(codes.dtype), tensor_scale=tensor_scale,
                        scale_format=self.scale_kind.name)
        return qp

    def _affine_qparams(self, g: np.ndarray, lay: Layout) -> QParams:
        """uintNgG: FP16 scale over [min(x, 0), max(x, 0)] and an integer zero point per group."""
        qmax = float(self.levels.max())
        lo = np.minimum(g.min(axis=1), 0).astype(np.float32) if g.size else np.zeros(g.shape[0], np.float32)
        hi = np.maximum(g.max(axis=1), 0).astype(np.float32) if g.size else np.zeros(g.shape[0], np.float32)
        scale = fp16_block_scales((hi.astype(np.float64) - lo).astype(np.float32), qmax)
        zp = np.clip(np.rint(-lo / scale), 0, qmax).astype(np.float32)
        qp = QParams(lay.groups_to_scale(scale), lay, zero_point=lay.groups_to_scale(zp), method="mx")
        qp.extra.update(scale_codes=lay.groups_to_scale(scale).astype(np.float16).view(np.uint16), tensor_scale=None,
                        scale_format="fp16", zero_point_codes=lay.groups_to_scale(zp).astype(np.uint8))
        return qp

    def _e8m0_scales(self, g: np.ndarray, amax: np.ndarray) -> np.ndarray:
        from quant.choose import group_sse  # quant.choose imports quant.formats

        hi, lo = self._e8m0_options(amax)
        better_lo = group_sse(self, g, lo) < group_sse(self, g, hi)
        return np.where(better_lo, lo, hi).astype(np.float32)

    def _e8m0_options(self, amax: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The two E8M0 scales the encoder tries per block: the smallest power of two that does not saturate
        the block's maximum, and half of it (ties go to the first)."""
        with np.errstate(divide="ignore"):
            e = np.ceil(np.log2(amax.astype(np.float64) / self.max_level))
        e = np.clip(np.where(amax > 0, e, 0), -125, 127)
        return np.exp2(e).astype(np.float32), np.exp2(e - 1).astype(np.float32)

    def scale_options(self, g: np.ndarray, lay: Layout, amax: np.ndarray) -> list[np.ndarray]:
        """The per-block scales (G,) the rule chooses among by squared error, first wins ties: two for
        E8M0, one otherwise (``quantize_dynamic``'s one-pass path; affine formats have none). ``amax``:
        each block's largest magnitude."""
        if self.scale_kind.name == "e8m0":
            return list(self._e8m0_options(amax))
        return [lay.scale_to_2d(self.block_qparams(g, lay).scale).reshape(-1)]

    def encode_blocks(self, x, *, axis: int = -1) -> BlockEncoded:
        """Element codes, block-scale codes and tensor scale of ``x`` with blocks along ``axis``."""
        from quant.choose import choose_qparams

        xa = to_numpy(x)
        qp = choose_qparams(self, xa, "mx", granularity="block", axis=axis)
        return BlockEncoded(self.encode(xa, qp), qp.extra["scale_codes"], qp.extra["tensor_scale"], qp)

    def decode_blocks(self, enc: BlockEncoded) -> np.ndarray:
        """Values from the stored codes alone: the scale codes and the tensor scale, not ``enc.qparams``."""
        lay = enc.qparams.layout
        sc = np.asarray(enc.scale_codes)
        if self.scale_kind.name == "e4m3":
            from quant.formats import get_format

            val = get_format("e4m3").decode(sc.astype(np.uint8), 1.0)
            scale = np.where(val > 0, (val / np.float32(enc.tensor_scale)).astype(np.float32), np.float32(_FMAX))
        elif self.scale_kind.name == "e8m0":
            scale = np.exp2(sc.astype(np.float64) - 127).astype(np.float32)
        else:
            scale = sc.astype(np.uint16).view(np.float16).astype(np.float32)
        zp = enc.qparams.extra.get("zero_point_codes")
        return self.decode(enc.codes, QParams(scale, lay, zero_point=None if zp is None else zp.astype(np.float32)))


def check_block(name: str, block) -> None:
    if not isinstance(block, (int, np.integer)) or not 2 <= block <= 65536:
        raise QuantError(f"{name}: values per scale (gG) must be an integer in 2..65536, got {block!r}")


def e4m3_block_scales(amax: np.ndarray, qmax: float):
    """NVFP4's two-level scales for per-block maxima ``amax``: (decode scale per block, E4M3 code per block,
    s_enc). A block whose E4M3 scale is 0 gets decode scale float32 max: its values all round to code 0."""
    from quant.formats import get_format

    e4m3 = get_format("e4m3")
    amax_t = float(amax.max()) if amax.size else 0.0
    s_enc = np.float32(E4M3_MAX * qmax / amax_t) if amax_t > 0 else np.float32(1.0)
    s_enc = np.float32(min(float(s_enc), _FMAX))
    sb = (amax / np.float32(qmax)).astype(np.float32) * s_enc  # float32 products, as the kernels compute them
    codes = e4m3.encode(np.minimum(sb, np.float32(E4M3_MAX)), 1.0)  # RNE, satfinite
    val = e4m3.decode(codes, 1.0)
    with np.errstate(over="ignore"):
        dec = (val / s_enc).astype(np.float32)
    scale = np.where((val > 0) & np.isfinite(dec) & (dec > 0), np.maximum(dec, np.float32(_TINY)), np.float32(_FMAX))
    return scale.astype(np.float32), codes, float(s_enc)


def fp16_block_scales(amax: np.ndarray, qmax: float) -> np.ndarray:
    with np.errstate(over="ignore"):
        s = (amax / np.float32(qmax)).astype(np.float32)
    s16 = np.clip(s, FP16_MIN_SUBNORMAL, FP16_MAX).astype(np.float16).astype(np.float32)
    return np.where(amax > 0, s16, np.float32(1.0)).astype(np.float32)


def choice_bits(n_candidates: int) -> int:
    """Bits that name one of ``n_candidates`` grids per block."""
    return math.ceil(math.log2(n_candidates)) if n_candidates > 1 else 0


class BlockAdaptiveFormat(AdaptiveFormat):
    """``mxdybitN`` / ``nvdybitN``: per block, the DyBit cap (and that cap's scale) with the least squared error.

    The blocks carry the scale code plus ⌈log2(caps)⌉ bits naming the cap; the E4M3 scheme keeps one FP32 tensor
    scale per cap. ``fit`` is always per block, by the candidates' own scale rule."""

    scale_rule = "mx"
    default_granularity = "block"

    def __init__(self, name: str, bits: int, candidates, description: str = ""):
        super().__init__(name, bits, candidates, description)
        kind = self.candidates[0].scale_kind
        self.default_block, self.scale_kind = self.candidates[0].default_block, kind
        self.scale_bits = kind.block_bits + choice_bits(len(self.candidates))
        self.tensor_scale_bits = kind.tensor_bits * len(self.candidates)

    def fit(self, x, *, granularity="block", axis=None, block=None, method="mx", percentile=99.9, pow2=False):
        if granularity != "block" or method != "mx":
            raise QuantError(f"{self.name}: a block-scaled format takes its scales from its own rule "
                             f"(granularity='block', method='mx'), got granularity={granularity!r}, method={method!r}")
        return super().fit(x, granularity="block", axis=axis, block=block, method="mx")

    def quantize(self, x, params=None, *, granularity="block", axis=None, block=None, method="mx", pow2=False):
        params = params or self.fit(x, granularity=granularity, axis=axis, block=block, method=method)
        return super().quantize(x, params)


def quantize_dynamic(fmt, x: np.ndarray, axis: int):
    """Block-scale rule and quantisation of ``x`` (blocks along ``axis``) in one pass: each candidate scale
    (and, for ``mxdybitN``/``nvdybitN``, each cap's grid) quantises the blocks once and the block keeps the
    result with the least squared error — the same values, scales and choices as ``choose_qparams(fmt, x,
    "mx", granularity="block")`` followed by ``fmt.quantize`` (tested), which quantise every candidate twice.
    Returns (quantised x, QParams or AdaptiveParams); None for affine formats (no such shortcut)."""
    from quant.choose import mx_scale, quantize_groups
    from quant.formats import _kernels as K
    from quant.formats.adaptive import AdaptiveParams

    adaptive = fmt.family == "adaptive"
    cands = fmt.candidates if adaptive else (fmt,)
    if any(getattr(c, "affine", False) for c in cands) or x.size == 0:
        return None
    xa = np.ascontiguousarray(x, np.float32)
    lay = Layout(tuple(xa.shape), "block", axis, cands[0].default_block)
    g = lay.groups(xa)
    amax = np.empty(g.shape[0], np.float32)
    K.row_abs_max(g, amax)
    best_err = np.full(g.shape[0], np.inf)
    best_q = np.empty_like(g)
    best_s = np.ones(g.shape[0], np.float32)
    choice = np.zeros(g.shape[0], np.int64)
    err = np.empty(g.shape[0], np.float64)
    for i, c in enumerate(cands):
        if hasattr(c, "scale_options"):
            opts = c.scale_options(g, lay, amax)
        else:  # OCP MX (mxfp4, mxint8): one scale per block by rule
            opts = [mx_scale(c, amax)]
        if len(opts) == 1 and len(cands) == 1:
            best_q, best_s = quantize_groups(c, g, opts[0]), opts[0]
            break
        for s in opts:
            q = quantize_groups(c, g, s)
            K.row_sq_err(q, g, err)
            took = K.keep_better_rows(err, best_err, q, best_q)
            best_s = np.where(took, s, best_s)
            choice = np.where(took, i, choice)
    if not np.isfinite(best_q).all():  # NaN/Inf in x: the ordinary path says so in one line
        return None
    d = xa.shape[lay.axis]  # blocks run along the last axis of lay.to_2d's (size / d × d) view
    q2d = best_q.reshape(xa.size // d, -1)
    q2d = np.ascontiguousarray(q2d[:, :d]) if q2d.shape[1] != d else q2d
    out = lay.from_2d(q2d)  # the same strides as ``fmt.quantize``'s result: torch picks its conv kernel by them
    if adaptive:  # AdaptiveFormat.quantize writes each candidate's values into one C-ordered array
        out = np.ascontiguousarray(out)
    qp = QParams(lay.groups_to_scale(best_s), lay, method="mx")
    if adaptive:
        return out, AdaptiveParams(lay.groups_to_scale(choice).astype(np.int64), qp, tuple(c.name for c in cands))
    return out, qp
