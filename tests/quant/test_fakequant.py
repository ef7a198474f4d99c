import numpy as np
import pytest
import torch
from torch import nn

from quant import QuantError, get_format
from quant.fakequant import FakeQuantize
from quant.plan import PrecisionPlan
from quant.qmodel import calibrate, evaluate, fold_batchnorm, qat, quantize_model
from workloads.data import load_fashion_mnist
from workloads.train import load_trained
from workloads.zoo import get_model


def test_ste_gradient_passes_inside_and_stops_outside_the_clip_range():
    fq = FakeQuantize("int4", role="activation", method="max")
    fq.calibrating = True
    fq(torch.linspace(-1, 1, 101))
    fq.calibrating = False
    fq.freeze()
    x = torch.tensor([-3.0, -0.5, 0.0, 0.3, 0.99, 2.0], requires_grad=True)
    y = fq(x)
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    assert torch.equal(y.detach(), torch.from_numpy(fq.fmt.quantize(x.detach().numpy(), fq.scale.numpy())))


def test_learnable_scale_gets_a_gradient():
    fq = FakeQuantize("dybit4c2", role="activation", method="max", learn_scale=True)
    fq.calibrating = True
    fq(torch.randn(1000))
    fq.calibrating = False
    fq.freeze()
    assert isinstance(fq.scale, nn.Parameter)
    fq(torch.randn(100) * 3).pow(2).sum().backward()
    assert fq.scale.grad is not None and torch.isfinite(fq.scale.grad).all() and fq.scale.grad.abs() > 0


@pytest.mark.parametrize("fmt, axis", [("e2m1", 1), ("int4", 0), ("dybit4", 1), ("dybit4", 0)])
def test_block_scaled_weights_quantise_and_learn_their_block_scales(fmt, axis):
    torch.manual_seed(0)
    w = torch.randn(40, 70) * torch.linspace(0.1, 3, 70)  # 70 is not a multiple of the block
    fq = FakeQuantize(fmt, role="weight", granularity="block", axis=axis, learn_scale=True)
    fq.freeze(w)
    lay = fq.layout
    assert lay.granularity == "block" and tuple(fq.scale.shape) == lay.scale_shape
    wp = w.clone().requires_grad_(True)
    q = fq(wp)
    ref = fq.fmt.quantize(w.numpy(), fq._adaptive_params or fq._qp)
    assert np.array_equal(q.detach().numpy(), ref)
    upstream = torch.randn(w.shape)
    (q * upstream).sum().backward()
    # STE: the gradient passes exactly where w lies inside its own group's clip range
    lo, hi = fq.clip_range(fq.broadcast_scale(fq.scale.detach(), w.shape), w.shape)
    assert torch.equal(wp.grad, upstream * ((w >= lo) & (w <= hi)))
    assert 0 < int(((w < lo) | (w > hi)).sum())  # some values are clipped, so the test sees both cases
    # LSQ: each block scale gets the sum over its own block of the element-wise gradient, which is what
    # autograd gives through the broadcast of the scale onto the tensor
    s = fq.scale.detach().clone().requires_grad_(True)
    full = fq.broadcast_scale(s, w.shape)
    inside = (w >= lo) & (w <= hi)
    d = torch.where(inside, (q.detach() - w) / full.detach(), q.detach() / full.detach())
    (full * (upstream * d)).sum().backward()
    norm = np.sqrt(max(w.numel() / s.numel(), 1) * fq.max_level)
    assert torch.allclose(fq.scale.grad, s.grad / norm, rtol=1e-5, atol=1e-7)


def test_bn_folding_is_equivalent():
    torch.manual_seed(0)
    m, _ = get_model("fashion_resnet")
    for mod in m.modules():  # non-trivial BN statistics
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        diff = (m.eval()(x) - fold_batchnorm(m)(x)).abs().max().item()
    assert diff < 1e-4
    assert not any(isinstance(mm, nn.BatchNorm2d) for mm in fold_batchnorm(m).modules())


