import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from quant import Layout, QParams, QuantError, choose_qparams, get_format
from quant.choose import MSE_RATIOS, mse_ratios


def test_max_scale_per_tensor_channel_any_axis_and_block(rng):
    f = get_format("int4")
    x = rng.standard_normal((6, 5, 40)).astype(np.float32)
    qp = choose_qparams(f, x)
    assert qp.scale.shape == () and np.isclose(qp.scale, np.abs(x).max() / 7)
    for axis in (0, 1, 2, -1):
        qp = choose_qparams(f, x, granularity="channel", axis=axis)
        red = tuple(i for i in range(3) if i != axis % 3)
        assert np.allclose(qp.scale, np.abs(x).max(axis=red, keepdims=True) / 7)
        q = f.quantize(x, qp)
        assert np.all(np.abs(q) <= np.abs(x).max(axis=red, keepdims=True) * (1 + 1e-6))
    qp = choose_qparams(f, x, granularity="block", block=16, axis=-1)
    assert qp.scale.shape == (6, 5, 3)
    assert np.isclose(qp.scale[2, 3, 2], np.abs(x[2, 3, 32:40]).max() / 7)
    qp = choose_qparams(f, x, granularity="block", block=4, axis=1)
    assert qp.scale.shape == (6, 2, 40)
    assert np.isclose(qp.scale[1, 1, 7], np.abs(x[1, 4:5, 7]).max() / 7)
    q = f.quantize(x, qp)
    # each block's own max is representable exactly: max|q| per block equals max|x| per block
    assert np.isclose(np.abs(q[1, 4, 7]), np.abs(x[1, 4, 7]), rtol=1e-6)


def test_mse_beats_max_and_percentile_clips(rng):
    x = rng.standard_t(3, (64, 256)).astype(np.float32)
    for name in ("int4", "dybit4c2", "e2m1", "nf4"):
        f = get_format(name)
        err = {m: ((f.quantize(x, method=m, granularity="channel") - x) ** 2).sum()
               for m in ("max", "percentile", "mse")}
        assert err["mse"] <= err["max"] and err["mse"] <= err["percentile"] * 1.0001
    qp = choose_qparams(get_format("int4"), x, "percentile", percentile=99.0)
    assert np.isclose(qp.scale, np.percentile(np.abs(x), 99.0) / 7)


def test_mse_scale_of_tapered_formats_leaves_the_top_unused(rng):
    """Posits are most precise near 1: the MSE scale maps a Gaussian's bulk there instead of mapping amax to
    maxpos (4096 for posit8es1), which the clip ratios 0.2–1 alone could not reach."""
    x = rng.standard_normal(20000).astype(np.float32)
    f = get_format("posit8es1")
    qp = choose_qparams(f, x, "mse")
    amax_level = np.abs(x).max() / qp.scale
    assert 2 <= amax_level <= 32  # far below maxpos
    rel = lambda q: ((q - x) ** 2).sum() / (x**2).sum()  # noqa: E731
    assert rel(f.quantize(x, qp)) < 1e-3 < rel(f.quantize(x, np.abs(x).max() / f.max_level))
    # a uniform grid gets only the few extra candidates, and none of them wins
    assert len(mse_ratios(get_format("int4"))) == len(MSE_RATIOS) + 3
    qi = choose_qparams(get_format("int4"), x, "mse")
    assert 0.2 <= float(qi.scale) / (np.abs(x).max() / 7) <= 1.0


def test_affine_uint_represents_zero_and_range(rng):
    f = get_format("uint8")
    x = rng.uniform(-0.5, 3.0, 1000).astype(np.float32)
    qp = choose_qparams(f, x)
    assert qp.zero_point is not None and qp.zero_point == np.rint(qp.zero_point)
    q = f.quantize(x, qp)
    assert f.quantize(np.zeros(3, np.float32), qp).tolist() == [0, 0, 0]
    assert np.abs(q - x).max() <= qp.scale / 2 + 1e-6


def test_mx_block_scales_follow_ocp_rule(rng):
    f = get_format("mxfp4")
    x = rng.standard_normal((4, 96)).astype(np.float32)
    qp = choose_qparams(f, x)
    assert qp.layout.granularity == "block" and qp.scale.shape == (4, 3)
    amax = np.abs(x.reshape(4, 3, 32)).max(-1)
    assert np.array_equal(qp.scale, np.exp2(np.floor(np.log2(amax)) - 2).astype(np.float32))
    q = f.quantize(x)
    assert np.array_equal(q, f.quantize(x, qp))


def test_pow2_scale_for_adaptivfloat(rng):
    f = get_format("adaptivfloat4")
    qp = choose_qparams(f, rng.standard_normal(500).astype(np.float32) * 3)
    assert np.log2(qp.scale) == np.round(np.log2(qp.scale))


def test_pow2_restricts_any_symmetric_format_to_power_of_two_scales(rng):
    x = rng.standard_normal((16, 96)).astype(np.float32)
    f = get_format("dybit4c2")
    free = choose_qparams(f, x, "mse", granularity="block")
    qp = choose_qparams(f, x, "mse", granularity="block", pow2=True)
    assert np.array_equal(np.log2(qp.scale), np.round(np.log2(qp.scale)))
    assert not np.array_equal(np.log2(free.scale), np.round(np.log2(free.scale)))
    # the MSE pick among powers of two is never worse than rounding the free scale up to one
    from quant.choose import _pow2_ceil

    err = ((f.quantize(x, qp) - x) ** 2).sum()
    assert err <= ((f.quantize(x, QParams(_pow2_ceil(free.scale), free.layout)) - x) ** 2).sum()
    with pytest.raises(QuantError, match="pow2: uint4 is affine"):
        choose_qparams(get_format("uint4"), x, pow2=True)


