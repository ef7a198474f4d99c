"""``SimResult``: per-layer and total figures as a Python object, JSON, CSV, Markdown, plots, a trace."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

LAYER_FIELDS = ["name", "op", "macs", "cycles", "compute_cycles", "stall_cycles", "dram_read_bytes",
                "dram_write_bytes", "dram_floor_bytes", "dram_over_floor",
                "energy_j", "w_format", "a_format", "latency_s", "utilization", "bound",
                "fusion", "analytic_cycles", "decoder_stall_cycles", "loop_order", "weight_port_load",
                "input_port_load", "output_port_load", "port_stall_cycles", "register_bits"]
TOTAL_FIELDS = ["cycles", "latency_s", "energy_j", "area_mm2", "dram_read_bytes", "dram_write_bytes",
                "dram_floor_bytes",
                "utilization", "macs", "compute_cycles", "stall_cycles", "analytic_cycles", "lower_bound_cycles",
                "serial_bound_cycles", "energy_breakdown_j", "area_breakdown_mm2", "events", "sram_port_load_peak",
                "port_stall_cycles", "register_bits"]
ENERGY_LEVELS = ("mac", "register", "weight_sram", "input_sram", "output_sram", "dram", "decoder", "leakage")


def _port_lines(peak: dict | None, stall: float | None = None) -> list:
    if not peak:
        return []
    line = ("SRAM port load (peak layer: the cycles its traffic needs at banks × width_bits per cycle, read and "
            "write ports or one shared port, ÷ the layer's cycles): "
            + ", ".join(f"{b} {v:.2f}" for b, v in peak.items()) + ".")
    if stall:
        line += f" The ports held the array back for {stall:,.0f} cycles (a timing bound in both engines)."
    return [line, ""]


def _energy_table(layers: list, total: dict, max_rows: int | None) -> list:
    """Energy by level, per layer and in total (µJ): the MACs, the registers under the array, each SRAM buffer
    (reads and writes at their own costs), DRAM, the decoders and leakage."""
    levels = [k for k in ENERGY_LEVELS if k in total.get("energy_breakdown_j", {})]
    if not levels or not all("energy_pj" in r for r in layers):
        return []
    out = ["Energy by level (µJ):", "", "| layer | " + " | ".join(levels) + " |",
           "|---|" + "---|" * len(levels)]
    for i, r in enumerate(layers):
        if max_rows is not None and i >= max_rows:
            out.append(f"| … {len(layers) - max_rows} more layers |" + " |" * len(levels))
            break
        out.append(f"| {r['name']} | " + " | ".join(f"{r['energy_pj'].get(k, 0) * 1e-6:.2f}" for k in levels) + " |")
    out.append("| **total** | " + " | ".join(f"**{total['energy_breakdown_j'][k] * 1e6:.1f}**" for k in levels)
               + " |")
    return ["", *out]


def _over_floor(rec: dict) -> str:
    """DRAM traffic ÷ its compulsory floor (results saved before the floor existed have none)."""
    floor = rec.get("dram_floor_bytes")
    if not floor:
        return "—"
    return f"{(rec['dram_read_bytes'] + rec['dram_write_bytes']) / floor:.2f}×"


def _clean(v):
    if isinstance(v, float):
        return float(f"{v:.9g}")
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    return v


class SimResult:
    def __init__(self, *, model: str, hw, engine: str, totals: dict, layers: list, trace=None, plan=None):
        self.model, self.hw, self.engine = model, hw, engine
        self.total, self.layers, self.trace, self.plan = totals, layers, trace, plan

    def __repr__(self) -> str:
        t = self.total
        return (f"SimResult({self.model} on {self.hw.name}, {self.engine}: {t['latency_s'] * 1e3:.3f} ms, "
                f"{t['energy_j'] * 1e3:.3f} mJ, {t['area_mm2']:.2f} mm², util {t['utilization']:.1%}, "
                f"DRAM {t['dram_read_bytes'] / 1e6:.2f}/{t['dram_write_bytes'] / 1e6:.2f} MB r/w)")

    def __getitem__(self, layer: str) -> dict:
        for r in self.layers:
            if r["name"] == layer:
                return r
        raise KeyError(f"no layer {layer!r} in the result")

    # ------------------------------------------------------------------ serialisation
    def to_dict(self, full: bool = False) -> dict:
        """The SPEC §8 JSON; ``full`` adds what ``from_dict``/``archsim report`` need (hardware, energy splits)."""
        d = {"model": self.model, "hw": self.hw.name, "engine": self.engine,
             "total": {k: _clean(self.total.get(k)) for k in TOTAL_FIELDS},  # .get: results saved before a field
             "layers": [{k: _clean(r.get(k)) for k in LAYER_FIELDS} for r in self.layers]}
        for out, r in zip(d["layers"], self.layers, strict=True):
            if "energy_pj" in r:  # energy by level, per layer
                out["energy_pj"] = _clean(r["energy_pj"])
            if r.get("buffer_use_bytes"):  # what each operand's tiles occupied (the split of a shared buffer)
                out["buffer_use_bytes"] = r["buffer_use_bytes"]
        if full:
            d["hw_config"] = self.hw.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SimResult:
        from archsim.config import Accelerator

        if "hw_config" not in d:
            raise ValueError("result JSON lacks 'hw_config': save it with SimResult.save() / to_dict(full=True)")
        layers = [dict(r) for r in d["layers"]]
        return cls(model=d["model"], hw=Accelerator(d["hw_config"]), engine=d["engine"], totals=dict(d["total"]),
                   layers=layers)

    def to_json(self, path: str | Path | None = None, indent: int | None = 1) -> str:
        text = json.dumps(self.to_dict(), indent=indent)
        if path is not None:
            Path(path).write_text(text)
        return text

    def to_csv(self, path: str | Path | None = None) -> str:
        buf = io.StringIO()
        energy_cols = [f"energy_{k}_pj" for k in ENERGY_LEVELS]
        w = csv.DictWriter(buf, fieldnames=LAYER_FIELDS + energy_cols, lineterminator="\n")
        w.writeheader()
        for r in self.layers:
            e = r.get("energy_pj") or {}
            w.writerow({**{k: _clean(r.get(k)) for k in LAYER_FIELDS},
                        **{c: _clean(e.get(k)) for c, k in zip(energy_cols, ENERGY_LEVELS, strict=True)}})
        text = buf.getvalue()
        if path is not None:
            Path(path).write_text(text)
        return text

    def to_markdown(self, max_rows: int | None = None) -> str:
        t = self.total
        eb = t["energy_breakdown_j"]
        lines = [f"### {self.model} on `{self.hw.name}` ({self.engine})", "",
                 f"{self.hw!r}", "",
                 "| latency | energy | area | utilisation | DRAM read | DRAM write | DRAM ÷ floor | compute / stall "
                 "cycles |",
                 "|---|---|---|---|---|---|---|---|",
                 f"| {t['latency_s'] * 1e3:.3f} ms | {t['energy_j'] * 1e3:.3f} mJ | {t['area_mm2']:.2f} mm² | "
                 f"{t['utilization']:.1%} | {t['dram_read_bytes'] / 1e6:.2f} MB | {t['dram_write_bytes'] / 1e6:.2f} MB"
                 f" | {_over_floor(t)} | {t['compute_cycles']:,.0f} / {t['stall_cycles']:,.0f} |", "",
                 "DRAM floor: every weight, every input pixel a layer reads and every output moved once"
                 + (f" ({t['dram_floor_bytes'] / 1e6:.2f} MB)" if t.get("dram_floor_bytes") else "") + ".", "",
                 "Energy: " + ", ".join(f"{k} {v * 1e6:.1f} µJ" for k, v in eb.items()), "",
                 f"Cycles: {self.engine} {t['cycles']:,.0f}"
                 + (f"; analytic {t['analytic_cycles']:,.0f}" if self.engine != "analytic" else "")
                 + f"; lower bound {t['lower_bound_cycles']:,.0f}; serialised bound {t['serial_bound_cycles']:,.0f}.",
                 "", *_port_lines(t.get("sram_port_load_peak"), t.get("port_stall_cycles")),
                 "| layer | op | W/A | MACs | cycles | compute | stall | util | bound | DRAM r/w (kB) | ÷ floor | "
                 "energy (µJ) |",
                 "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for i, r in enumerate(self.layers):
            if max_rows is not None and i >= max_rows:
                lines.append(f"| … {len(self.layers) - max_rows} more layers | | | | | | | | | | | |")
                break
            wa = f"{r['w_format']}/{r['a_format']}" if r["w_format"] else r["a_format"]
            lines.append(f"| {r['name']} | {r['op']} | {wa} | {r['macs']:,} | {r['cycles']:,.0f} | "
                         f"{r['compute_cycles']:,.0f} | {r['stall_cycles']:,.0f} | {r['utilization']:.1%} | "
                         f"{r['bound']} | {r['dram_read_bytes'] / 1e3:.1f} / {r['dram_write_bytes'] / 1e3:.1f} | "
                         f"{_over_floor(r)} | {r['energy_j'] * 1e6:.2f} |")
        lines += _energy_table(self.layers, t, max_rows)
        return "\n".join(lines)

    def save_trace(self, path: str | Path) -> None:
        if self.trace is None:
            raise ValueError("no trace: run simulate(..., engine='des', trace=True)")
        Path(path).write_text(json.dumps(self.trace))

    def save(self, out_dir: str | Path) -> dict:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = {"json": out / "result.json", "csv": out / "layers.csv", "md": out / "report.md"}
        files["json"].write_text(json.dumps(self.to_dict(full=True), indent=1))
        self.to_csv(files["csv"])
        files["md"].write_text(self.to_markdown() + "\n")
        if self.trace is not None:
            files["trace"] = out / "trace.json"
            self.save_trace(files["trace"])
        from archsim.plots import plot_result

        files.update(plot_result(self, out))
        return files