def test_plan_round_trips_and_errors(tmp_path):
    plan = PrecisionPlan({"conv1": "int8", "conv2": "w=dybit4,a=int8", "fc1": ("nf4", "int8"), "fc2": "dybit3c2"})
    for suffix in (".yaml", ".json"):
        p = tmp_path / f"plan{suffix}"
        plan.save(p)
        assert PrecisionPlan.load(p) == plan
    assert str(plan["conv2"]) == "w=dybit4,a=int8"
    with pytest.raises(QuantError, match="not in the model: ghost"):
        PrecisionPlan({"ghost": "int8"}).validate(["conv1"])
    with pytest.raises(QuantError, match="no entry for layer.*conv1"):
        PrecisionPlan({}).validate(["conv1"])
    with pytest.raises(QuantError, match="unknown format"):
        PrecisionPlan({"conv1": "w=foo4,a=int8"})
    with pytest.raises(QuantError, match="w=FORMAT,a=FORMAT"):
        PrecisionPlan({"conv1": "w=int4"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("layers: [1, 2")
    with pytest.raises(QuantError, match="not valid YAML"):
        PrecisionPlan.load(bad)
    flat = tmp_path / "flat.yaml"
    flat.write_text("conv1: int8\n")  # the layers without the 'layers:' key: the message shows the shape
    with pytest.raises(QuantError, match=r"'layers' mapping, e\.g\. \{layers: \{conv1: .*found top-level keys 'conv1'"):
        PrecisionPlan.load(flat)


@pytest.fixture(scope="module")
def fashion():
    return load_fashion_mnist("test", limit=2000)


def test_ptq_int8_keeps_fp32_accuracy_on_the_trained_cnn(fashion):
    x, y = fashion
    fp = load_trained("fashion_cnn")
    acc_fp = evaluate(fp, x, y)
    assert acc_fp > 0.88
    q = quantize_model(fp, "int8", (1, 28, 28))
    calibrate(q, [x[i:i + 256] for i in range(0, 1024, 256)])
    acc_q = evaluate(q, x, y)
    assert abs(acc_fp - acc_q) <= 0.005
    assert q.quant_layers == 4


def test_short_qat_lowers_the_loss(fashion):
    x, y = fashion
    q = quantize_model(load_trained("fashion_cnn"), "dybit3c2", (1, 28, 28))
    calibrate(q, [x[:256]])
    losses = qat(q, x, y, steps=40, lr=3e-4)
    assert np.mean(losses[-10:]) < np.mean(losses[:10])


def test_calibrate_evaluate_and_qat_name_bad_arguments(fashion):
    x, y = fashion
    q = quantize_model(load_trained("fashion_cnn"), "int8", (1, 28, 28))
    with pytest.raises(QuantError, match="calibrate: no calibration images"):
        calibrate(q, [])
    with pytest.raises(QuantError, match="calibrate: no calibration images"):
        calibrate(q, [x[:0]])
    calibrate(q, [x[:64]])
    with pytest.raises(QuantError, match="evaluate: .* got 0 images"):
        evaluate(q, x[:0], y[:0])
    with pytest.raises(QuantError, match="evaluate: .* got 10 images, 9 labels"):
        evaluate(q, x[:10], y[:9])
    for kw, match in ((dict(steps=-1), "steps must be an integer ≥ 0, got -1"),
                      (dict(batch=0), "batch must be an integer ≥ 1, got 0"),
                      (dict(lr=0.0), "lr must be a finite number > 0, got 0.0"),
                      (dict(lr=float("nan")), "lr must be")):
        with pytest.raises(QuantError, match=match):
            qat(q, x, y, **kw)
    assert qat(q, x, y, steps=0) == []


def test_mx_formats_scale_each_block_from_its_own_maximum_at_run_time(fashion):
    mx = get_format("mxfp4")
    act = FakeQuantize("mxfp4", role="activation", learn_scale=True)  # no free scale: nothing to learn
    assert act.frozen and act.dynamic and not act.learn_scale
    state = {k: v.clone() for k, v in act.state_dict().items()}
    x = torch.randn(4, 70) * torch.linspace(0.1, 4, 70)
    xp = x.clone().requires_grad_(True)
    q = act(xp)
    assert np.array_equal(q.detach().numpy(), mx.quantize(x.numpy(), granularity="block", axis=-1))
    assert torch.equal(act(x * 16), q.detach() * 16)  # E8M0 scales follow the data; nothing was frozen
    assert all(torch.equal(v, act.state_dict()[k]) for k, v in state.items())  # and no state changed
    q.sum().backward()
    assert 0 < xp.grad.sum() < x.numel()  # STE: clipped values get no gradient
    w = torch.randn(64, 40, 3, 3)
    wq = FakeQuantize("mxfp4", role="weight")(w)
    flat = mx.quantize(w.numpy().reshape(64, -1), granularity="block", axis=1)  # along C_in·kh·kw
    assert np.array_equal(wq.numpy(), flat.reshape(w.shape))
    dw = torch.randn(16, 1, 3, 3)  # depthwise: 9 taps share one block, not one scale per tap
    dq = FakeQuantize("mxfp4", role="weight")(dw)
    blocked = mx.quantize(dw.numpy().reshape(16, 9), granularity="block", axis=1)
    assert np.array_equal(dq.numpy(), blocked.reshape(dw.shape))
    assert not torch.equal(dq, dw)
    # a whole model: conv inputs are blocked along channels, linear inputs along features
    xs, ys = fashion
    qm = quantize_model(load_trained("fashion_cnn"), "mxfp4", (1, 28, 28))
    calibrate(qm, [xs[:256]])
    axes = [(type(m.conv).__name__, m.aq.axis, m.wq.axis) for m in qm.modules() if hasattr(m, "aq")]
    assert axes == [("Conv2d", 1, 1), ("Conv2d", 1, 1), ("Linear", -1, 1), ("Linear", -1, 1)]
    assert evaluate(qm, xs, ys) > 0.85


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64])
def test_quantisers_keep_the_tensor_dtype(dtype):
    x = torch.randn(4, 64).to(dtype)
    for fmt in ("int8", "dybit4", "mxfp4"):
        fq = FakeQuantize(fmt, role="weight", learn_scale=True)
        xp = x.clone().requires_grad_(True)
        q = fq(xp)
        q.float().sum().backward()
        assert q.dtype == dtype and xp.grad.dtype == dtype, fmt
        ref = fq.fmt.quantize(x.float().numpy(), fq._adaptive_params or fq._qp)
        assert torch.equal(q, torch.from_numpy(ref).to(dtype)), fmt  # the codec's values, rounded to dtype


