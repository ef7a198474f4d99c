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
VECTOR_OPS = ("pool", "add", "mul", "concat", "embedding")
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
    "weight_elems": "weight + bias elements (embedding: the elements gathered, tokens × D)",
    "act_in_elems": "activation input elements (all operands)",
    "act_out_elems": "output elements",
    "gemm": "{batch, M, N, K} for conv/linear/matmul",
    "bias": "has a bias", "bn_folded": "a BatchNorm was folded into this layer",
}
_TUPLE_FIELDS = ("out_shape", "weight_shape", "kernel", "stride", "padding", "dilation")
_COUNT_FIELDS = ("in_channels", "out_channels", "macs", "vector_ops", "weight_elems", "act_in_elems", "act_out_elems")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_node(name, node: dict) -> None:
    """One node of a layer-graph document, field by field: a hand-edited or foreign file gets an error that
    names the layer, the field and the value instead of a wrong simulation."""
    def bad(field, value, want):
        raise WorkloadError(f"layer {name!r}: {field} must be {want}, got {value!r}")

    missing = [k for k in LAYER_FIELDS if k not in node]
    if missing:
        raise WorkloadError(f"layer {name!r}: missing field(s) {', '.join(missing)}")
    if node["op"] not in OPS:
        bad("op", node["op"], "one of " + ", ".join(OPS))
    if not _is_int(node["index"]) or node["index"] < 0:
        bad("index", node["index"], "an integer ≥ 0")
    for k in _COUNT_FIELDS:
        if not _is_int(node[k]) or node[k] < 0:
            bad(k, node[k], "an integer ≥ 0")
    if not _is_int(node["groups"]) or node["groups"] < 1:
        bad("groups", node["groups"], "an integer ≥ 1")
    for k in ("bias", "bn_folded"):
        if not isinstance(node[k], bool):
            bad(k, node[k], "true or false")

    def ints(v, low):
        return isinstance(v, list | tuple) and all(_is_int(e) and e >= low for e in v)

    if not ints(node["out_shape"], 1):
        bad("out_shape", node["out_shape"], "a list of positive integers")
    if not isinstance(node["in_shapes"], list) or not all(ints(sh, 1) for sh in node["in_shapes"]):
        bad("in_shapes", node["in_shapes"], "a list of shapes of positive integers")
    for k, low in (("weight_shape", 1), ("kernel", 1), ("stride", 1), ("dilation", 1), ("padding", 0)):
        if node[k] is not None and not (ints(node[k], low) and node[k]):
            bad(k, node[k], f"null or a list of integers ≥ {low}")
    if not isinstance(node["operands"], list) or not all(o in ("act", "weight") for o in node["operands"]):
        bad("operands", node["operands"], "a list of 'act' / 'weight'")
    if node["op"] in COMPUTE_OPS:
        gm = node["gemm"]
        if not isinstance(gm, dict) or set(gm) != {"batch", "M", "N", "K"} or \
                not all(_is_int(v) and v >= 1 for v in gm.values()):
            bad("gemm", gm, "{batch, M, N, K} of positive integers")
        if node["macs"] != gm["batch"] * gm["M"] * gm["N"] * gm["K"]:
            bad("macs", node["macs"], f"gemm batch·M·N·K = {gm['batch'] * gm['M'] * gm['N'] * gm['K']:,}")
        if node["op"] == "conv" and node["kernel"] is None:
            bad("kernel", None, "a list of integers ≥ 1 for a conv")
        if node["act_out_elems"] != gm["batch"] * gm["M"] * gm["N"]:  # every output element is one GEMM output
            bad("act_out_elems", node["act_out_elems"], f"gemm batch·M·N = {gm['batch'] * gm['M'] * gm['N']:,}")
    n_out = 1
    for d in node["out_shape"]:
        n_out *= d
    if node["op"] != "input" and node["act_out_elems"] != n_out:  # a hand edit of one field but not the other
        bad("act_out_elems", node["act_out_elems"], f"the product of out_shape {list(node['out_shape'])} = {n_out:,}")


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
        for key in ("nodes", "edges"):
            if not isinstance(data.get(key), list):
                raise WorkloadError(f"layer-graph document: {key!r} must be a list")
        g = nx.DiGraph()
        for i, node in enumerate(data["nodes"]):
            if not isinstance(node, dict) or not isinstance(node.get("name"), str) or not node["name"]:
                raise WorkloadError(f"layer-graph document: node #{i} has no name")
            node = dict(node)
            name = node.pop("name")
            if name in g:
                raise WorkloadError(f"layer {name!r} is defined twice in the document")
            _check_node(name, node)
            for k in _TUPLE_FIELDS:
                if node.get(k) is not None:
                    node[k] = tuple(node[k])
            node["in_shapes"] = [tuple(s) for s in node["in_shapes"]]
            g.add_node(name, **node)
        for e in data["edges"]:
            if not (isinstance(e, list | tuple) and len(e) == 2):
                raise WorkloadError(f"layer-graph document: an edge must be [producer, consumer], got {e!r}")
            u, v = e
            if u not in g or v not in g:
                raise WorkloadError(f"edge {u!r} → {v!r} names a layer that is not in the document")
            g.add_edge(u, v)
        if not nx.is_directed_acyclic_graph(g):
            edges = nx.find_cycle(g)
            cycle = " → ".join([u for u, _ in edges] + [edges[0][0]])
            raise WorkloadError(f"layer-graph document: the edges form a cycle ({cycle}); a model is a DAG")
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
