import glob
import importlib.util
import math
import os
import textwrap

import numpy as np
import pytest

from workloads import LayerGraph, WorkloadError, load_workload
from workloads.onnx_import import load_onnx_graph
from workloads.scalesim import from_scalesim_csv, to_scalesim_csv


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "bert_base", "vit_tiny"])
def test_json_round_trip_is_lossless(name, zoo_graphs, tmp_path):
    g = zoo_graphs(name)
    path = tmp_path / "g.json"
    g.to_json(path)
    back = LayerGraph.from_json(path)
    assert back.same_as(g)
    assert sorted(back.graph.edges) == sorted(g.graph.edges)
    assert back[g.layers()[3]["name"]] == g[g.layers()[3]["name"]]
    assert back.to_json() == g.to_json()


def test_json_errors(tmp_path):
    with pytest.raises(WorkloadError, match="schema"):
        LayerGraph.from_json('{"nodes": []}')
    with pytest.raises(WorkloadError, match="version 99"):
        LayerGraph.from_json('{"schema": "dybit-archsim/layer-graph", "version": 99}')
    with pytest.raises(WorkloadError, match="cannot read"):
        LayerGraph.from_json(tmp_path / "missing.json")


def _conv1(d):
    return next(n for n in d["nodes"] if n["name"] == "conv1")


@pytest.mark.parametrize("edit, match", [
    (lambda d: _conv1(d).update(macs=-5), r"layer 'conv1': macs must be an integer ≥ 0, got -5"),
    (lambda d: _conv1(d).update(macs="many"), r"layer 'conv1': macs must be an integer ≥ 0, got 'many'"),
    (lambda d: _conv1(d).update(macs=5), r"layer 'conv1': macs must be gemm batch·M·N·K = 225,792, got 5"),
    (lambda d: _conv1(d).update(op="fft"), r"layer 'conv1': op must be one of input, conv"),
    (lambda d: _conv1(d)["gemm"].update(K=0), r"layer 'conv1': gemm must be"),
    (lambda d: _conv1(d).pop("gemm"), r"layer 'conv1': missing field\(s\) gemm"),
    (lambda d: _conv1(d).update(kernel=[0, 3]), r"layer 'conv1': kernel must be null or a list of integers ≥ 1"),
    (lambda d: _conv1(d).update(out_shape=[1, -3]), r"layer 'conv1': out_shape must be a list of positive"),
    (lambda d: _conv1(d).update(bias="yes"), r"layer 'conv1': bias must be true or false"),
    (lambda d: _conv1(d).update(name="input"), r"layer 'input' is defined twice"),
    (lambda d: d["edges"].append(["conv2", "conv1"]), r"cycle \(.*conv1 → .*conv2 → conv1\)"),
    (lambda d: d["edges"].append(["conv2"]), r"an edge must be \[producer, consumer\]"),
    (lambda d: d.update(nodes={}), r"'nodes' must be a list"),
])
def test_a_hand_edited_graph_file_is_checked_field_by_field(edit, match):
    d = load_workload("lenet5").to_dict()
    edit(d)
    with pytest.raises(WorkloadError, match=match):
        LayerGraph.from_dict(d)


def test_scalesim_csv_round_trip_and_effective_input_size(zoo_graphs):
    g = zoo_graphs("resnet18")
    text = to_scalesim_csv(g)
    lines = text.strip().splitlines()
    assert lines[0].startswith("Layer name,IFMAP Height")
    assert lines[1] == "conv1,229,229,7,7,3,64,2,"  # (112-1)*2+7: SCALE-Sim's unpadded output is 112
    back = from_scalesim_csv(text)
    assert back.total_macs == g.total_macs
    assert to_scalesim_csv(back) == text
    for a, b in zip(back.compute_layers(), g.compute_layers(), strict=True):
        assert a["out_shape"][1:] == b["out_shape"][1:] or b["op"] == "linear"


def test_scalesim_grouped_and_linear_rows_keep_macs(zoo_graphs):
    g = zoo_graphs("mobilenet_v2")
    back = from_scalesim_csv(to_scalesim_csv(g))
    assert back.total_macs == g.total_macs


