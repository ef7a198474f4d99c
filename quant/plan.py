"""``PrecisionPlan``: layer name → (weight format, activation format[, KV-cache format]).

The one object the quantiser, the simulator and the search all consume. Torch-free. Built from a short
spec (``int8``, ``dybit4``, ``w=dybit4,a=int8``, ``w=dybit4,a=int8,kv=int4``)
for every layer, from a dict, or from YAML/JSON; checked
against a model's layer names (an unknown or a missing layer is an error that names it).

``kv`` is the format of the attention key/value cache an LLM phase stores, appends and reads in DRAM
(``archsim.llm``); absent, the cache is kept at the activation format. Layers without a cache ignore it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from quant.errors import QuantError


@dataclass(frozen=True)
class LayerPrecision:
    weight: str
    activation: str
    kv: str | None = None  # KV-cache format (LLM attention); None: the activation format

    def __str__(self) -> str:
        if self.kv is not None:
            return f"w={self.weight},a={self.activation},kv={self.kv}"
        return self.weight if self.weight == self.activation else f"w={self.weight},a={self.activation}"

    @property
    def kv_format(self) -> str:
        return self.kv or self.activation


def parse_spec(spec: str) -> LayerPrecision:
    """``int8`` → (int8, int8); ``w=dybit4,a=int8`` → (dybit4, int8); ``w=int4,a=int8,kv=int4`` adds the
    KV-cache format. Format names are validated."""
    from quant.formats import get_format

    if not isinstance(spec, str) or not spec.strip():
        raise QuantError(f"precision spec must be a non-empty string, got {spec!r}")
    s = spec.strip().lower()
    if "=" in s:
        parts = dict(p.split("=", 1) for p in s.replace(" ", "").split(",") if "=" in p)
        unknown = set(parts) - {"w", "a", "kv"}
        if unknown or "w" not in parts or "a" not in parts:
            raise QuantError(f"precision spec {spec!r}: expected 'w=FORMAT,a=FORMAT[,kv=FORMAT]'")
        w, a, kv = parts["w"], parts["a"], parts.get("kv")
    else:
        w = a = s
        kv = None
    for role, name in (("weight", w), ("activation", a), ("kv-cache", kv)):
        if name is None:
            continue
        try:
            get_format(name)
        except QuantError as exc:
            raise QuantError(f"precision spec {spec!r}: {role} format: {exc}") from None
    return LayerPrecision(get_format(w).name, get_format(a).name, get_format(kv).name if kv else None)


class PrecisionPlan:
    """Per-layer formats. ``plan[layer]`` → LayerPrecision; iteration is in the plan's layer order."""

    def __init__(self, layers: dict[str, LayerPrecision | str | tuple]):
        self._layers: dict[str, LayerPrecision] = {}
        for name, p in layers.items():
            if isinstance(p, LayerPrecision):
                self._layers[name] = p
            elif isinstance(p, str):
                self._layers[name] = parse_spec(p)
            elif isinstance(p, (tuple, list)) and len(p) == 2:
                self._layers[name] = parse_spec(f"w={p[0]},a={p[1]}")
            elif isinstance(p, dict) and set(p) in ({"weight", "activation"}, {"weight", "activation", "kv"}):
                kv = f",kv={p['kv']}" if p.get("kv") else ""
                self._layers[name] = parse_spec(f"w={p['weight']},a={p['activation']}{kv}")
            else:
                raise QuantError(f"plan layer {name!r}: expected a spec string, (weight, activation) or "
                                 f"{{weight, activation[, kv]}}, got {p!r}")

    @classmethod
    def uniform(cls, spec: str, layers) -> PrecisionPlan:
        p = parse_spec(spec)
        return cls({name: p for name in layers})

    def __getitem__(self, layer: str) -> LayerPrecision:
        try:
            return self._layers[layer]
        except KeyError:
            raise QuantError(f"precision plan has no entry for layer {layer!r}") from None

    def get(self, layer: str, default=None):
        return self._layers.get(layer, default)

    def __contains__(self, layer) -> bool:
        return layer in self._layers

    def __iter__(self):
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def items(self):
        return self._layers.items()

    def __eq__(self, other) -> bool:
        return isinstance(other, PrecisionPlan) and self._layers == other._layers

    def __repr__(self) -> str:
        counts: dict = {}
        for p in self._layers.values():
            counts[str(p)] = counts.get(str(p), 0) + 1
        return f"PrecisionPlan({len(self)} layers: " + ", ".join(f"{k}×{v}" for k, v in counts.items()) + ")"

    def with_layer(self, layer: str, spec) -> PrecisionPlan:
        d = dict(self._layers)
        d[layer] = spec
        return PrecisionPlan(d)

    def validate(self, layer_names, *, what: str = "model") -> PrecisionPlan:
        names = list(layer_names)
        unknown = [n for n in self._layers if n not in set(names)]
        if unknown:
            raise QuantError(f"precision plan names layer(s) not in the {what}: {', '.join(unknown[:5])}"
                             f"{' …' if len(unknown) > 5 else ''}")
        missing = [n for n in names if n not in self._layers]
        if missing:
            raise QuantError(f"precision plan has no entry for layer(s) of the {what}: {', '.join(missing[:5])}"
                             f"{' …' if len(missing) > 5 else ''}")
        return self

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict:
        return {"layers": {n: {"weight": p.weight, "activation": p.activation} | ({"kv": p.kv} if p.kv else {})
                           for n, p in self._layers.items()}}

    @classmethod
    def from_dict(cls, data) -> PrecisionPlan:
        if not isinstance(data, dict) or not isinstance(data.get("layers"), dict):
            found = f"top-level keys {', '.join(map(repr, data))}" if isinstance(data, dict) else type(data).__name__
            raise QuantError("precision plan file: expected a mapping with a 'layers' mapping, e.g. "
                             f"{{layers: {{conv1: int8, fc: 'w=dybit4,a=int8'}}}}; found {found}")
        return cls(data["layers"])

    def save(self, path: str | Path) -> None:
        path = Path(path)
        if path.suffix in (".yaml", ".yml"):
            import yaml

            path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        else:
            path.write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> PrecisionPlan:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise QuantError(f"precision plan {path}: {exc}") from None
        try:
            if path.suffix in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except Exception as exc:
            raise QuantError(f"precision plan {path}: not valid {path.suffix[1:].upper()}: {exc}") from None
        return cls.from_dict(data)
