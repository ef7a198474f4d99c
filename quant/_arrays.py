"""NumPy/torch interop: every public codec call accepts either and returns the caller's type."""
from __future__ import annotations

from typing import Any

import numpy as np

from quant.errors import QuantError


def is_torch(x: Any) -> bool:
    mod = type(x).__module__
    return mod.startswith("torch") and hasattr(x, "detach")


def to_numpy(x: Any, *, what: str = "x", dtype=np.float32) -> np.ndarray:
    """Return a C-contiguous NumPy array of ``dtype`` with the shape of ``x`` (a 0-d input stays 0-d; no
    copy when already so). Torch floating types NumPy lacks (bfloat16, float8) are widened to float32."""
    if is_torch(x):
        import torch

        x = x.detach().cpu()
        if x.is_floating_point() and x.dtype not in (torch.float16, torch.float32, torch.float64):
            x = x.float()
        x = x.numpy()
    try:
        arr = np.asarray(x)
    except Exception as exc:
        raise QuantError(f"{what}: cannot convert {type(x).__name__} to an array ({exc})") from None
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating) or arr.dtype == bool):
        raise QuantError(f"{what}: expected a real numeric array, got dtype {arr.dtype}")
    return np.asarray(arr, dtype=dtype, order="C")


def like(result: np.ndarray, template: Any):
    """Return ``result`` as the same kind of container as ``template`` (torch tensor or NumPy array)."""
    if is_torch(template):
        import torch

        return torch.from_numpy(np.asarray(result, order="C")).to(template.device)
    return result
