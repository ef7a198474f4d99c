"""Output-aware calibration and GPTQ rounding on small built-in layers."""
import numpy as np
import pytest
import torch
from torch import nn

from quant.calibration import (
    bake_weights,
    choose_output_aware,
    choose_output_aware_sets,
    choose_weights,
    gptq,
    layer_hessians,
    output_error,
)
from quant.choose import choose_qparams
from quant.formats import get_format


@pytest.fixture(scope="module")
def layer():
    """A linear layer whose 48 inputs have very different, correlated magnitudes (as real activations do)."""
    rng = np.random.default_rng(7)
    mix = rng.standard_normal((48, 48)) * 0.3 + np.eye(48)
    x = (rng.standard_normal((1024, 48)) @ mix * np.exp(rng.standard_normal(48))).astype(np.float32)
    w = rng.standard_normal((24, 48)).astype(np.float32)
    h = (x.astype(np.float64).T @ x / len(x))[None]
    return w, h


def _weight_mse_quantize(name, w):
    """The project's default weight quantiser: per-output-channel, weight-MSE scale (and grid)."""
    f = get_format(name)
    if f.family == "adaptive":
        return f.quantize(w, granularity="channel", axis=0)
    if f.scale_rule == "mx":
        return f.quantize(w, choose_qparams(f, w, "mx", granularity="block", axis=1))
    return f.quantize(w, choose_qparams(f, w, "mse", granularity="channel", axis=0))


@pytest.mark.parametrize("name", ["int4", "int3", "e2m1", "nf4", "flint3", "ant4", "dybit4", "dybit3", "mxfp4",
                                  "posit4es1"])
def test_output_aware_never_worse_than_weight_mse_on_the_output(layer, name):
    w, h = layer
    ref = output_error((w - _weight_mse_quantize(name, w))[None], h)
    q = choose_output_aware(name, w[None], h)
    ours = output_error((w - q(w))[None], h)
    assert (ours <= ref * (1 + 1e-9)).all()  # per channel: the weight-MSE choice is among the candidates
    if get_format(name).family == "adaptive" or get_format(name).scale_rule != "mx":
        assert ours.sum() < 0.97 * ref.sum()  # and where there is a choice it helps


@pytest.mark.parametrize("name", ["int4", "dybit4", "nf4", "mxfp4"])
def test_gptq_reduces_output_error_vs_round_to_nearest(layer, name):
    w, h = layer
    q = choose_output_aware(name, w[None], h)
    rtn = output_error((w - q(w))[None], h).sum()
    wq = gptq(w[None], h, q)
    assert output_error(w[None] - wq, h).sum() < 0.9 * rtn
    # every GPTQ weight is a value of the format at the chosen scale: rounding it again changes nothing
    np.testing.assert_array_equal(q(wq[0]), wq[0])


def test_conv_hessian_is_the_im2col_second_moment():
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, padding=1, groups=2)
    x = torch.randn(3, 4, 5, 5)
    hs = layer_hessians(nn.Sequential(conv), ["0"], [x])
    h, rows = hs["0"]
    cols = nn.functional.unfold(x, 3, padding=1)  # (3, 36, 25)
    g0 = cols[:, :18].permute(0, 2, 1).reshape(-1, 18).double()
    assert rows == 75 and h.shape == (2, 18, 18)
    torch.testing.assert_close(h[0], g0.T @ g0)


def test_bake_weights_puts_grid_values_into_the_model():
    from quant.qmodel import QuantConv, calibrate, fold_batchnorm, quantize_model

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    x = torch.randn(16, 1, 8, 8)
    q = quantize_model(model, "w=int4,a=fp32", (1, 8, 8))
    done = bake_weights(q, fold_batchnorm(model), [x], "gptq")
    calibrate(q, [x])
    assert set(done.values()) == {"gptq"}
    for m in q.modules():
        if isinstance(m, QuantConv):
            w = m.conv.weight.detach().numpy().reshape(m.conv.weight.shape[0], -1)
            ratios = w / np.abs(w).max(1, keepdims=True)  # an int4 channel is j·s, |j| ≤ 7: j/k of its max
            on_grid = [np.abs(ratios * k - np.round(ratios * k)).max(1) < 1e-4 for k in range(1, 8)]
            assert np.logical_or.reduce(on_grid).all()
    assert q(x).shape == (16, 10)


