from fractions import Fraction

import numpy as np
import pytest

from quant import QuantError, get_format
from quant.formats.dybit import DyBitFormat


def mags(name):
    f = get_format(name)
    return [Fraction(float(v)) for v in f.code_values[: 1 << (f.bits - 1)]]


@pytest.mark.parametrize("name, expected", [
    ("dybit4c1", "0 1/4 1/2 3/4 1 5/4 3/2 7/4"),
    ("dybit4c2", "0 1/4 1/2 3/4 1 3/2 2 3"),
    ("dybit4c3", "0 1/4 1/2 3/4 1 3/2 2 4"),
    ("dybit5c3", "0 1/8 1/4 3/8 1/2 5/8 3/4 7/8 1 5/4 3/2 7/4 2 3 4 6"),
])
def test_spec_vectors_in_code_order(name, expected):
    assert mags(name) == [Fraction(t) for t in expected.split()]


def test_spec_extremes():
    f7, f4 = get_format("dybit8c7"), get_format("dybit8c4")
    assert f7.max_level == 64 and min(v for v in f7.levels if v > 0) == 1 / 64
    assert f4.max_level == 15


def test_negative_codes_mirror_and_minus_zero_decodes_to_zero():
    for n in range(2, 9):
        for cap in range(1, n):
            f = DyBitFormat(n, cap)
            L = n - 1
            half = 1 << L
            assert np.array_equal(f.code_values[half:], -f.code_values[:half])
            assert f.decode(np.array([half], np.uint8), 1.0)[0] == 0.0
            assert f.encode(np.array([-0.0, -1e-30], np.float32), 1.0).tolist() == [0, 0]  # never -0


def test_cap_full_equals_posit_es0_and_flint():
    for n in range(3, 9):
        d = get_format(f"dybit{n}c{n - 1}").levels
        assert np.array_equal(d, get_format(f"posit{n}es0").levels)
        assert np.array_equal(d, get_format(f"flint{n}").levels)


def test_cap1_is_uniform_and_4bit_cap2_is_e2m1_up_to_scale():
    for n in range(2, 9):
        lv = get_format(f"dybit{n}c1").levels
        assert np.allclose(np.diff(lv), lv[1] - lv[0])
    assert np.array_equal(get_format("dybit4c2").levels * 2, get_format("e2m1").levels)


@pytest.mark.parametrize("axis, block", [(-1, 16), (0, 3)])
def test_adaptive_picks_cap_per_block(axis, block, rng):
    f = get_format("dybit4")
    w = rng.standard_normal((6, 70)).astype(np.float32)
    w[:, 40:] = rng.standard_t(1.5, (6, 30))  # heavy-tailed columns: a higher cap should win there
    params = f.fit(w, granularity="block", block=block, axis=axis)
    lay = params.qparams.layout
    assert params.choice.shape == lay.scale_shape and lay.block == block
    assert len(set(params.chosen_names().reshape(-1))) > 1
    q = f.quantize(w, params)
    # every element is its chosen cap's quantisation with the shared block scales, the choice per block
    # is never worse than another cap's own MSE block scale, and encode/decode agree with quantize
    pick = lay.expand(params.choice)
    for i, cand in enumerate(f.candidates):
        assert np.array_equal(q[pick == i], cand.quantize(w, params.qparams)[pick == i])
        fixed = cand.quantize(w, method="mse", granularity="block", block=block, axis=axis)
        assert np.all(lay.groups((q - w) ** 2).sum(1) <= lay.groups((fixed - w) ** 2).sum(1) * (1 + 1e-6))
    assert np.array_equal(f.decode(f.encode(w, params), params), q)
    with pytest.raises(QuantError, match="block: 8 given with granularity 'channel'"):
        f.fit(w, granularity="channel", block=8)
    with pytest.raises(QuantError, match=r"fit on shape \(6, 70\), got \(6, 71\)"):
        f.quantize(np.ones((6, 71), np.float32), params)
    # a per-tensor choice still applies to any shape
    whole = f.fit(w)
    assert f.quantize(w[:2, :5], whole).shape == (2, 5)


@pytest.mark.parametrize("n", range(2, 9))
def test_every_code_round_trips(n):
    for cap in range(1, n):
        f = DyBitFormat(n, cap)
        codes = np.array([c for c in range(1 << n) if c != 1 << (n - 1)], np.uint8)
        for scale in (1.0, 0.037, 3.5e3):
            back = f.encode(f.decode(codes, scale), scale)
            assert np.array_equal(back, codes), (f.name, scale)


def adversarial(levels):
    lv = levels.astype(np.float64)
    mids = (lv[1:] + lv[:-1]) / 2
    nxt = np.nextafter(mids.astype(np.float32), np.float32(np.inf))
    prv = np.nextafter(mids.astype(np.float32), np.float32(-np.inf))
    big = np.array([lv.max() * 1.5, lv.max() * 1e6, 3e38, -3e38, 1e-40, -1e-40, 1e-30, 0.0, -0.0])
    return np.concatenate([lv, mids, nxt, prv, big]).astype(np.float32)


