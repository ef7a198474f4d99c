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
