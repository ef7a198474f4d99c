"""The explorer page: one self-contained HTML file (data, script and style inline; nothing fetched at view time)
with a sortable, filterable table and an interactive scatter of any two numeric columns with their Pareto
front; hovering a point shows its parameters and plan, clicking it (or its row) opens its per-layer report in
a panel.

Generic: rows of plain dicts, column metadata, and optionally per row a plan text and a detail page. The sweep
(``archsim.dse.report``) and the search (``search_explorer``) use it; ``archsim llm`` results can too:

    write_explorer("out/index.html", rows, [Column("latency_s", "latency", "ms", scale=1e3), …],
                   x="latency_s", y="energy_j", color="model", details=[…], title="…", command="archsim …")

``write_detail_page`` writes the small per-row report pages the panel opens (one table, a few facts).
"""
from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from archsim.errors import ArchsimError


@dataclass
class Column:
    key: str
    label: str = ""
    unit: str = ""
    scale: float = 1.0  # displayed value = stored value × scale (stored values stay SI)
    kind: str = "num"  # "num" or "text"
    hover: bool = False  # shown when hovering a point (parameters)
    digits: int = 4  # significant digits shown
    help: str = ""
    better: str = "lower"  # the Pareto front minimises a "lower" axis and maximises a "higher" one

    def __post_init__(self):
        self.label = self.label or self.key
        if self.kind not in ("num", "text"):
            raise ArchsimError(f"explorer column {self.key!r}: kind must be num or text, got {self.kind!r}")
        if self.better not in ("lower", "higher"):
            raise ArchsimError(f"explorer column {self.key!r}: better must be lower or higher, got {self.better!r}")


def _compact(v, kind: str):
    """Values as the page needs them: numbers to 7 significant digits (the page is ≤ 5 MB at 768 rows)."""
    if kind == "text":
        return "" if v is None else str(v)
    if v is None:
        return None
    f = float(v)
    if not math.isfinite(f):
        return None
    if f == int(f) and abs(f) < 2**53:
        return int(f)
    return float(f"{f:.7g}")


def write_explorer(path: str | Path, rows: list[dict], columns: list[Column], *, x: str, y: str,
                   color: str | None = None, title: str = "archsim explorer", command: str | None = None,
                   details: list | None = None, plans: list | None = None, row_label: str | None = None,
                   notes: str = "", logx: bool = True, logy: bool = True) -> Path:
    """Write the page to ``path``. ``details[i]`` is the (relative) address of row i's report, or None; ``plans[i]``
    a precision-plan text shown on hover; ``row_label`` the column that titles the detail panel."""
    cols = [c if isinstance(c, Column) else Column(**c) for c in columns]
    keys = [c.key for c in cols]
    for name, k in (("x", x), ("y", y), ("color", color), ("row_label", row_label)):
        if k is not None and k not in keys:
            raise ArchsimError(f"explorer {name}: {k!r} is not a column ({', '.join(keys)})")
    for name, k in (("x", x), ("y", y)):
        if next(c for c in cols if c.key == k).kind != "num":
            raise ArchsimError(f"explorer {name}: column {k!r} is not numeric")
    for name, seq in (("details", details), ("plans", plans)):
        if seq is not None and len(seq) != len(rows):
            raise ArchsimError(f"explorer {name}: {len(seq)} entries for {len(rows)} rows")
    data = {"n": len(rows), "columns": [asdict(c) for c in cols], "x": x, "y": y, "color": color,
            "logx": logx, "logy": logy, "rowLabel": row_label,
            "data": {c.key: [_compact(r.get(c.key), c.kind) for r in rows] for c in cols},
            "detail": details, "plan": plans}
    blob = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    js = resources.files("archsim.explorer").joinpath("page.js").read_text()
    css = resources.files("archsim.explorer").joinpath("page.css").read_text()
    how = (f"<p class=cmd>Regenerate: <code>{html.escape(command)}</code></p>" if command else "")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{css}</style></head>
<body>
<h1>{html.escape(title)}</h1>
{how}{notes}
<div id="top">
 <div id="plot">
  <div class="controls">x <select id="xsel"></select> <label><input type="checkbox" id="logx"> log</label>
   &nbsp; y <select id="ysel"></select> <label><input type="checkbox" id="logy"> log</label>
   &nbsp; colour <select id="csel"></select></div>
  <svg id="scatter" role="img" aria-label="scatter of the rows with their Pareto front"></svg>
  <div id="legend"></div>
  <p class="hint">Hover a point for its parameters and plan; click it (or a table row) for its per-layer report.
  The lines and ★ mark the Pareto front of each colour group among the rows the filters keep.</p>
 </div>
 <div id="detail" hidden><div class="bar"><b id="detail-title"></b>
  <a id="detail-link" target="_blank" hidden>open in a tab</a> <button id="detail-close">close</button></div>
  <iframe id="detail-frame" title="per-layer report"></iframe></div>
</div>
<p id="count"></p>
<div id="tablewrap"><table id="table"><thead id="thead"></thead><tbody id="tbody"></tbody></table></div>
<div id="tip" hidden></div>
<script type="application/json" id="explorer-data">{blob}</script>
<script>{js}</script>
</body></html>
"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def write_detail_page(path: str | Path, title: str, facts: dict, columns: list[str], rows: list[list], *,
                      command: str | None = None, numeric_digits: int = 4) -> Path:
    """A small self-contained report page: a list of facts (name → text) and one table."""
    def cell(v):
        if isinstance(v, float):
            return f"<td class=num>{v:.{numeric_digits}g}</td>"
        if isinstance(v, int) and not isinstance(v, bool):
            return f"<td class=num>{v:,}</td>"
        return f"<td>{html.escape(str(v))}</td>"

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "\n".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows)
    dl = "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>" for k, v in facts.items())
    how = f"<p>Regenerate: <code>{html.escape(command)}</code></p>" if command else ""
    page = (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title><style>"
            "body{font:13px system-ui,sans-serif;margin:10px}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px}th{background:#eee}.num{text-align:right}"
            "dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:bold}"
            f"</style></head><body><h2>{html.escape(title)}</h2><dl>{dl}</dl>{how}"
            f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table></body></html>\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