@pytest.mark.parametrize("n", range(2, 9))
def test_fast_kernel_matches_exact_reference(n, rng):
    for cap in range(1, n):
        f = DyBitFormat(n, cap)
        x = np.concatenate([adversarial(f.levels), rng.standard_normal(5000).astype(np.float32) * f.max_level,
                            rng.standard_t(2, 5000).astype(np.float32)])
        for scale in (1.0, 0.0371, 7.0):
            with np.errstate(over="ignore"):
                v = (x.astype(np.float32) / np.float32(scale)).astype(np.float32)
            ok = np.isfinite(v)
            ref = f.reference_encode(v[ok])
            assert np.array_equal(f.encode(x[ok], scale), ref), (f.name, scale)
            q = f.quantize(x[ok], scale)
            assert np.array_equal(q, f.decode(ref, scale)), (f.name, scale)
            # a finite x whose x/scale overflows float32 saturates; it is not an error
            assert np.array_equal(f.encode(x[~ok], scale), f.reference_encode(v[~ok]))


def test_ties_go_to_even_code():
    f = get_format("dybit4c2")
    # 1.25 lies between 1 (code 4) and 1.5 (code 5); 2.5 between 2 (6) and 3 (7); 0.375 between 1 and 2.
    codes = f.encode(np.array([1.25, 2.5, 0.375, 0.125, -1.25], np.float32), 1.0)
    assert codes.tolist() == [4, 6, 2, 0, 8 | 4]


@pytest.mark.parametrize("n", range(2, 9))
def test_hardware_view_reconstructs_every_value(n):
    for cap in range(1, n):
        f = DyBitFormat(n, cap)
        L = n - 1
        codes = np.arange(1 << n, dtype=np.uint8)
        sig, shift = f.significand_shift(codes)
        assert np.array_equal(sig.astype(np.float64) * 2.0 ** shift.astype(np.float64),
                              f.code_values * 2.0 ** (L - 1))
        hw = f.hardware
        assert int(np.abs(sig).max()).bit_length() <= hw.significand_bits
        assert int(shift.max()) == hw.max_shift
        s, e, m, mw = f.fields(codes)
        assert np.array_equal(s, codes >> L)
        assert int(e.max()) == cap and np.all(mw <= L)


def test_hardware_widths():
    assert get_format("dybit4c1").hardware.multiplier_bits == 4  # INT4-like
    assert get_format("dybit4c3").hardware.multiplier_bits == 3  # 3-bit significand plus shifter
    assert get_format("dybit8c7").hardware.max_shift == 12


@pytest.mark.parametrize("bad", [(1, 1), (9, 1), (4, 0), (4, 4), (4, 1.5)])
def test_bad_parameters(bad):
    with pytest.raises(QuantError, match="dybit"):
        DyBitFormat(*bad)
    with pytest.raises(QuantError):
        get_format(f"dybit{bad[0]}c{bad[1]}")


def test_adaptive_picks_cap_per_channel(rng):
    f = get_format("dybit4")
    uniform = rng.uniform(-1, 1, 4096)
    heavy = rng.standard_t(1.5, 4096)
    w = np.stack([uniform, heavy]).astype(np.float32)
    params = f.fit(w, granularity="channel", axis=0)
    names = params.chosen_names().reshape(-1)
    assert names[0] == "dybit4c1" and names[1] in ("dybit4c2", "dybit4c3")
    q = f.quantize(w, params)
    # the adaptive result is never worse than any fixed cap with its own MSE scale, channel by channel
    for cap in (1, 2, 3):
        fixed = get_format(f"dybit4c{cap}").quantize(w, method="mse", granularity="channel")
        assert np.all(((q - w) ** 2).sum(1) <= ((fixed - w) ** 2).sum(1) + 1e-6)
    codes = f.encode(w, params)
    assert np.array_equal(f.decode(codes, params), q)


@pytest.mark.parametrize("n", range(2, 9))
def test_arithmetic_decode_equals_the_code_table_bit_for_bit(n):
    """The decoder computes values from the code's bits; the table is built by the slow bit-by-bit parser."""
    for cap in range(1, n):
        f = DyBitFormat(n, cap)
        codes = np.arange(1 << n, dtype=np.uint8)
        for scale in (1.0, 0.0371, 7.0, 3e30, 1e-30):
            expected = (f.code_values.astype(np.float32) * np.float32(scale)) + np.float32(0.0)  # -0 code → +0
            got = f.decode(codes, scale)
            assert np.array_equal(got.view(np.uint32), expected.view(np.uint32)), (f.name, scale)
        # per-channel scales along axis 0: each row uses its own scale
        rows = np.stack([codes, codes[::-1]])
        scales = np.array([0.5, 3.0], np.float32)
        got = f.decode(rows, scales[:, None])
        assert np.array_equal(got, f.code_values[rows].astype(np.float32) * scales[:, None])


def test_decode_rejects_codes_out_of_range():
    with pytest.raises(QuantError, match="codes: dybit4c2 has codes 0..15, got 16"):
        get_format("dybit4c2").decode(np.array([3, 16, 2], np.uint8), 1.0)
    with pytest.raises(QuantError, match="got 255"):
        get_format("dybit7c3").decode(np.array([255], np.uint8), 1.0)
