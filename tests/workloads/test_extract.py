import math

import networkx as nx
import pytest
import torch
from torch import nn

from workloads import WorkloadError, extract_graph
from workloads.zoo import get_entry, get_model, list_models


def hook_counts(model, input_shape):
    """Independent MAC/weight count: forward hooks on Conv/Linear modules + explicit matmul MACs."""
    macs, weights = [0], [0]

    def conv_hook(m, inp, out):
        macs[0] += out.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size)

    def lin_hook(m, inp, out):
        macs[0] += out.numel() * m.in_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(conv_hook)
            weights[0] += m.weight.numel()
        elif isinstance(m, nn.Linear):
            m.register_forward_hook(lin_hook)
            weights[0] += m.weight.numel()
    real_matmul = torch.matmul

    def counting_matmul(a, b):
        out = real_matmul(a, b)
        macs[0] += out.numel() * a.shape[-1]
        return out

    torch.matmul = counting_matmul
    try:
        with torch.no_grad():
            model(torch.randn(1, *input_shape))
    finally:
        torch.matmul = real_matmul
    return macs[0], weights[0]


@pytest.mark.parametrize("name", list_models())
def test_macs_and_weights_match_independent_count(name, zoo_graphs):
    model, shape = get_model(name)
    macs, weights = hook_counts(model, shape)
    g = zoo_graphs(name)
    assert g.total_macs == macs
    extra = sum(p.numel() for n, p in model.named_parameters() if n in ("cls_token", "pos_embed"))
    assert g.total_weight_elems == weights + extra


@pytest.mark.parametrize("name, published", [("resnet18", 1.82e9), ("resnet50", 4.1e9), ("mobilenet_v2", 0.30e9),
                                             ("vgg16", 15.5e9)])
def test_published_mac_counts_within_one_percent(name, published, zoo_graphs):
    assert get_entry(name).published_macs == published
    assert abs(zoo_graphs(name).total_macs - published) / published < 0.01


@pytest.mark.parametrize("name, params", [("resnet18", 11_689_512), ("resnet50", 25_557_032),
                                          ("mobilenet_v2", 3_504_872), ("vgg16", 138_357_544)])
def test_zoo_parameter_counts_equal_torchvision(name, params):
    model, _ = get_model(name)
    assert sum(p.numel() for p in model.parameters()) == params


@pytest.mark.parametrize("name", list_models())
def test_graph_invariants(name, zoo_graphs):
    g = zoo_graphs(name)
    G = g.graph
    assert nx.is_directed_acyclic_graph(G)
    inputs = [n for n, d in G.nodes(data=True) if d["op"] == "input"]
    assert len(inputs) == 1
    assert set(nx.descendants(G, inputs[0])) == set(G) - set(inputs)
    order = [d["index"] for d in g.layers()]
    assert order == sorted(order)
    for u, v in G.edges:
        assert G.nodes[u]["index"] < G.nodes[v]["index"]
    for d in g.compute_layers():
        gm = d["gemm"]
        assert d["macs"] == gm["batch"] * gm["M"] * gm["N"] * gm["K"] > 0
        assert d["act_out_elems"] == math.prod(d["out_shape"])


def test_residual_edges_and_bn_folding(zoo_graphs):
    for name, n_add in (("resnet18", 8), ("resnet50", 16)):
        g = zoo_graphs(name)
        adds = g.layers(["add"])
        assert len(adds) == n_add
        for d in adds:
            preds = list(g.graph.predecessors(d["name"]))
            assert len(preds) == 2  # the residual (skip) edge and the block's output
        assert all(d["bn_folded"] for d in g.layers(["conv"]))
    assert not zoo_graphs("vgg16").layers(["conv"])[0]["bn_folded"]


def test_depthwise_groups_in_mobilenet(zoo_graphs):
    dw = [d for d in zoo_graphs("mobilenet_v2").layers(["conv"]) if d["groups"] > 1]
    assert len(dw) == 17
    assert all(d["groups"] == d["in_channels"] == d["out_channels"] and d["gemm"]["K"] == 9 for d in dw)


@pytest.mark.parametrize("name, heads, tokens, dim", [("bert_base", 12, 128, 64), ("vit_tiny", 3, 197, 64)])
def test_attention_matmuls_are_activation_by_activation(name, heads, tokens, dim, zoo_graphs):
    mm = zoo_graphs(name).layers(["matmul"])
    assert len(mm) == 24
    for d in mm:
        assert d["operands"] == ["act", "act"] and d["weight_elems"] == 0
        assert d["macs"] == heads * tokens * tokens * dim
        assert len(d["in_shapes"]) == 2


def test_batch_and_input_shape_are_parameters():
    model, _ = get_model("resnet18")
    g1 = extract_graph(model, (3, 224, 224))
    g4 = extract_graph(model, (3, 224, 224), batch=4)
    g_small = extract_graph(model, (3, 112, 112))
    assert g4.total_macs == 4 * g1.total_macs
    assert g4.input_shape == (4, 3, 224, 224)
    assert g_small.total_macs < g1.total_macs / 3


class Branchy(nn.Module):
    """Python control flow on a shape: symbolic tracing fails, torch.export handles it."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        y = self.a(x) if x.shape[-1] > 16 else self.b(x)
        return torch.cat([y, y * 2], dim=1)


def test_torch_export_fallback():
    with pytest.raises(WorkloadError, match="symbolic_trace"):
        extract_graph(Branchy(), (3, 32, 32), method="fx")
    g = extract_graph(Branchy(), (3, 32, 32))
    assert g.op_counts() == {"conv": 1, "concat": 1}
    assert g.total_macs == 8 * 32 * 32 * 27
    assert g.compute_layers()[0]["weight_elems"] == 8 * 27


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return torch.cumsum(self.fc(x), dim=-1)


def test_unsupported_op_names_the_fx_node():
    with pytest.raises(WorkloadError, match=r"fx node 'cumsum'.*cumsum"):
        extract_graph(Unsupported(), (8,), method="fx")


class DataDependent(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


def test_an_untraceable_model_is_one_clear_error(capfd):
    with pytest.raises(WorkloadError, match=r"cannot trace the model\. torch\.fx .*; torch\.export: .*data-dependent"):
        extract_graph(DataDependent(), (3, 8, 8))
    assert capfd.readouterr().err == ""  # torch.export's warnings and graph dumps are not passed on


@pytest.mark.parametrize("call, match", [
    (lambda: extract_graph(get_model("resnet18")[0], (3, 224)), "input of shape"),
    (lambda: extract_graph("resnet18", (3, 224, 224)), "nn.Module"),
    (lambda: extract_graph(get_model("fashion_cnn")[0], (1, -28, 28)), "positive integers"),
    (lambda: extract_graph(get_model("fashion_cnn")[0], (1, 28, 28), batch=0), "batch"),
])
def test_bad_inputs(call, match):
    with pytest.raises(WorkloadError, match=match):
        call()
