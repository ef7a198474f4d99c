"""Workloads: the model zoo, torch.fx → layer-graph extraction, importers/exporters, real weights.

``LayerGraph`` and the JSON/CSV readers are torch-free; extraction imports torch when called.
"""
from workloads.errors import WorkloadError
from workloads.graph import LayerGraph
from workloads.loader import load_workload

__all__ = ["LayerGraph", "WorkloadError", "load_workload", "extract_graph"]


def extract_graph(*args, **kwargs):
    from workloads.extract import extract_graph as _extract

    return _extract(*args, **kwargs)