def test_a_bfloat16_model_quantises_calibrates_and_evaluates(fashion):
    xs, ys = fashion
    q = quantize_model(load_trained("fashion_cnn").to(torch.bfloat16), "w=dybit4,a=int8", (1, 28, 28))
    calibrate(q, [xs[:256]])
    assert evaluate(q, xs[:1000], ys[:1000]) > 0.88


def test_first_last_policy_and_attention_matmuls():
    m, shape = get_model("fashion_cnn")
    q = quantize_model(m, "dybit4", shape, first_last="int8")
    fmts = [(n, p.weight) for n, p in q.quant_plan.items()]
    assert fmts[0][1] == "int8" and fmts[-1][1] == "int8" and fmts[1][1] == "dybit4"
    with pytest.raises(QuantError, match="first_last"):
        quantize_model(m, "int8", shape, first_last="both")
    from workloads.zoo.transformer import BertEncoder

    bert = BertEncoder(dim=64, depth=1, heads=2, mlp=128)
    qb = quantize_model(bert, "int8", (16, 64))
    assert qb.quant_layers == 8  # q, k, v, out, fc1, fc2 + QKᵀ and AV
    calibrate(qb, [torch.randn(2, 16, 64)])
    assert qb(torch.randn(2, 16, 64)).shape == (2, 16, 64)


def test_activation_quantiser_needs_calibration():
    m, shape = get_model("fashion_cnn")
    q = quantize_model(m, "int8", shape)
    with pytest.raises(QuantError, match="before calibration"):
        q(torch.randn(1, *shape))


@pytest.mark.parametrize("fmt", ["mxfp4", "mxint8", "nvfp4", "mxdybit4", "nvdybit4", "mxdybit4e1", "mxdybit3",
                                 "int4g128", "int4g16", "uint4g32", "dybit4", "int8", "e2m1"])
@pytest.mark.parametrize("shape, role", [((3, 70, 5), "activation"), ((40, 64), "weight"), ((2, 33, 4, 4), "weight")])
def test_inference_path_gives_the_training_path_values(fmt, shape, role):
    """Under no_grad the quantisers skip the STE (and block formats choose and round in one pass): the values,
    scales and per-block choices are exactly those of the differentiable path."""
    torch.manual_seed(1)
    x = torch.randn(shape) * torch.logspace(-2, 1, shape[1]).reshape(1, -1, *([1] * (len(shape) - 2)))
    x[0, 0] = 0.0  # an all-zero block
    fq = FakeQuantize(fmt, role=role, granularity="channel" if role == "weight" else "tensor",
                      block_axis=1 if len(shape) > 2 else -1)
    if not fq.dynamic and role == "activation":
        fq.calibrating = True
        fq(x)
        fq.calibrating = False
        fq.freeze()
    ref = fq(x.clone().requires_grad_(True)).detach()
    ref_params = fq._adaptive_params or fq._qp
    with torch.no_grad():
        fast = fq(x)
    assert torch.equal(fast, ref)
    assert fast.stride() == ref.stride()  # torch chooses a conv kernel (and its summation order) by the strides
    params = fq._adaptive_params or fq._qp
    if fq.dynamic:
        a = params.qparams if hasattr(params, "qparams") else params
        b = ref_params.qparams if hasattr(ref_params, "qparams") else ref_params
        assert np.array_equal(a.scale, b.scale)
        if hasattr(params, "choice"):
            assert np.array_equal(params.choice, ref_params.choice)
