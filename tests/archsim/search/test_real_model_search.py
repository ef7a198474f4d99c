"""`archsim search --model <real model>`: the error objective comes from a sensitivity table measured on the
model's real data (here MiniLM's encoder on embedded Debian package descriptions)."""
import json

import numpy as np
import torch

from archsim.cli import main
from quant.tasks import sample_inputs
from workloads import load_workload


def test_real_models_load_as_layer_graphs():
    g = load_workload("minilm")
    ops = [d["op"] for d in g.compute_layers()]
    assert ops.count("linear") == 36 and ops.count("matmul") == 12  # 6 layers: Q K V O, FFN in/out; QKᵀ, AV
    assert load_workload("ppocr_cls").input_shape[1:] == (3, 48, 192)


def test_sample_inputs_are_real_data_without_padding():
    x = sample_inputs("minilm", n=4, seq=16)
    assert x.shape == (4, 16, 384) and torch.isfinite(x).all()
    assert not torch.allclose(x[0], x[1])  # four different texts
    lines = sample_inputs("ppocr_cls", n=2)
    assert lines.shape == (2, 3, 48, 192) and float(lines.min()) >= -1 and float(lines.max()) <= 1


def test_search_on_minilm_measures_error_on_real_text(tmp_path, capsys):
    rc = main(["search", "--model", "minilm", "--formats", "int8,dybit4", "--objectives", "latency,error",
               "--precision-only", "--generations", "1", "--pop", "4", "--seed", "0", "--no-baselines",
               "--out", str(tmp_path), "--json"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    errors = [f["values"]["error"] for f in res["front"]]
    assert errors and all(np.isfinite(e) and e >= 0 for e in errors)
