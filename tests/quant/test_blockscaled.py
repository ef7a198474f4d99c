"""Block- and group-scaled formats: NVFP4 bit for bit against ml_dtypes, DyBit with E8M0/E4M3 block scales,
INT with FP16 group scales, names, and the PyTorch fake-quant path."""
import ml_dtypes
import numpy as np
import pytest
import torch

from quant import QuantError, get_format, list_formats
from quant.choose import choose_qparams, group_sse
from quant.fakequant import FakeQuantize
from quant.scaling import Layout

E2M1_LEVELS = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], np.float32)


def nvfp4_reference(x: np.ndarray):
    """NVIDIA's NVFP4 recipe on rows of 16 values, with ml_dtypes doing every E4M3/E2M1 rounding:
    (element codes, E4M3 scale codes, s_enc, dequantised values)."""
    blocks = x.reshape(-1, 16)
    amax_t = np.float32(np.abs(x).max())
    s_enc = np.float32(448 * 6) / amax_t if amax_t > 0 else np.float32(1)
    sb = (np.abs(blocks).max(axis=1) / np.float32(6)).astype(np.float32) * s_enc
    e4m3 = np.minimum(sb, np.float32(448)).astype(ml_dtypes.float8_e4m3fn)  # satfinite: ml_dtypes overflows to NaN
    val = e4m3.astype(np.float32)
    dec = (val / s_enc).astype(np.float32)
    safe = np.where(val > 0, dec, np.float32(1))[:, None]
    v = (blocks / safe).astype(np.float32)
    elem = np.where(val[:, None] > 0, v, 0).astype(ml_dtypes.float4_e2m1fn)
    codes = elem.view(np.uint8) & 0xF
    codes = np.where(codes == 8, 0, codes)  # −0: the codec stores +0
    deq = (elem.astype(np.float32) * np.where(val > 0, dec, 0)[:, None]).astype(np.float32)
    return codes.reshape(x.shape), e4m3.view(np.uint8), float(s_enc), deq.reshape(x.shape)


def check_nvfp4(x):
    f = get_format("nvfp4")
    enc = f.encode_blocks(x, axis=-1)
    codes, scale_codes, s_enc, deq = nvfp4_reference(x)
    assert enc.tensor_scale == s_enc
    assert np.array_equal(enc.scale_codes.reshape(-1), scale_codes)
    assert np.array_equal(enc.codes, codes)
    assert np.array_equal(f.decode_blocks(enc), deq)
    assert np.array_equal(f.quantize(x), deq)  # fake-quant = decode∘encode from the stored codes alone


def test_nvfp4_every_e2m1_and_e4m3_code_point_against_ml_dtypes():
    e4m3 = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float32)
    scales = e4m3[np.isfinite(e4m3) & (e4m3 > 0)]  # the 126 positive E4M3 values
    pattern = np.concatenate([E2M1_LEVELS, -E2M1_LEVELS])  # all 16 E2M1 code points, a block of 16
    x = (scales[:, None] * pattern[None, :]).astype(np.float32)  # amax 6·448 = 2688: s_enc = 1
    check_nvfp4(x)
    enc = get_format("nvfp4").encode_blocks(x)
    assert enc.tensor_scale == 1.0
    assert sorted(set(enc.scale_codes.reshape(-1).tolist())) == sorted(
        np.arange(256, dtype=np.uint8)[np.isin(np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn)
                                               .astype(np.float32), scales)].tolist())
    assert sorted(set(enc.codes.reshape(-1).tolist())) == [c for c in range(16) if c != 8]  # −0 stored as +0


@pytest.mark.parametrize("dist", ["normal", "student_t", "outliers", "tiny_blocks", "midpoints"])
def test_nvfp4_random_tensors_bit_exact_against_ml_dtypes(dist, rng):
    x = rng.standard_normal((64, 256)).astype(np.float32)
    if dist == "student_t":
        x = rng.standard_t(2, (64, 256)).astype(np.float32) * 1e-3
    elif dist == "outliers":
        x[rng.random(x.shape) < 0.002] *= 1e4
    elif dist == "tiny_blocks":  # E4M3 subnormal and underflowing block scales, all-zero blocks
        x[:, :128] *= np.float32(1e-6)
        x[:, 128:144] = 0
        x[0, 0] = 1e4
    elif dist == "midpoints":  # values on the E2M1 rounding midpoints of their block and their neighbours
        f = get_format("nvfp4")
        qp = choose_qparams(f, x, "mx", granularity="block", axis=-1)
        s = Layout(x.shape, "block", -1, 16).expand(qp.scale)
        mids = (E2M1_LEVELS[1:] + E2M1_LEVELS[:-1]) / 2
        m = rng.choice(mids, x.shape) * np.sign(x) * s
        x = np.where(rng.random(x.shape) < 0.7, m, x).astype(np.float32)
        x = np.where(rng.random(x.shape) < 0.2, np.nextafter(x, np.float32(np.inf)), x).astype(np.float32)
        x[:, ::16] = (6 * s[:, ::16]).astype(np.float32)  # keep each block's maximum (and so its scale)
    check_nvfp4(x)


