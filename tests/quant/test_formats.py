import ml_dtypes
import numpy as np
import pytest
import softposit
import torch

from quant import QuantError, get_format, list_formats
from quant.formats import NumberFormat, int_fake_quant
from quant.formats.reference import slow_nearest_code

CODED = [n for n in list_formats() if not n.startswith(("ant", "dybit")) or "c" in n[5:]]
CODED = [n for n in CODED if isinstance(get_format(n), NumberFormat)]


def test_registry_covers_spec_names():
    for name in ["int4", "uint8", "fp4", "fp8", "e3m2", "e5m2", "e2m3", "e3m0", "posit8es1", "flint4", "pot4",
                 "apot4", "nf4", "adaptivfloat4", "mxfp4", "mxint8", "ant4", "dybit4", "dybit4c2", "fp32",
                 "fp16", "bf16"]:
        assert get_format(name).name in (name, {"fp4": "e2m1", "fp8": "e4m3"}.get(name))
    assert len(CODED) > 100


@pytest.mark.parametrize("name", CODED)
def test_every_level_code_round_trips_and_matches_reference(name, rng):
    f = get_format(name)
    codes = f.level_codes
    scale = 0.173
    zp = 3.0 if f.affine else None
    assert np.array_equal(f.encode(f.decode(codes, scale, zero_point=zp), scale, zero_point=zp), codes)
    lv = f.levels.astype(np.float64)
    mids = ((lv[1:] + lv[:-1]) / 2).astype(np.float32)
    x = np.concatenate([lv, mids, np.nextafter(mids, np.float32(np.inf)), np.nextafter(mids, np.float32(-np.inf)),
                        [lv.max() * 3, lv.min() * 3, 1e-40, -1e-40, 0.0],
                        rng.standard_normal(2000) * np.abs(lv).max()])
    x = np.clip(x, -3.3e38, 3.3e38).astype(np.float32)  # pot8 reaches 2^126
    assert np.array_equal(f.encode(x, 1.0), f.reference_encode(x))
    xs = x * np.float32(scale)
    assert np.array_equal(f.quantize(xs, scale), f.decode(f.encode(xs, scale), scale))


@pytest.mark.parametrize("name", ["dybit4c2", "dybit6c3", "int4", "e2m1", "e4m3", "posit6es1", "nf4", "apot5",
                                  "pot4", "adaptivfloat4", "uint3", "flint5"])
def test_fast_codec_against_slow_exact_oracle(name, rng):
    f = get_format(name)
    lv = f.levels.astype(np.float64)
    mids = (lv[1:] + lv[:-1]) / 2
    x = np.concatenate([mids, rng.standard_normal(300) * np.abs(lv).max(), [1e30, -1e30, 1e-38]]).astype(np.float32)
    expected = [slow_nearest_code(v, f.levels, f.level_codes) for v in x]
    assert f.encode(x, 1.0).tolist() == expected


@pytest.mark.parametrize("name, dtype", [("e2m1", ml_dtypes.float4_e2m1fn), ("e2m3", ml_dtypes.float6_e2m3fn),
                                         ("e3m2", ml_dtypes.float6_e3m2fn), ("e4m3", ml_dtypes.float8_e4m3fn),
                                         ("e5m2", ml_dtypes.float8_e5m2)])
def test_minifloats_agree_with_ml_dtypes(name, dtype, rng):
    f = get_format(name)
    info = ml_dtypes.finfo(dtype)
    ours = np.sort(f.levels)
    all_values = np.unique(np.arange(256, dtype=np.uint8)[: 1 << f.bits].view(np.uint8).astype(np.uint8))
    theirs = np.array(all_values, dtype=np.uint8).view(dtype).astype(np.float32)
    theirs = np.unique(theirs[np.isfinite(theirs)])
    assert np.array_equal(ours, theirs)
    x = np.concatenate([rng.standard_normal(20000) * float(info.max) / 3,
                        rng.uniform(-1, 1, 20000) * float(info.smallest_subnormal) * 4]).astype(np.float32)
    x = x[np.abs(x) <= float(info.max)]
    mids = ((theirs[1:].astype(np.float64) + theirs[:-1]) / 2).astype(np.float32)
    x = np.concatenate([x, mids])
    assert np.array_equal(f.quantize(x, 1.0), x.astype(dtype).astype(np.float32))


def test_posit8_es0_agrees_with_softposit(rng):
    f = get_format("posit8es0")
    theirs = np.array([float(softposit.posit8(bits=b)) for b in range(256) if b != 128])
    assert np.array_equal(np.sort(theirs), f.levels.astype(np.float64))
    minpos = float(f.levels[f.levels > 0].min())
    x = rng.standard_normal(5000).astype(np.float32) * 8
    x = np.concatenate([x, ((f.levels[1:].astype(np.float64) + f.levels[:-1]) / 2).astype(np.float32)])
    x = x[np.abs(x) >= minpos]  # posits never round to 0; our nearest-level rounding does below minpos/2
    ref = np.array([float(softposit.posit8(float(v))) for v in x], np.float32)
    assert np.array_equal(f.quantize(x, 1.0), ref)


