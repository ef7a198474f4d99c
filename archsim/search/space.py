"""The search space: one integer genome = per-layer (weight, activation) formats + accelerator genes.

Genome layout: ``[w_0, a_0, w_1, a_1, …, w_{L-1}, a_{L-1}, hw_0, hw_1, …]``; each gene indexes a list of
choices. ``decode`` turns a genome into (PrecisionPlan, Accelerator); ``repair`` makes any genome legal
(clips indices, and grows buffers that are too small for the smallest tile).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from archsim.config import Accelerator, load_hw
from archsim.errors import ArchsimError, ConfigError
from quant.plan import LayerPrecision, PrecisionPlan

DEFAULT_FORMATS = ("int8", "dybit6", "dybit5", "dybit4", "dybit3", "int4", "e2m1")
HW_GENES = {
    "array.rows": (8, 16, 32, 64),
    "array.cols": (16, 32, 64),
    "buffers.weight.kib": (16, 32, 64, 128, 256),
    "buffers.input.kib": (16, 32, 64, 128),
    "buffers.output.kib": (16, 32, 64, 128),
    "dram.bus_bits": (64, 128, 192, 256, 512),
    "decoder.count": (4, 8, 16, 32),
    "array.dataflow": ("ws", "os", "is"),
    "array.kind": ("fusion", "binary"),
}


def select_hw_genes(names) -> dict:
    """The subset of ``HW_GENES`` named in ``names`` (all of them when empty), in HW_GENES order."""
    names = [n.strip() for n in names if n.strip()]
    unknown = [n for n in names if n not in HW_GENES]
    if unknown:
        raise ArchsimError(f"hardware genes: unknown {', '.join(map(repr, unknown))}; "
                           f"searchable genes are {', '.join(HW_GENES)}")
    return {k: v for k, v in HW_GENES.items() if not names or k in names}


@dataclass
class SearchSpace:
    layers: list[str]
    formats: tuple = DEFAULT_FORMATS
    hw_base: Accelerator = field(default_factory=lambda: load_hw("default"))
    hw_genes: dict = field(default_factory=lambda: dict(HW_GENES))
    weight_formats: tuple | None = None
    act_formats: tuple | None = None
    # a last gene choosing how the design's layers are mapped (archsim.mapping.OBJECTIVES); none when empty
    mapper_objectives: tuple = ()

    def __post_init__(self):
        from quant import QuantError, get_format

        self.weight_formats = tuple(self.weight_formats or self.formats)
        self.act_formats = tuple(self.act_formats or self.formats)
        if not self.weight_formats or not self.act_formats:
            raise ArchsimError("search formats: none given; name at least one (e.g. int8,dybit4)")
        for f in set(self.weight_formats) | set(self.act_formats):
            try:
                get_format(f)
            except QuantError as exc:
                raise ArchsimError(f"search formats: {exc}") from None
        for key, choices in self.hw_genes.items():
            if not choices:
                raise ConfigError(f"search gene {key}: needs at least one choice")
            node = self.hw_base.to_dict()
            for part in key.split("."):
                if not isinstance(node, dict) or part not in node:
                    raise ConfigError(f"search gene {key}: unknown hardware key")
                node = node[part]
        if not self.layers:
            raise ArchsimError("search: the graph has no compute layers")
        from archsim.mapping import OBJECTIVES as MAPPER_OBJECTIVES

        self.mapper_objectives = tuple(self.mapper_objectives)
        bad = [o for o in self.mapper_objectives if o not in MAPPER_OBJECTIVES]
        if bad or len(set(self.mapper_objectives)) != len(self.mapper_objectives):
            raise ArchsimError(f"search mapper objectives: distinct names from {', '.join(MAPPER_OBJECTIVES)}, "
                               f"got {', '.join(self.mapper_objectives)}")

    @property
    def n_var(self) -> int:
        return 2 * len(self.layers) + len(self.hw_genes) + bool(self.mapper_objectives)

    @property
    def upper(self) -> np.ndarray:
        ub = [len(self.weight_formats) - 1, len(self.act_formats) - 1] * len(self.layers)
        ub += [len(c) - 1 for c in self.hw_genes.values()]
        ub += [len(self.mapper_objectives) - 1] if self.mapper_objectives else []
        return np.array(ub, dtype=np.int64)

    def mapper_objective(self, x) -> str | None:
        """How genome ``x`` maps its layers (its last gene), or None when the space has no mapping gene."""
        if not self.mapper_objectives:
            return None
        return self.mapper_objectives[int(self.repair(np.asarray(x))[-1])]

    def decode(self, x) -> tuple[PrecisionPlan, Accelerator]:
        x = self.repair(np.asarray(x))
        n = len(self.layers)
        plan = PrecisionPlan({name: LayerPrecision(self.weight_formats[x[2 * i]], self.act_formats[x[2 * i + 1]])
                              for i, name in enumerate(self.layers)})
        over = {k: c[x[2 * n + j]] for j, (k, c) in enumerate(self.hw_genes.items())}
        return plan, self._hw(tuple(sorted(over.items())))

    def _hw(self, items: tuple) -> Accelerator:
        cache = self.__dict__.setdefault("_hw_cache", {})
        if items not in cache:
            over = dict(items)
            try:
                cache[items] = self.hw_base.with_overrides(over)
            except ConfigError:  # a buffer too small for the smallest tile: grow it until legal
                hw = None
                for _ in range(8):
                    try:
                        hw = self.hw_base.with_overrides(over)
                        break
                    except ConfigError as exc:
                        key = str(exc).split(":")[0]
                        if not key.startswith("buffers."):
                            raise
                        over[key] = over.get(key, self.hw_base.buffers[key.split(".")[1]].kib) * 2
                cache[items] = hw
        return cache[items]

    def repair(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(x).astype(np.int64), 0, self.upper)

    def genome(self, plan_spec: str | dict, hw_choice: dict | None = None, mapper: str | None = None) -> np.ndarray:
        """A genome for a uniform spec (``int8``, ``w=dybit4,a=int8``), hardware gene values and, when the space
        has a mapping gene, a mapper objective (default: its first choice)."""
        from quant.plan import parse_spec

        p = parse_spec(plan_spec) if isinstance(plan_spec, str) else None
        x = []
        for name in self.layers:
            lp = p or parse_spec(plan_spec[name])
            x += [self._index(self.weight_formats, lp.weight), self._index(self.act_formats, lp.activation)]
        base = self.hw_base.to_dict()
        for key, choices in self.hw_genes.items():
            want = (hw_choice or {}).get(key)
            if want is None:
                node = base
                for part in key.split("."):
                    node = node[part]
                want = node
            x.append(self._index(choices, want, nearest=True))
        if self.mapper_objectives:
            x.append(self._index(self.mapper_objectives, mapper) if mapper is not None else 0)
        return np.array(x, dtype=np.int64)

    @staticmethod
    def _index(choices, value, nearest: bool = False) -> int:
        if value in choices:
            return choices.index(value)
        if nearest and all(isinstance(c, (int, float)) for c in choices):
            return int(np.argmin([abs(c - value) for c in choices]))
        raise ArchsimError(f"search: {value!r} is not among the candidates {list(choices)}")


def genome_hash(x) -> str:
    return hashlib.sha1(np.asarray(x, dtype=np.int64).tobytes()).hexdigest()[:20]


FUZZ_FORMATS = ("int8", "dybit6", "dybit4", "dybit2", "int4", "e2m1", "mxfp4", "posit8es1", "ant4", "nf4")


def random_designs(graph, count: int, rng: np.random.Generator, formats=FUZZ_FORMATS):
    """``count`` random (PrecisionPlan, Accelerator) pairs for ``graph``: a uniform genome of the search space
    over ``formats`` (every hardware gene), then DRAM channels 1–8, access latency 0/50/400 ns and single or
    double buffers — corners the search never visits, for checking the engines against each other."""
    space = SearchSpace([d["name"] for d in graph.compute_layers()], formats=formats)
    for _ in range(count):
        plan, hw = space.decode(rng.integers(0, space.upper + 1))
        yield plan, hw.with_overrides({"dram.channels": int(rng.integers(1, 9)),
                                       "dram.latency_ns": float(rng.choice([0, 50, 400])),
                                       **{f"buffers.{b}.double_buffered": bool(rng.integers(0, 2))
                                          for b in ("weight", "input", "output")}})


def more_resources(hw) -> dict:
    """{key: value} overrides that each give ``hw`` more of one resource — 2× DRAM bus, no DRAM latency,
    2× decoders, 2× each buffer — for checking that the engines do not get slower with it."""
    d = hw.to_dict()
    return {"dram.bus_bits": 2 * d["dram"]["bus_bits"], "dram.latency_ns": 0.0,
            "decoder.count": 2 * d["decoder"]["count"],
            **{f"buffers.{b}.kib": 2 * d["buffers"][b]["kib"] for b in ("weight", "input", "output")}}