def test_all_zero_group_gets_unit_scale():
    x = np.zeros((2, 8), np.float32)
    x[1] = 1
    qp = choose_qparams(get_format("int4"), x, granularity="channel")
    assert qp.scale.reshape(-1).tolist() == [1.0, pytest.approx(1 / 7)]


_EDGE_TENSORS = {
    "empty rows": np.zeros((0, 8), np.float32), "empty columns": np.zeros((3, 0), np.float32),
    "all subnormal": np.full((2, 4), 1e-44, np.float32),
    "near float32 max": np.array([[3e38, -3.4e38, 1.0, 0.0]], np.float32),
}


@pytest.mark.parametrize("kw", [dict(), dict(method="mse"), dict(method="percentile"), dict(granularity="channel"),
                                dict(granularity="block", block=2), dict(pow2=True)], ids=repr)
@pytest.mark.parametrize("name", ["int4", "uint4", "dybit4", "ant4", "dybit4c3", "e3m0", "apot4", "nf4",
                                  "posit8es1", "adaptivfloat4", "mxfp4", "mxint8"])
def test_empty_subnormal_and_huge_tensors_quantise_to_finite_values(name, kw):
    """Empty tensors, all-subnormal tensors and values near float32's maximum: no NumPy error deep inside, no
    zero or infinite scale, and no finite input dequantised to ±inf (scales are clipped to the float32
    range, so the largest level times the scale stays finite: values saturate)."""
    fmt = get_format(name)
    if kw.get("pow2") and fmt.affine:
        with pytest.raises(QuantError, match="pow2: uint4 is affine"):
            choose_qparams(fmt, _EDGE_TENSORS["empty rows"], **kw)
        return
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # no overflow, 0-division, NaN inside
        for what, x in _EDGE_TENSORS.items():
            qp = choose_qparams(fmt, x, **kw)
            y = fmt.quantize(x, qp)
            assert y.shape == x.shape and np.isfinite(y).all(), (what, y)
            assert fmt.decode(fmt.encode(x, qp), qp).shape == x.shape
            if what == "near float32 max" and not kw.get("pow2") and "method" not in kw:
                assert np.abs(y).max() >= 2e38, y  # saturates near the top, not at a much smaller value


@settings(max_examples=60, deadline=None)
@given(x=hnp.arrays(np.float32, st.integers(1, 300), elements=st.floats(-1e4, 1e4, width=32)),
       name=st.sampled_from(["dybit4c2", "dybit6c4", "int5", "e3m2", "nf4", "posit8es1"]))
def test_quantize_is_idempotent_and_error_is_bounded(x, name):
    f = get_format(name)
    qp = choose_qparams(f, x)
    q = f.quantize(x, qp)
    assert np.array_equal(f.quantize(q, qp), q)
    # nearest level: no level is closer than the chosen one
    lv = f.levels.astype(np.float64) * float(qp.scale)
    best = np.abs(x[:, None].astype(np.float64) - lv[None, :]).min(1)
    assert np.all(np.abs(q.astype(np.float64) - x) <= best * (1 + 1e-6) + 1e-30 + np.abs(x) * 2e-7)


def test_layout_errors():
    with pytest.raises(QuantError, match="granularity"):
        Layout((3,), "row")
    with pytest.raises(QuantError, match="axis"):
        Layout((3, 4), "channel", axis=2)
    with pytest.raises(QuantError, match="block"):
        Layout((3, 4), "block", axis=1, block=0)
    with pytest.raises(QuantError, match="method"):
        choose_qparams(get_format("int4"), np.ones(4), "best")
    with pytest.raises(QuantError, match="block: block size must be a positive integer, got 0"):
        choose_qparams(get_format("int4"), np.ones((3, 4)), granularity="block", block=0)  # not the default
    with pytest.raises(QuantError, match="block: 8 given with granularity 'tensor'"):
        choose_qparams(get_format("int4"), np.ones((3, 4)), granularity="tensor", block=8)
    assert choose_qparams(get_format("int4"), np.ones((3, 4)), block=2).layout.granularity == "block"
    with pytest.raises(QuantError, match="non-finite"):
        choose_qparams(get_format("int4"), np.array([1.0, np.inf]))
    with pytest.raises(QuantError, match="shape"):
        get_format("int4").encode(np.ones((4, 2)), QParams(np.ones((5, 1)), Layout((5, 2), "channel")))


@pytest.mark.parametrize("name", ["dybit4c2", "int4", "uint4", "nf4", "e2m1"])
def test_group_sse_equals_the_plain_numpy_sum_of_squares(name, rng):
    from quant.choose import group_sse, quantize_groups

    fmt = get_format(name)
    g = (rng.standard_t(3, (37, 301)) * 2).astype(np.float32)
    scale = (np.abs(g).max(axis=1) / fmt.max_level * 0.8).astype(np.float32)
    zp = np.full(37, 3.0, np.float32) if fmt.affine else None
    d = quantize_groups(fmt, g, scale, zp) - g
    expected = (d.astype(np.float64) ** 2).sum(axis=1)
    np.testing.assert_allclose(group_sse(fmt, g, scale, zp), expected, rtol=1e-12)
    assert group_sse(fmt, np.zeros((3, 0), np.float32), np.ones(3, np.float32)).tolist() == [0.0, 0.0, 0.0]
