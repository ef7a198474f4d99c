import numpy as np
import torch
from torch import nn

from quant import get_format
from quant.qmodel import input_reduction_axis
from quant.sensitivity import _quant, sensitivity_table


def test_mx_blocks_run_along_the_reduction_axis():
    rng = np.random.default_rng(0)
    mx = get_format("mxfp4")
    w = rng.standard_normal((8, 40, 3, 3)).astype(np.float32)
    # along C_in·kh·kw: a block along the last axis would hold only the 3 taps of one kernel row
    flat = mx.quantize(w.reshape(8, -1), granularity="block", axis=1).reshape(w.shape)
    assert np.array_equal(_quant("mxfp4", w, "weight"), flat)
    assert not np.array_equal(_quant("mxfp4", w, "weight"), mx.quantize(w, granularity="block", axis=-1))
    a = rng.standard_normal((2, 50)).astype(np.float32)
    assert input_reduction_axis(nn.Linear(50, 3)) == -1 and input_reduction_axis(nn.Conv2d(3, 4, 3)) == 1
    assert np.array_equal(_quant("mxfp4", a, "activation", -1), mx.quantize(a, granularity="block", axis=-1))


def test_sensitivity_table_ranks_formats_by_output_error():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    table = sensitivity_table(model, (3, 8, 8), ["int8", "mxfp4", "int2"], cache=False)
    assert len(table) == 2
    for layer in table.values():
        assert 0 <= layer["int8"] < layer["mxfp4"] < layer["int2"]


def test_the_table_cache_sees_every_weight_and_survives_a_corrupt_file(tmp_path, monkeypatch):
    import quant.sensitivity as sens

    monkeypatch.setattr(sens, "CACHE_DIR", tmp_path)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2000, 4), nn.ReLU(), nn.Linear(4, 3))
    first = sensitivity_table(model, (2000,), ["int4"], name="m")
    files = list(tmp_path.glob("sens-m-*.json"))
    assert len(files) == 1 and not list(tmp_path.glob("*.tmp"))
    files[0].write_text('{"0": {"in')  # a half-written file (e.g. a killed run)
    assert sensitivity_table(model, (2000,), ["int4"], name="m") == first  # recomputed, not a JSONDecodeError
    with torch.no_grad():
        model[0].weight[-1, -1] += 5.0  # byte 32,000 of the tensor: a key over its first 4 kB missed this
    changed = sensitivity_table(model, (2000,), ["int4"], name="m")
    assert len(list(tmp_path.glob("sens-m-*.json"))) == 2 and changed != first
    bf16 = sensitivity_table(model.to(torch.bfloat16), (2000,), ["int4"], name="m", x=torch.randn(2, 2000))
    assert set(bf16) == set(first)  # a bf16 model's weights are hashed too
