"""One entry point for every way a user names a workload: zoo name, ``file.py:factory``, ``.onnx``,
layer-graph ``.json``, SCALE-Sim ``.csv``, or a Hugging Face causal LM (``hf:PATH/config.json`` or a shipped LLM
config name: its prefill, traced on the meta device)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from workloads.errors import WorkloadError
from workloads.graph import LayerGraph


def load_user_model(spec: str):
    """``path/to/file.py:factory`` → the nn.Module the factory returns."""
    from torch import nn

    path_s, _, factory = spec.rpartition(":")
    path = Path(path_s)
    if not factory or not path_s.endswith(".py"):
        raise WorkloadError(f"model {spec!r}: expected path/to/file.py:factory")
    if not path.is_file():
        raise WorkloadError(f"model {spec!r}: no such file {path}")
    mod_name = f"_archsim_user_{abs(hash(str(path.resolve())))}"
    spec_obj = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec_obj)
    try:
        sys.modules[mod_name] = module
        spec_obj.loader.exec_module(module)
    except Exception as exc:
        raise WorkloadError(f"model {spec!r}: importing {path} failed: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, factory, None)
    if not callable(fn):
        raise WorkloadError(f"model {spec!r}: {path} has no callable {factory!r}")
    try:
        model = fn()
    except Exception as exc:
        raise WorkloadError(f"model {spec!r}: calling {factory}() failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(model, nn.Module):
        raise WorkloadError(f"model {spec!r}: {factory}() returned {type(model).__name__}, not a torch.nn.Module")
    return model


def load_workload(spec: str, input_shape=None, *, batch: int = 1) -> LayerGraph:
    """Layer graph for ``spec``. ``input_shape`` excludes the batch; zoo models have a default."""
    from workloads.zoo import get_entry, list_models

    if not isinstance(spec, str) or not spec:
        raise WorkloadError(f"model: expected a name or a path, got {spec!r}")
    from workloads.hf import is_hf_model

    if is_hf_model(spec):  # a Hugging Face causal LM from its config: the prefill of input_shape[0] tokens
        from workloads.hf import extract_hf

        tokens = 128
        if input_shape is not None:
            shape = tuple(input_shape)
            if len(shape) != 1 or not isinstance(shape[0], int) or shape[0] < 1:
                raise WorkloadError(f"model {spec!r}: --input-shape is the prompt length in tokens (e.g. 512), "
                                    f"got {','.join(map(str, shape))}")
            tokens = shape[0]
        return extract_hf(spec, tokens, batch=batch)
    if spec.endswith((".json", ".csv")):
        # a layer-graph JSON or a SCALE-Sim topology has its shapes written in it: a batch or an input shape
        # cannot change them, and ignoring one would simulate another workload than the one asked for
        kind = "layer-graph JSON" if spec.endswith(".json") else "SCALE-Sim topology"
        if batch != 1:
            raise WorkloadError(f"model {spec!r}: --batch {batch} cannot change a {kind}, whose shapes are fixed "
                                f"(export the graph at that batch, e.g. archsim graph --batch {batch} --json …)")
        if input_shape is not None:
            raise WorkloadError(f"model {spec!r}: --input-shape cannot change a {kind}, whose shapes are fixed")
        if spec.endswith(".json"):
            return LayerGraph.from_json(spec)
        from workloads.scalesim import from_scalesim_csv

        return from_scalesim_csv(spec, name=Path(spec).stem)
    if spec.endswith(".onnx"):
        from workloads.onnx_import import load_onnx_graph

        if not Path(spec).is_file():
            raise WorkloadError(f"model {spec!r}: no such file")
        return load_onnx_graph(spec, input_shape, batch=batch)
    from workloads.extract import extract_graph

    if ":" in spec and spec.split(":")[0].endswith(".py"):
        if input_shape is None:
            raise WorkloadError(f"model {spec!r}: a user model needs an input shape (e.g. --input-shape 3,224,224)")
        model = load_user_model(spec)
        return extract_graph(model, input_shape, batch=batch, name=Path(spec.split(":")[0]).stem)
    from workloads.pretrained import REAL_MODELS

    if spec in REAL_MODELS:  # a real trained model from a package (PP-OCR classifier, MiniLM encoder)
        factory, shape = REAL_MODELS[spec]
        return extract_graph(factory(), input_shape or shape, batch=batch, name=spec)
    if spec not in list_models():
        get_entry(spec)  # raises the "unknown model" error with the list
    entry = get_entry(spec)
    model = entry.factory().eval()
    return extract_graph(model, input_shape or entry.input_shape, batch=batch, name=spec)