def test_nvfp4_round_trips_and_handles_zero_and_non_multiple_lengths(rng):
    f = get_format("nvfp4")
    check_nvfp4(np.zeros((2, 32), np.float32))
    x = rng.standard_normal((3, 37)).astype(np.float32)  # 37 = 2 blocks of 16 + 5
    enc = f.encode_blocks(x)
    assert enc.scale_codes.shape == (3, 3) and enc.codes.shape == x.shape
    q = f.decode_blocks(enc)
    assert np.array_equal(f.encode(q, enc.qparams), enc.codes)  # decoded values re-encode to the same codes
    assert np.array_equal(f.quantize(q, enc.qparams), q)
    padded = np.pad(x, ((0, 0), (0, 11)))
    assert np.array_equal(get_format("nvfp4").quantize(padded)[:, :37], q)  # zero padding changes nothing


def test_dybit_with_block_scales_matches_its_rules(rng):
    x = (rng.standard_normal((32, 128)) * np.exp(rng.standard_normal((32, 1)) * 2)).astype(np.float32)
    g = Layout(x.shape, "block", -1, 32).groups(x)
    mx2, mxfp4 = get_format("mxdybit4c2"), get_format("mxfp4")
    qp = choose_qparams(mx2, x, "mx", granularity="block", axis=-1)
    s = qp.scale.reshape(-1)
    assert np.array_equal(np.exp2(np.round(np.log2(s))), s)  # E8M0: powers of two
    assert np.array_equal(qp.extra["scale_codes"].reshape(-1).astype(np.int64) - 127, np.log2(s).astype(np.int64))
    # dybit4c2 is E2M1 / 2 and its encoder tries OCP MX's exponent among its two: never worse than mxfp4
    e_dy = group_sse(mx2, g, s)
    e_mx = group_sse(mxfp4, g, choose_qparams(mxfp4, x, "mx", granularity="block", axis=-1).scale.reshape(-1))
    assert np.all(e_dy <= e_mx) and e_dy.sum() < e_mx.sum()
    # the adaptive format picks the best cap per block
    ada = get_format("mxdybit4")
    p = ada.fit(x)
    q = ada.quantize(x, p)
    e_ada = ((Layout(x.shape, "block", -1, 32).groups(q) - g) ** 2).sum(1)
    for c in ("mxdybit4c1", "mxdybit4c2", "mxdybit4c3"):
        fc = get_format(c)
        e_c = group_sse(fc, g, choose_qparams(fc, x, "mx", granularity="block", axis=-1).scale.reshape(-1))
        assert np.all(e_ada <= e_c * (1 + 1e-6)), c
    assert set(p.chosen_names().reshape(-1)) <= {"mxdybit4c1", "mxdybit4c2", "mxdybit4c3"}
    assert ada.scale_bits == 8 + 2 and get_format("nvdybit4").tensor_scale_bits == 3 * 32


def test_nvdybit4c2_is_nvfp4_up_to_the_grid_scale(rng):
    x = rng.standard_t(3, (16, 96)).astype(np.float32)
    nv, dy = get_format("nvfp4"), get_format("nvdybit4c2")
    assert np.array_equal(dy.levels * 2, nv.levels)
    assert np.array_equal(dy.quantize(x), nv.quantize(x))
    assert np.array_equal(dy.encode_blocks(x).scale_codes, nv.encode_blocks(x).scale_codes)
    assert get_format("nvdybit4c3g32").default_block == 32 and get_format("mxdybit4c3g16").default_block == 16


def test_int_group_scales_are_fp16_of_the_group_max(rng):
    f = get_format("int4g128")
    w = rng.standard_normal((4, 300)).astype(np.float32)
    enc = f.encode_blocks(w)
    assert enc.scale_codes.shape == (4, 3) and enc.scale_codes.dtype == np.uint16 and enc.tensor_scale is None
    by_hand = np.float16(np.abs(w[1, 128:256]).max() / np.float32(7))
    assert enc.scale_codes[1, 1] == np.array(by_hand).view(np.uint16)
    scale = enc.scale_codes.view(np.float16).astype(np.float32)
    full = Layout(w.shape, "block", -1, 128).expand(scale)
    expected = np.clip(np.rint(w / full), -7, 7) * full
    assert np.array_equal(f.decode_blocks(enc), expected.astype(np.float32))
    assert np.array_equal(f.quantize(w), expected.astype(np.float32))
    assert get_format("int3g32").levels.max() == 3 and get_format("int8g64").scale_bits == 16


