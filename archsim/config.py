"""Hardware description: YAML → validated ``Accelerator`` (errors name the field and the bad value).

Shipped configs live in ``archsim/configs/`` (``default``, ``server``, ``int8_systolic``); every constant
there carries its unit in its name and its source in a comment. ``Accelerator.with_overrides`` (and the CLI
``--set key=value``) changes dotted keys for DSE sweeps and re-validates.
"""
from __future__ import annotations

import copy
import json
import math
from importlib import resources
from pathlib import Path

import yaml

from archsim.errors import ConfigError

_POS = "positive"
_NONNEG = "non-negative"


_DERIVED = object()  # an optional key's default: absent (None), derived where it is used


def _buffer_schema():
    # banks × width_bits: bits per cycle each port moves (a read and a write port per bank, unless shared_port);
    # read/write_pj_per_bit: absent → energy.sram_pj_per_bit_8kib · sqrt(kib / 8) for both (energy.py)
    return {"kib": (float, _POS), "banks": (int, _POS), "width_bits": (int, _POS), "double_buffered": (bool, None),
            "shared_port": (bool, None, False), "read_pj_per_bit": (float, _NONNEG, _DERIVED),
            "write_pj_per_bit": (float, _NONNEG, _DERIVED)}


SCHEMA = {
    "name": (str, None),
    "description": (str, None),
    "clock_mhz": (float, _POS),
    "array": {"rows": (int, _POS), "cols": (int, _POS), "kind": (str, ("fusion", "fixed", "binary")),
              "bricks_per_unit": (int, _POS), "max_bits": (int, _POS), "popcount_width": (int, _POS),
              "dataflow": (str, ("ws", "os", "is")), "microarchitecture": (str, ("systolic", "bitfusion"))},
    "decoder": {"count": (int, _NONNEG), "values_per_cycle": (int, _POS), "latency_cycles": (int, _NONNEG),
                "energy_pj_per_value": (float, _NONNEG), "area_um2": (float, _NONNEG)},
    # shared: the three buffers are one SRAM of their summed capacity, split among the operands per layer by the
    # mapper (each operand keeps its own ports and per-bit costs: the split is by banks)
    "buffers": {"weight": _buffer_schema(), "input": _buffer_schema(), "output": _buffer_schema(),
                "shared": (bool, None, False)},
    "dram": {"bus_bits": (int, _POS), "channels": (int, _POS), "latency_ns": (float, _NONNEG),
             "energy_pj_per_bit": (float, _NONNEG)},
    "psum_bits": (int, _POS),
    "energy": {"brick_pj_per_op": (float, _NONNEG), "fixed_pe_pj_per_mac": (float, _NONNEG),
               "shift_add_pj": (float, _NONNEG), "exponent_add_pj": (float, _NONNEG),
               "sram_pj_per_bit_8kib": (float, _NONNEG), "leakage_mw_per_mm2": (float, _NONNEG),
               "binary_pj_per_bitop": (float, _NONNEG), "plane_scale_pj": (float, _NONNEG),
               # the registers under the array (PE pipeline and partial-sum registers); absent → ZigZag's
               # tpu_like 16-bit register file, 0.021 pJ per access (energy.REGISTER_PJ_PER_BIT_DEFAULT)
               "register_pj_per_bit": (float, _NONNEG, _DERIVED)},
    "area": {"fusion_unit_um2": (float, _NONNEG), "fixed_pe_um2": (float, _NONNEG),
             "binary_unit_um2": (float, _NONNEG), "sram_um2_per_bit": (float, _NONNEG)},
}


