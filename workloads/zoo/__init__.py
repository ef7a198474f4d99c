"""The model zoo, defined in-project (no torchvision here). ``get_model(name)`` → (nn.Module, input shape)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from workloads.errors import WorkloadError


@dataclass(frozen=True)
class ZooEntry:
    name: str
    factory: Callable
    input_shape: tuple  # without the batch dimension
    description: str
    published_macs: float | None = None  # at the default input, batch 1, from the cited paper/torchvision


def _entries():
    from workloads.zoo import fashion, mobilenet, resnet, transformer, vgg

    return {e.name: e for e in [
        ZooEntry("resnet18", resnet.resnet18, (3, 224, 224), "ResNet-18 (torchvision layout)", 1.82e9),
        ZooEntry("resnet50", resnet.resnet50, (3, 224, 224), "ResNet-50 v1.5 (torchvision layout)", 4.1e9),
        ZooEntry("mobilenet_v2", mobilenet.mobilenet_v2, (3, 224, 224), "MobileNetV2 1.0", 0.30e9),
        ZooEntry("vgg16", vgg.vgg16, (3, 224, 224), "VGG-16 (configuration D)", 15.5e9),
        ZooEntry("vit_tiny", transformer.vit_tiny, (3, 224, 224), "ViT, DeiT-tiny shapes (192-d, 12 layers)",
                 1.3e9),
        ZooEntry("bert_base", transformer.bert_base, (128, 768), "BERT-base encoder, 12 layers (seq len × 768)",
                 None),
        ZooEntry("fashion_cnn", fashion.FashionCNN, (1, 28, 28), "Fashion-MNIST CNN (project)", None),
        ZooEntry("fashion_resnet", fashion.FashionResNet, (1, 28, 28), "Fashion-MNIST residual CNN (project)",
                 None),
        ZooEntry("lenet5", fashion.LeNet5, (1, 28, 28), "MNIST LeNet-5 (advertorch layout; trained weights in "
                 "the advertorch sdist)", None),
    ]}


def list_models() -> list[str]:
    return list(_entries())


def get_entry(name: str) -> ZooEntry:
    entries = _entries()
    if name not in entries:
        raise WorkloadError(f"unknown model {name!r}; the zoo has: {', '.join(entries)} "
                            f"(or pass path/to/file.py:factory or an .onnx file)")
    return entries[name]


def get_model(name: str, seed: int = 0):
    """(model, input shape). Initialised from a fixed seed, so untrained zoo models are the same every run
    (their weights feed the error proxies); the global torch RNG is left as it was."""
    import torch

    e = get_entry(name)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = e.factory()
    return model.eval(), e.input_shape
