"""``LayerGraph``: the layer graph every other part consumes (torch-free, so ``archsim`` can use it).

A ``networkx.DiGraph`` with one node per compute layer and one ``input`` node per model input. Node
attributes (see ``LAYER_FIELDS``) describe the layer in hardware terms; for conv/linear/matmul, ``gemm`` is
the layer as ``batch`` independent (M×K)·(K×N) products, with MACs = batch·M·N·K. Edges carry data from
producer to consumer; an ``add``/``concat`` node's several in-edges are the residual/concat edges.
Nodes keep a deterministic topological ``index`` (the model's execution order).
"""
from __future__ import annotations

import json
from pathlib import Path

import networkx as nx

from workloads.errors import WorkloadError

SCHEMA = "dybit-archsim/layer-graph"
SCHEMA_VERSION = 1
COMPUTE_OPS = ("conv", "linear", "matmul")
VECTOR_OPS = ("pool", "add", "mul", "concat")
OPS = ("input",) + COMPUTE_OPS + VECTOR_OPS

LAYER_FIELDS = {
    "op": "one of " + ", ".join(OPS),
    "index": "position in execution (topological) order",
    "module": "module path in the source model ('' for functional ops)",
    "source": "fx node name / ONNX node name it came from",
    "in_shapes": "shapes of the activation operands",
    "weight_shape": "shape of the weight operand (conv/linear, or a parameter operand), else null",
    "out_shape": "output shape",
    "operands": "role of each operand in order: 'act' or 'weight'",
    "kernel": "(kh, kw) for conv/pool", "stride": "(sh, sw)", "padding": "(ph, pw)", "dilation": "(dh, dw)",
    "groups": "conv groups (== in_channels for depthwise)",
    "in_channels": "input channels / features", "out_channels": "output channels / features",
    "macs": "multiply-accumulates (conv/linear/matmul; 0 for vector ops)",
    "vector_ops": "element operations of pool/add/mul (comparisons or adds)",
    "weight_elems": "weight + bias elements", "act_in_elems": "activation input elements (all operands)",
    "act_out_elems": "output elements",
    "gemm": "{batch, M, N, K} for conv/linear/matmul",
    "bias": "has a bias", "bn_folded": "a BatchNorm was folded into this layer",
}
_TUPLE_FIELDS = ("out_shape", "weight_shape", "kernel", "stride", "padding", "dilation")