def test_scalesim_bad_file():
    with pytest.raises(WorkloadError, match="Layer name"):
        from_scalesim_csv("a,b\n1,2\n")
    with pytest.raises(WorkloadError, match="line 2"):
        from_scalesim_csv("Layer name, IFMAP Height\nconv, x, 3\n")


def test_user_model_file_factory(tmp_path):
    src = tmp_path / "mynet.py"
    src.write_text(textwrap.dedent("""
        from torch import nn
        def build():
            return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 8 * 8, 10))
        def not_a_model():
            return 42
    """))
    g = load_workload(f"{src}:build", (3, 8, 8))
    assert g.op_counts() == {"conv": 1, "linear": 1}
    assert g.total_macs == 16 * 64 * 27 + 1024 * 10
    with pytest.raises(WorkloadError, match="not a torch.nn.Module"):
        load_workload(f"{src}:not_a_model", (3, 8, 8))
    with pytest.raises(WorkloadError, match="no callable 'nope'"):
        load_workload(f"{src}:nope", (3, 8, 8))
    with pytest.raises(WorkloadError, match="input shape"):
        load_workload(f"{src}:build")
    with pytest.raises(WorkloadError, match="no such file"):
        load_workload(f"{tmp_path}/absent.py:build", (3, 8, 8))
    with pytest.raises(WorkloadError, match="input of shape"):
        load_workload(f"{src}:build", (3, 8))
    with pytest.raises(WorkloadError, match="unknown model 'resnet19'"):
        load_workload("resnet19")


def test_onnx_export_of_a_zoo_model_matches_fx(tmp_path, zoo_graphs):
    import torch

    from workloads.zoo import get_model

    model, shape = get_model("fashion_resnet")
    path = tmp_path / "m.onnx"
    torch.onnx.export(model, torch.randn(1, *shape), str(path), dynamo=False)
    g = load_workload(str(path), shape)
    ref = zoo_graphs("fashion_resnet")
    assert g.total_macs == ref.total_macs
    assert g.op_counts() == ref.op_counts()


def test_not_an_onnx_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf at all")
    with pytest.raises(WorkloadError, match="not a readable ONNX model"):
        load_workload(str(bad), (3, 8, 8))


def _ppocr_cls():
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    assert spec is not None, "rapidocr-onnxruntime must be installed (--no-deps) in the test environment"
    return glob.glob(os.path.join(spec.submodule_search_locations[0], "models", "*cls*.onnx"))[0]


def test_real_third_party_onnx_model():
    """PP-OCR direction classifier (MobileNetV3-style: depthwise convs, SE blocks, hardswish, residual adds)."""
    import onnx
    from onnx import numpy_helper

    path = _ppocr_cls()
    g = load_onnx_graph(path, (3, 48, 192))
    # independent count straight from the ONNX protobuf: weights by name, output sizes from a reference run
    m = onnx.load(path)
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in m.graph.node if n.op_type == "Constant"}
    convs = [n for n in m.graph.node if n.op_type == "Conv"]
    from onnx.reference import ReferenceEvaluator

    outs = [n.output[0] for n in convs]
    m2 = onnx.ModelProto()
    m2.CopyFrom(m)
    del m2.graph.output[:]
    m2.graph.output.extend(onnx.helper.make_empty_tensor_value_info(o) for o in outs)
    vals = ReferenceEvaluator(m2).run(None, {"x": np.zeros((1, 3, 48, 192), np.float32)})
    conv_macs = sum(v.size * math.prod(consts[n.input[1]].shape[1:]) for n, v in zip(convs, vals, strict=True))
    mm = [n for n in m.graph.node if n.op_type == "MatMul"][0]
    fc = consts[mm.input[1]].shape
    assert g.total_macs == conv_macs + fc[0] * fc[1]
    assert g.op_counts()["conv"] == len(convs) == 53
    dw = [d for d in g.layers(["conv"]) if d["groups"] > 1]
    assert dw and all(d["groups"] == d["in_channels"] for d in dw)
    assert len(g.layers(["pool"])) == 11  # 10 SE squeezes + the max pool
    assert len(g.layers(["add"])) == 7  # residual adds (bias adds folded into their convs)
    assert g.op_counts()["mul"] == 27  # hardswish x·hsig(x) and SE excitation scale: act × act