@pytest.mark.parametrize("name", ["int4", "dybit4", "mxdybit4"])
def test_several_calibration_sets_at_once_choose_as_each_alone(layer, name):
    """The candidates are quantised once for all sets; each set's choice is the one it makes on its own, and
    different calibration data choose differently."""
    w, h = layer
    rng = np.random.default_rng(11)
    x2 = (rng.standard_normal((256, 48)) * np.exp(rng.standard_normal(48))).astype(np.float64)
    h2 = (x2.T @ x2 / len(x2))[None]
    both = choose_output_aware_sets(name, w[None], [h, h2])
    for q, hh in zip(both, (h, h2), strict=True):
        alone = choose_output_aware(name, w[None], hh)
        np.testing.assert_array_equal(q(w), alone(w))
        np.testing.assert_array_equal(q.scale, alone.scale)
    if name != "mxdybit4":  # OCP-MX-style block scales follow their rule: no choice to differ in
        assert not np.array_equal(both[0](w), both[1](w))


def test_choose_weights_per_set_equals_baking_each_set():
    from quant.qmodel import fold_batchnorm, quantize_model

    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    xs = [torch.randn(16, 1, 8, 8) * (1 + i) for i in range(2)]
    folded = fold_batchnorm(model)
    q = quantize_model(model, "w=dybit4,a=fp32", (1, 8, 8))
    hs = [layer_hessians(folded, ["0", "3"], [x]) for x in xs]
    chosen = choose_weights(q, "gptq", hs)
    assert [set(done.values()) for _, done in chosen] == [{"gptq"}, {"gptq"}] and chosen[0][0].keys() == {"0", "3"}
    for (weights, done), x in zip(chosen, xs, strict=True):
        qq = quantize_model(model, "w=dybit4,a=fp32", (1, 8, 8))
        assert bake_weights(qq, folded, [x], "gptq") == done
        for path, wt in weights.items():
            torch.testing.assert_close(qq.get_submodule(path).conv.weight.data, wt, rtol=0, atol=0)


def test_gptq_lazy_batches_equal_column_by_column_updates():
    """GPTQ's lazy batch updates (blocks of 128 columns, then one product) reorder the arithmetic only: on a
    layer of 300 columns (three blocks) the rounded weights are those of the plain column-at-a-time loop."""
    rng = np.random.default_rng(3)
    c, k = 24, 300
    w = (rng.standard_normal((1, c, k)) * 0.1).astype(np.float32)
    x = rng.standard_normal((900, k)) @ (np.eye(k) + 0.3 * rng.standard_normal((k, k)) / np.sqrt(k))
    h = (x.T @ x / len(x))[None]
    quant = choose_output_aware("int4", w, h)
    got = gptq(w, h, quant)
    hh = torch.from_numpy(h[0].copy())
    hh += 0.01 * torch.diagonal(hh).mean() * torch.eye(k, dtype=torch.float64)
    u = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(hh)), upper=True)
    wt = torch.from_numpy(w[0].astype(np.float64))
    ref = np.empty((c, k), np.float32)
    for j in range(k):  # Frantar et al. Algorithm 1 without lazy batches
        ref[:, j] = quant(wt[:, j].numpy().astype(np.float32)[:, None], (slice(None), slice(j, j + 1)))[:, 0]
        e = (wt[:, j] - torch.from_numpy(ref[:, j]).double()) / u[j, j]
        wt[:, j + 1:] -= e[:, None] * u[j, None, j + 1:]
    assert np.array_equal(got[0], ref)