class LayerGraph:
    """A model as a DAG of layers. Build with ``workloads.extract_graph`` or load with ``from_json``."""

    def __init__(self, graph: nx.DiGraph | None = None, *, name: str = "model", input_shape: tuple = ()):
        self.graph = graph if graph is not None else nx.DiGraph()
        self.name = name
        self.input_shape = tuple(input_shape)

    # ------------------------------------------------------------------ building
    def add_layer(self, name: str, op: str, inputs=(), **attrs) -> str:
        if op not in OPS:
            raise WorkloadError(f"layer {name!r}: op {op!r} is not one of {', '.join(OPS)}")
        if name in self.graph:
            raise WorkloadError(f"layer {name!r} is defined twice")
        attrs = {k: tuple(v) if k in _TUPLE_FIELDS and v is not None else v for k, v in attrs.items()}
        defaults = dict(module="", source="", in_shapes=[], weight_shape=None, out_shape=(), operands=[],
                        kernel=None, stride=None, padding=None, dilation=None, groups=1, in_channels=0,
                        out_channels=0, macs=0, vector_ops=0, weight_elems=0, act_in_elems=0, act_out_elems=0,
                        gemm=None, bias=False, bn_folded=False)
        defaults.update(attrs)
        defaults["in_shapes"] = [tuple(s) for s in defaults["in_shapes"]]
        self.graph.add_node(name, op=op, index=self.graph.number_of_nodes(), **defaults)
        for src in inputs:
            if src not in self.graph:
                raise WorkloadError(f"layer {name!r}: input {src!r} is not a layer defined before it")
            self.graph.add_edge(src, name)
        return name

    # ------------------------------------------------------------------ reading
    def layers(self, ops=None) -> list[dict]:
        """Layers in execution order as dicts (``name`` included); optionally only the given ops."""
        order = nx.lexicographical_topological_sort(self.graph, key=lambda n: self.graph.nodes[n]["index"])
        out = []
        for n in order:
            d = self.graph.nodes[n]
            if d["op"] != "input" and (ops is None or d["op"] in ops):
                out.append({"name": n, **d})
        return out

    def compute_layers(self) -> list[dict]:
        return self.layers(COMPUTE_OPS)

    def __getitem__(self, name: str) -> dict:
        if name not in self.graph:
            raise WorkloadError(f"no layer named {name!r} in {self.name}")
        return {"name": name, **self.graph.nodes[name]}

    def __len__(self) -> int:
        return sum(1 for _, d in self.graph.nodes(data=True) if d["op"] != "input")

    def __iter__(self):
        return iter(self.layers())

    @property
    def total_macs(self) -> int:
        return int(sum(d["macs"] for _, d in self.graph.nodes(data=True)))

    @property
    def total_weight_elems(self) -> int:
        return int(sum(d["weight_elems"] for _, d in self.graph.nodes(data=True)))

    def op_counts(self) -> dict:
        counts: dict = {}
        for _, d in self.graph.nodes(data=True):
            if d["op"] != "input":
                counts[d["op"]] = counts.get(d["op"], 0) + 1
        return counts

    def __repr__(self) -> str:
        ops = ", ".join(f"{k}×{v}" for k, v in self.op_counts().items())
        return (f"LayerGraph({self.name!r}, input={self.input_shape}, {len(self)} layers [{ops}], "
                f"{self.total_macs / 1e9:.3f} GMAC, {self.total_weight_elems / 1e6:.2f} M weights)")

    def summary(self, max_rows: int | None = None) -> str:
        """A readable per-layer table."""
        rows = [f"{'#':>4} {'layer':38s} {'op':7s} {'out shape':20s} {'k/s/g':12s} {'MACs':>14s} {'weights':>11s}"]
        for i, d in enumerate(self.layers()):
            if max_rows is not None and i >= max_rows:
                rows.append(f"  … {len(self) - max_rows} more")
                break
            ksg = f"{d['kernel'][0]}/{d['stride'][0]}/{d['groups']}" if d["kernel"] else ""
            rows.append(f"{d['index']:>4} {d['name'][:38]:38s} {d['op']:7s} {str(tuple(d['out_shape'])):20s} "
                        f"{ksg:12s} {d['macs']:>14,} {d['weight_elems']:>11,}")
        rows.append(f"total: {self.total_macs:,} MACs, {self.total_weight_elems:,} weight elements")
        return "\n".join(rows)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        nodes = []
        for n, d in sorted(self.graph.nodes(data=True), key=lambda t: t[1]["index"]):
            nodes.append({"name": n, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}
                          | {"in_shapes": [list(s) for s in d["in_shapes"]]}})
        edges = [[u, v] for u, v in sorted(self.graph.edges, key=lambda e: (self.graph.nodes[e[1]]["index"],
                                                                            self.graph.nodes[e[0]]["index"]))]
        return {"schema": SCHEMA, "version": SCHEMA_VERSION, "name": self.name,
                "input_shape": list(self.input_shape), "nodes": nodes, "edges": edges}

    def to_json(self, path: str | Path | None = None, indent: int | None = 1) -> str:
        text = json.dumps(self.to_dict(), indent=indent)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_dict(cls, data: dict) -> LayerGraph:
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise WorkloadError(f"not a layer-graph document (expected schema {SCHEMA!r})")
        if data.get("version") != SCHEMA_VERSION:
            raise WorkloadError(f"layer-graph schema version {data.get('version')!r} is not supported "
                                f"(this build reads version {SCHEMA_VERSION})")
        g = nx.DiGraph()
        for node in data["nodes"]:
            node = dict(node)
            name = node.pop("name")
            for k in _TUPLE_FIELDS:
                if node.get(k) is not None:
                    node[k] = tuple(node[k])
            node["in_shapes"] = [tuple(s) for s in node.get("in_shapes", [])]
            g.add_node(name, **node)
        for u, v in data["edges"]:
            if u not in g or v not in g:
                raise WorkloadError(f"edge {u!r} → {v!r} names a layer that is not in the document")
            g.add_edge(u, v)
        return cls(g, name=data.get("name", "model"), input_shape=tuple(data.get("input_shape", ())))

    @classmethod
    def from_json(cls, text_or_path) -> LayerGraph:
        p = Path(text_or_path) if not str(text_or_path).lstrip().startswith("{") else None
        try:
            text = p.read_text() if p is not None else str(text_or_path)
            return cls.from_dict(json.loads(text))
        except (OSError, json.JSONDecodeError) as exc:
            raise WorkloadError(f"cannot read layer graph {text_or_path!s:.80}: {exc}") from None

    def same_as(self, other: LayerGraph) -> bool:
        return self.to_dict() == other.to_dict()