def test_names_parse_and_bad_names_give_one_clear_line():
    for name in ("nvfp4", "mxdybit4", "nvdybit3", "mxdybit4c3", "nvdybit5c2g32", "int4g128", "int8g7"):
        assert get_format(name).name == name
    assert {"nvfp4", "mxdybit4", "nvdybit4", "int4g128"} <= set(list_formats(4))
    assert "nvfp4" not in list_formats(8)
    for bad, words in (("int4g1", "2..65536"), ("int4g0", "2..65536"), ("mxdybit9", "2..8"),
                       ("nvdybit4c4", "cap"), ("int9g16", "2..8"), ("nvfp4g32", "unknown format"),
                       ("mxdybit4g", "unknown format")):
        with pytest.raises(QuantError, match=words) as exc:
            get_format(bad)
        assert "\n" not in str(exc.value)
    with pytest.raises(QuantError, match="granularity='block'"):
        get_format("mxdybit4").fit(np.ones((2, 32), np.float32), granularity="channel")


@pytest.mark.parametrize("name", ["nvfp4", "mxdybit4", "nvdybit4", "int4g32"])
def test_fake_quant_uses_each_tensors_own_block_scales(name):
    f = get_format(name)
    act = FakeQuantize(name, role="activation")
    assert act.dynamic and act.frozen
    x = torch.randn(4, 80) * torch.linspace(0.1, 4, 80)
    xp = x.clone().requires_grad_(True)
    q = act(xp)
    assert np.array_equal(q.detach().numpy(), f.quantize(x.numpy(), axis=-1))
    q.sum().backward()
    assert 0 < xp.grad.sum() <= x.numel()
    w = torch.randn(8, 20, 3, 3)
    wq = FakeQuantize(name, role="weight")(w)  # blocked along C_in·kh·kw, as mxfp4
    flat = f.quantize(w.numpy().reshape(8, -1), axis=1)
    assert np.array_equal(wq.numpy(), flat.reshape(w.shape))


def test_uint_groups_carry_an_fp16_scale_and_a_zero_point(rng):
    f = get_format("uint4g128")
    assert f.affine and f.scale_bits == 16 + 4
    w = (rng.standard_normal((4, 300)) + 0.7).astype(np.float32)
    enc = f.encode_blocks(w)
    g = w[2, 128:256]
    lo, hi = min(g.min(), 0), max(g.max(), 0)
    scale = np.float16((np.float32(hi) - np.float32(lo)) / np.float32(15))
    assert enc.scale_codes[2, 1] == np.array(scale).view(np.uint16)
    assert enc.qparams.extra["zero_point_codes"][2, 1] == np.clip(np.rint(-lo / np.float32(scale)), 0, 15)
    s = Layout(w.shape, "block", -1, 128).expand(enc.scale_codes.view(np.float16).astype(np.float32))
    z = Layout(w.shape, "block", -1, 128).expand(enc.qparams.extra["zero_point_codes"].astype(np.float32))
    expected = ((np.clip(np.rint(w / s + z), 0, 15) - z) * s).astype(np.float32)
    assert np.array_equal(f.decode_blocks(enc), expected) and np.array_equal(f.quantize(w), expected)
    e_sym = ((get_format("int4g128").quantize(w) - w) ** 2).sum()
    assert ((expected - w) ** 2).sum() < e_sym  # a shifted distribution: the zero point pays


@pytest.mark.parametrize("name", ["uint4g32", "uint4"])
def test_affine_quantisers_pass_gradients_over_their_whole_range(name):
    x = torch.linspace(-3, 1, 64).reshape(2, 32)
    fq = FakeQuantize(name, role="weight", granularity="channel")
    xp = x.clone().requires_grad_(True)
    fq(xp).sum().backward()
    assert xp.grad[x < 0].mean() > 0.9  # negative values inside the range are not clipped (only the rounded edge)


def test_a_model_quantises_calibrates_and_evaluates_with_block_formats():
    from quant.qmodel import calibrate, evaluate, quantize_model
    from workloads.data import load_fashion_mnist
    from workloads.train import load_trained

    x, y = load_fashion_mnist("test", limit=300)
    for plan in ("w=nvfp4,a=nvfp4", "w=mxdybit4e1,a=nvdybit4", "w=uint4g32,a=fp32"):
        q = quantize_model(load_trained("fashion_cnn"), plan, (1, 28, 28))
        calibrate(q, [x[:64]])  # nothing to calibrate: each tensor's own block scales
        assert all(m.wq.dynamic for m in q.modules() if hasattr(m, "wq")), plan
        assert evaluate(q, x, y) > 0.85, plan
