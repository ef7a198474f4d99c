"""The sweep's grid: hardware keys × their values (cartesian product, or paired with ``zip``), times models and
precisions. Everything is checked here, before anything is simulated: each key exists in the hardware
schema, each value has the key's type and range, each design of the product (or zip) is a legal accelerator
that can run each precision, the product is not empty and not larger than ``MAX_POINTS`` without ``force``.
Each failure is one ``ArchsimError`` line naming the key, value or design at fault.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from archsim.config import Accelerator, ConfigError, _coerce
from archsim.errors import ArchsimError

MAX_POINTS = 5000  # a larger sweep needs force=True (--force): a typo in a value list should not start 100k runs


def split_values(text: str) -> list:
    """``16,32,64`` → [16, 32, 64] (ints, floats, booleans and words as in ``--set``)."""
    return [_coerce(v) for v in text.split(",") if v.strip()]


def parse_axes(items) -> dict:
    """CLI ``--set key=v1,v2`` items → {key: [values]} (keys in the order given; a key given twice is refused)."""
    axes: dict = {}
    for it in items or []:
        if "=" not in it:
            raise ArchsimError(f"--set {it!r}: expected key=v1,v2,…")
        key, text = (s.strip() for s in it.split("=", 1))
        if key in axes:
            raise ArchsimError(f"--set {key}: given twice; list all its values once (key=v1,v2,…)")
        axes[key] = split_values(text)
    return axes


def split_precisions(text: str) -> list[str]:
    """``int8,dybit4,w=dybit4,a=int8`` → ['int8', 'dybit4', 'w=dybit4,a=int8']: an ``a=`` entry joins the ``w=`` before
    it (a mixed spec contains a comma)."""
    out: list[str] = []
    for tok in (t.strip() for t in text.split(",")):
        if not tok:
            continue
        if tok.lower().startswith("a=") and out and out[-1].lower().startswith("w=") and "," not in out[-1]:
            out[-1] = f"{out[-1]},{tok}"
        else:
            out.append(tok)
    return out


@dataclass
class SweepGrid:
    """What a sweep evaluates: ``models`` × ``designs()`` × ``precisions``."""

    models: list[str]
    hw: Accelerator
    axes: dict  # hardware key → list of values
    precisions: list[str]
    zip: bool = False

    def __post_init__(self):
        from quant import QuantError
        from quant.plan import parse_spec

        self.models = _distinct("model", [m.strip() for m in self.models if m and m.strip()])
        self.precisions = _distinct("precision", [p.strip() for p in self.precisions if p and p.strip()])
        if not self.models:
            raise ArchsimError("sweep: no model given (--model M[,M2…])")
        if not self.precisions:
            raise ArchsimError("sweep: no precision given (--precision P1[,P2…])")
        for p in self.precisions:
            try:
                parse_spec(p)
            except QuantError as exc:
                raise ArchsimError(str(exc)) from None
        base = self.hw.to_dict()
        for key, values in self.axes.items():
            if not isinstance(values, list | tuple) or not values:
                raise ArchsimError(f"--set {key}: no values (give key=v1,v2,…)")
            _check_key(base, key)
            _distinct(f"--set {key}", list(values))
            for v in values:
                _check_value(key, v)
        if self.zip and self.axes:
            lengths = {k: len(v) for k, v in self.axes.items()}
            if len(set(lengths.values())) > 1:
                raise ArchsimError("sweep --zip: the value lists must have equal lengths, got "
                                   + ", ".join(f"{k} {n}" for k, n in lengths.items()))

    def design_overrides(self) -> list[dict]:
        keys = list(self.axes)
        if not keys:
            return [{}]
        rows = zip(*self.axes.values(), strict=True) if self.zip else itertools.product(*self.axes.values())
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def designs(self) -> list[tuple[dict, Accelerator]]:
        """(overrides, Accelerator) for every design; an illegal combination is refused naming the design, and so
        is a precision the design's array cannot run."""
        from archsim.errors import SimError
        from archsim.precision import layer_cost
        from quant.plan import parse_spec

        out = []
        pairs = {(lp.weight, lp.activation) for lp in map(parse_spec, self.precisions)}
        for over in self.design_overrides():
            name = ", ".join(f"{k}={v}" for k, v in over.items()) or "the base hardware"
            try:
                hw = self.hw.with_overrides(over)
            except ConfigError as exc:
                raise ArchsimError(f"sweep design ({name}): {exc}") from None
            for w, a in sorted(pairs):
                try:
                    layer_cost(hw, w, a)
                except SimError as exc:
                    raise ArchsimError(f"sweep design ({name}): {exc}") from None
            out.append((over, hw))
        return out

    @property
    def n_points(self) -> int:
        n_designs = (len(next(iter(self.axes.values()))) if self.zip else _prod(len(v) for v in self.axes.values())) \
            if self.axes else 1
        return len(self.models) * n_designs * len(self.precisions)

    def check_size(self, force: bool = False, max_points: int = MAX_POINTS) -> None:
        n = self.n_points
        if n == 0:
            raise ArchsimError("sweep: the grid is empty (no point to evaluate)")
        if n > max_points and not force:
            raise ArchsimError(f"sweep: {n} points is more than {max_points}; pass --force (force=True) to run them")


def _prod(values) -> int:
    n = 1
    for v in values:
        n *= v
    return n


def _distinct(what: str, values: list) -> list:
    seen = set()
    for v in values:
        k = (type(v).__name__, v)
        if k in seen:
            raise ArchsimError(f"{what}: {v!r} is listed twice")
        seen.add(k)
    return values


def _check_key(base: dict, key: str) -> None:
    node = base
    for i, part in enumerate(key.split(".")):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(key.split(".")[:i]) or "the config"
            allowed = ", ".join(node) if isinstance(node, dict) else "none: it is a value"
            raise ArchsimError(f"--set {key}: unknown hardware key ({where} has {allowed})")
        node = node[part]
    if isinstance(node, dict):
        raise ArchsimError(f"--set {key}: is a section, not a value (its keys: {', '.join(node)})")


def _check_value(key: str, value) -> None:
    """The key's type and range (the schema's own rule for that one key). A value that is legal alone but not with
    the base's other keys is left to ``designs()``, which names the whole design."""
    from archsim.config import SCHEMA, _validate

    *path, leaf = key.split(".")
    rule = SCHEMA
    for part in path:
        rule = rule[part]
    try:
        _validate({leaf: value}, {leaf: rule[leaf]}, ".".join(path))
    except ConfigError as exc:
        raise ArchsimError(f"--set {key}={value}: {str(exc).split(': ', 1)[-1]}") from None