def _validate(data, schema, path: str = "") -> dict:
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {type(data).__name__} {data!r}")
    unknown = sorted(set(data) - set(schema))
    if unknown:
        raise ConfigError(f"{path + '.' if path else ''}{unknown[0]}: unknown key (allowed: {', '.join(schema)})")
    out = {}
    for key, rule in schema.items():
        where = f"{path}.{key}" if path else key
        if key not in data or (data[key] is None and not isinstance(rule, dict) and len(rule) == 3):
            if not isinstance(rule, dict) and len(rule) == 3:  # optional: its default (None = derived)
                out[key] = None if rule[2] is _DERIVED else rule[2]
                continue
            raise ConfigError(f"{where}: missing")
        val = data[key]
        if isinstance(rule, dict):
            out[key] = _validate(val, rule, where)
            continue
        typ, check = rule[:2]
        if typ is float and isinstance(val, int) and not isinstance(val, bool):
            val = float(val)
        if typ is int and isinstance(val, float) and val.is_integer():
            val = int(val)
        if not isinstance(val, typ) or (typ is not bool and isinstance(val, bool)):
            raise ConfigError(f"{where}: expected {typ.__name__}, got {type(val).__name__} {val!r}")
        if typ is float and not math.isfinite(val):  # inf passes "> 0" and overflows or prints Infinity later
            raise ConfigError(f"{where}: must be a finite number, got {val!r}")
        if check == _POS and not val > 0:
            raise ConfigError(f"{where}: must be > 0, got {val!r}")
        if check == _NONNEG and not val >= 0:
            raise ConfigError(f"{where}: must be ≥ 0, got {val!r}")
        if isinstance(check, tuple) and val not in check:
            raise ConfigError(f"{where}: must be one of {', '.join(check)}, got {val!r}")
        out[key] = val
    return out


