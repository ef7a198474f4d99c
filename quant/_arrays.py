"""NumPy/torch interop: every public codec call accepts either and returns the caller's type."""
from __future__ import annotations

from typing import Any

import numpy as np

from quant.errors import QuantError


def is_torch(x: Any) -> bool:
    mod = type(x).__module__
    return mod.startswith("torch") and hasattr(x, "detach")


def to_numpy(x: Any, *, what: str = "x", dtype=np.float32) -> np.ndarray:
    """Return a C-contiguous NumPy array of ``dtype`` (no copy when already so)."""
    if is_torch(x):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic objects
        raise QuantError(f"{what}: cannot convert {type(x).__name__} to an array ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise QuantError(f"{what}: expected a numeric array, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=dtype)


def like(result: np.ndarray, template: Any):
    """Return ``result`` as the same kind of container as ``template`` (torch tensor or NumPy array)."""
    if is_torch(template):
        import torch

        return torch.from_numpy(np.ascontiguousarray(result)).to(template.device)
    return result
