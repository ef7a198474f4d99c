"""HiFloat8: the code table by hand and against en_dtypes (an independent implementation), rounding ties away."""
import en_dtypes
import numpy as np
import pytest

from quant import get_format
from quant.formats.reference import slow_nearest_code

HIF8_OVERFLOW = 1.25 * 2**15  # en_dtypes rounds |x| ≥ 40960 to its Inf code; the codec saturates at 2^15


@pytest.mark.parametrize("code, value", [
    (0x00, 0.0), (0x08, 1.0), (0x09, 1.125), (0x0F, 1.875),  # dot 0001: E = 0, 3 mantissa bits
    (0x10, 2.0), (0x18, 0.5), (0x1F, 0.9375),  # dot 001: E = ±1
    (0x20, 4.0), (0x28, 8.0), (0x30, 0.25), (0x38, 0.125),  # dot 01: E = ±2, ±3
    (0x40, 16.0), (0x41, 20.0), (0x4C, 128.0), (0x50, 2**-4),  # dot 10: E = ±4..7, 2 mantissa bits
    (0x60, 256.0), (0x61, 384.0), (0x6E, 32768.0), (0x7E, 2**-15), (0x7F, 1.5 * 2**-15),  # dot 11: ±8..15
    (0x01, 2**-22), (0x07, 2**-16),  # denormal 0000 MMM: 2^(M − 23)
    (0x88, -1.0), (0xEE, -32768.0), (0x81, -(2**-22)),
])
def test_hand_computed_code_points(code, value):
    assert get_format("hif8").code_values[code] == value


def test_special_codes_and_every_code_against_en_dtypes():
    f = get_format("hifloat8")
    ref = np.arange(256, dtype=np.uint8).view(en_dtypes.hifloat8).astype(np.float64)
    assert sorted(np.flatnonzero(~np.isfinite(ref)).tolist()) == [0x6F, 0x80, 0xEF]  # ±Inf, NaN
    assert np.array_equal(np.isnan(f.code_values), ~np.isfinite(ref))  # Inf is no level here
    assert np.array_equal(f.code_values[np.isfinite(ref)], ref[np.isfinite(ref)])
    assert len(f.levels) == 253 and f.max_level == 2**15  # 256 − NaN − ±Inf codes; one zero


def test_random_midpoints_and_tiny_values_bit_exact_against_en_dtypes(rng):
    f = get_format("hifloat8")
    lv = f.levels.astype(np.float64)
    mids = ((lv[1:] + lv[:-1]) / 2).astype(np.float32)
    x = (rng.standard_normal(50000) * np.exp2(rng.uniform(-26, 16, 50000))).astype(np.float32)
    x = np.concatenate([x, mids, np.nextafter(mids, np.float32(np.inf)), np.nextafter(mids, np.float32(-np.inf)),
                        [2**-23, -(2**-23), 2**-24, 1e-30, 0.0]]).astype(np.float32)
    x = x[np.abs(x) < HIF8_OVERFLOW]
    ref = x.astype(en_dtypes.hifloat8)
    assert np.array_equal(f.encode(x, 1.0), ref.view(np.uint8))
    assert np.array_equal(f.quantize(x, 1.0), ref.astype(np.float32))
    assert f.quantize(np.float32(1.0625), 1.0) == 1.125  # a tie goes away from zero, not to the even code


def test_saturates_where_en_dtypes_overflows_and_fast_path_matches_the_slow_oracle(rng):
    f = get_format("hifloat8")
    big = np.array([40960.0, -1e6, 3e38], np.float32)
    assert f.quantize(big, 1.0).tolist() == [32768.0, -32768.0, 32768.0]
    x = np.concatenate([(f.levels[1:] + f.levels[:-1]) / 2, rng.standard_normal(200) * 100]).astype(np.float32)
    assert f.encode(x, 1.0).tolist() == [slow_nearest_code(v, f.levels, f.level_codes, "away") for v in x]