class Accelerator:
    """A validated hardware description. Attribute access mirrors the YAML (``hw.array.rows``)."""

    def __init__(self, data: dict):
        self._data = _validate(copy.deepcopy(data), SCHEMA)
        self._check_combinations()
        self._hash = hash(json.dumps(self._data, sort_keys=True))  # JSON: 30x faster than YAML, same role

    # ------------------------------------------------------------------ access
    def __getattr__(self, item):
        data = self.__dict__.get("_data")
        if data is None or item not in data:
            raise AttributeError(item)
        val = data[item]
        return _Section(val, item) if isinstance(val, dict) else val

    def to_dict(self) -> dict:
        return copy.deepcopy(self._data)

    def __eq__(self, other) -> bool:
        return isinstance(other, Accelerator) and self._data == other._data

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        a, b = self._data["array"], self._data["buffers"]
        return (f"Accelerator({self.name!r}: {a['rows']}×{a['cols']} {a['kind']} {a['microarchitecture']} "
                f"{a['dataflow'].upper()}, "
                f"{self.clock_mhz:g} MHz, W/I/O {b['weight']['kib']:g}/{b['input']['kib']:g}/"
                f"{b['output']['kib']:g} KiB, DRAM {self.dram_bytes_per_cycle * self.clock_mhz / 1e3:.1f} GB/s)")

    # ------------------------------------------------------------------ derived
    @property
    def dram_bytes_per_cycle(self) -> float:
        return self._data["dram"]["bus_bits"] / 8.0

    @property
    def dram_latency_cycles(self) -> int:
        return int(round(self._data["dram"]["latency_ns"] * self.clock_mhz / 1e3))

    def buffer_bytes(self, which: str) -> int:
        return int(self._data["buffers"][which]["kib"] * 1024)

    def tile_capacity_bytes(self, which: str) -> int:
        """What one tile may occupy: half the buffer when double-buffered."""
        b = self._data["buffers"][which]
        return self.buffer_bytes(which) // (2 if b["double_buffered"] else 1)

    # ------------------------------------------------------------------ overrides
    def with_overrides(self, overrides: dict | None = None, **kw) -> Accelerator:
        """New Accelerator with dotted keys replaced: ``hw.with_overrides({"buffers.weight.kib": 128})``."""
        data = copy.deepcopy(self._data)
        items = dict(overrides or {})
        items.update({k.replace("__", "."): v for k, v in kw.items()})
        for key, val in items.items():
            node, parts = data, key.split(".")
            for p in parts[:-1]:
                if not isinstance(node, dict) or p not in node:
                    raise ConfigError(f"{key}: unknown key")
                node = node[p]
            if not isinstance(node, dict) or parts[-1] not in node:
                raise ConfigError(f"{key}: unknown key")
            node[parts[-1]] = _coerce(val)
        return Accelerator(data)

    def _check_combinations(self) -> None:
        a = self._data["array"]
        if a["kind"] == "fusion" and a["max_bits"] % 2:
            raise ConfigError(f"array.max_bits: a fusion unit is built of 2-bit bricks, so its widest operand "
                              f"has an even number of bits, got {a['max_bits']}")
        if a["kind"] == "fusion" and a["bricks_per_unit"] != (a["max_bits"] // 2) ** 2:
            raise ConfigError(f"array.bricks_per_unit: a fusion unit of {a['max_bits']}-bit max operands has "
                              f"({a['max_bits']}/2)² = {(a['max_bits'] // 2) ** 2} 2-bit bricks, got "
                              f"{a['bricks_per_unit']}")
        if a["kind"] == "binary" and a["popcount_width"] < a["max_bits"] ** 2:
            raise ConfigError(f"array.popcount_width: a binary unit needs at least max_bits² = {a['max_bits'] ** 2} "
                              f"lanes so that one product fits a pass, got {a['popcount_width']}")
        if a["max_bits"] > 16:
            raise ConfigError(f"array.max_bits: at most 16, got {a['max_bits']}")
        if self._data["psum_bits"] < 2 * a["max_bits"]:  # a partial sum narrower than one product overflows
            raise ConfigError(f"psum_bits: a partial sum must hold at least one {a['max_bits']}b × {a['max_bits']}b "
                              f"product ({2 * a['max_bits']} bits), got {self._data['psum_bits']}")
        # the smallest legal tile: one fold of 8-bit weights, one row of inputs, one row of partial sums
        need = {"weight": a["rows"] * a["cols"], "input": a["rows"],
                "output": a["cols"] * self._data["psum_bits"] // 8}
        if self._data["buffers"]["shared"]:
            copies = {w: 2 if self._data["buffers"][w]["double_buffered"] else 1 for w in need}
            pool = sum(self.buffer_bytes(w) for w in need)
            if sum(copies[w] * n for w, n in need.items()) > pool:
                raise ConfigError(f"buffers.shared: the pooled {pool} B cannot hold the smallest legal tiles "
                                  f"({', '.join(f'{w} {n} B' for w, n in need.items())}, double-buffered ones twice)")
            return
        for which, nbytes in need.items():
            cap = self.tile_capacity_bytes(which)
            if cap < nbytes:
                raise ConfigError(f"buffers.{which}.kib: {self._data['buffers'][which]['kib']} KiB holds "
                                  f"{cap} B per tile, but the smallest legal tile needs {nbytes} B")


class _Section:
    def __init__(self, data: dict, path: str):
        self._d, self._p = data, path

    def __getattr__(self, item):
        if item.startswith("_"):
            raise AttributeError(item)
        if item not in self._d:
            raise AttributeError(f"{self._p}.{item}")
        v = self._d[item]
        return _Section(v, f"{self._p}.{item}") if isinstance(v, dict) else v

    def __getitem__(self, item):
        return getattr(self, item)

    def __repr__(self) -> str:
        return f"{self._p}: {self._d}"


def _coerce(val):
    if isinstance(val, str):
        low = val.strip().lower()
        if low in ("true", "false"):
            return low == "true"
        try:
            return int(low)
        except ValueError:
            try:
                return float(low)
            except ValueError:
                return val.strip()
    return val


def shipped_configs() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("archsim.configs").iterdir() if p.name.endswith(".yaml"))


def load_hw(name_or_path: str | Path = "default", overrides: dict | None = None) -> Accelerator:
    """A shipped config by name, or a YAML file by path."""
    if isinstance(name_or_path, Accelerator):
        return name_or_path.with_overrides(overrides) if overrides else name_or_path
    s = str(name_or_path)
    if s in shipped_configs():
        text = resources.files("archsim.configs").joinpath(f"{s}.yaml").read_text()
        where = f"shipped config {s!r}"
    else:
        p = Path(s)
        if not p.is_file():
            raise ConfigError(f"hardware {s!r}: not a shipped config ({', '.join(shipped_configs())}) "
                              f"and not a file")
        text, where = p.read_text(), str(p)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: malformed YAML: {exc}") from None
    try:
        hw = Accelerator(data)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return hw.with_overrides(overrides) if overrides else hw


def parse_set(items) -> dict:
    """CLI ``--set a.b=1`` pairs → dict."""
    out = {}
    for it in items or []:
        if "=" not in it:
            raise ConfigError(f"--set {it!r}: expected key=value")
        k, v = it.split("=", 1)
        out[k.strip()] = v
    return out