def test_known_grids():
    assert get_format("e2m1").levels[8:].tolist() == [0.5, 1, 1.5, 2, 3, 4, 6]
    assert get_format("pot4").levels[7:].tolist() == [0, 1, 2, 4, 8, 16, 32, 64]
    assert get_format("apot4").levels[7:].tolist() == [0, 1 / 16, 1 / 8, 3 / 16, 1 / 4, 3 / 8, 1 / 2, 5 / 8]
    assert get_format("adaptivfloat4").levels[7:].tolist() == [0, 1.5, 2, 3, 4, 6, 8, 12]
    assert get_format("posit4es1").levels[7:].tolist() == [0, 1 / 16, 1 / 4, 1 / 2, 1, 2, 4, 16]
    nf4 = [-1, -.6962, -.5251, -.3949, -.2844, -.1848, -.0911, 0, .0796, .1609, .2461, .3379, .4407, .5626, .7230, 1]
    assert np.allclose(get_format("nf4").levels, nf4, atol=6e-5)
    assert get_format("int4").levels.tolist() == list(range(-7, 8))
    assert get_format("uint4").affine and get_format("uint4").levels.tolist() == list(range(16))


def test_torch_in_torch_out():
    f = get_format("dybit4c2")
    t = torch.linspace(-2, 2, 11)
    q = f.quantize(t, 0.5)
    assert isinstance(q, torch.Tensor) and q.dtype == torch.float32
    c = f.encode(t, 0.5)
    assert isinstance(c, torch.Tensor) and c.dtype == torch.uint8
    assert torch.equal(f.decode(c, 0.5), q)
    assert np.array_equal(q.numpy(), f.quantize(t.numpy(), 0.5))


@pytest.mark.parametrize("name", ["dybit4c2", "int4", "nf4", "e2m1"])
def test_shape_and_container_kept_for_0d_and_odd_dtypes(name):
    f = get_format(name)
    for x in (np.float32(1.3), torch.tensor(-0.7), np.array(2.2, np.float64)):
        q, c = f.quantize(x, 0.5), f.encode(x, 0.5)
        assert q.shape == () and c.shape == () and type(q) is type(c)
        assert isinstance(q, torch.Tensor) == isinstance(x, torch.Tensor)
        assert float(f.decode(c, 0.5)) == float(q)
    # torch dtypes NumPy has no equivalent for are widened, not refused
    t = torch.linspace(-2, 2, 9)
    assert torch.equal(f.quantize(t.bfloat16(), 0.5), f.quantize(t.bfloat16().float(), 0.5))


def test_int_fake_quant_equals_int_format(rng):
    x = rng.standard_normal(10000).astype(np.float32)
    for bits in (2, 4, 8):
        assert np.array_equal(int_fake_quant(x, 0.05, bits), get_format(f"int{bits}").quantize(x, 0.05))
    assert np.array_equal(int_fake_quant(x, 0.05, 4, zero_point=7, unsigned=True),
                          get_format("uint4").quantize(x, 0.05, zero_point=7))


def test_passthrough_formats():
    x = np.array([1.0 + 2**-10, 3.14159, 1e-3], np.float32)
    assert np.array_equal(get_format("fp32").quantize(x), x)
    assert np.array_equal(get_format("fp16").quantize(x), x.astype(np.float16).astype(np.float32))
    bf = get_format("bf16").quantize(x)
    assert np.array_equal(bf, torch.from_numpy(x).bfloat16().float().numpy())
    with pytest.raises(QuantError, match="fp16"):
        get_format("fp16").encode(x)


@pytest.mark.parametrize("call, match", [
    (lambda: get_format("int9"), "bits"),
    (lambda: get_format("dybit4c7"), "cap"),
    (lambda: get_format("blah4"), "unknown format"),
    (lambda: get_format(""), "non-empty"),
    (lambda: get_format("posit8es5"), "es"),
    (lambda: get_format("int4").encode(np.array([1.0, np.nan], np.float32), 1.0), "non-finite"),
    (lambda: get_format("dybit4c2").quantize(np.array([np.inf], np.float32), 1.0), "non-finite"),
    (lambda: get_format("int4").encode(np.ones(3, np.float32), 0.0), "scale"),
    (lambda: get_format("int4").encode(np.ones(3, np.float32), -1.0), "scale"),
    (lambda: get_format("int4").encode(np.ones(3, np.float32), np.array([1.0, np.nan, 1.0])), "scale"),
    (lambda: get_format("int4").encode(np.ones((3, 4), np.float32), np.ones(5)), "broadcast"),
    (lambda: get_format("int4").encode(np.ones(3, np.float32)), "scale"),
    (lambda: get_format("e2m1").decode(np.array([3, 16]), 1.0), "16"),
    (lambda: get_format("e2m1").decode(np.array([3, -1]), 1.0), "-1"),
    (lambda: get_format("e2m1").decode(np.array([0.5]), 1.0), "integer"),
    (lambda: get_format("int4").encode(np.array(["a"]), 1.0), "numeric"),
    (lambda: get_format("int4").encode(np.ones(3, np.complex64), 1.0), "x: expected a real numeric"),
    (lambda: get_format("dybit4c2").quantize(np.ones(3, np.float32), "a"), "scale: expected a real numeric"),
])
def test_bad_input_gets_a_clear_error(call, match):
    with pytest.raises(QuantError, match=match):
        call()
