// archsim explorer: a sortable, filterable table and a latency–energy (any two columns) scatter with its Pareto
// front, from the JSON embedded in this page (no network). Hover a point: its parameters and plan; click a point
// or a row: its per-layer report in the panel.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("explorer-data").textContent);
  const cols = D.columns, n = D.n;
  const col = Object.fromEntries(cols.map(c => [c.key, c]));
  const val = (k, i) => D.data[k][i];
  const state = { sortKey: null, sortDir: 1, filters: {}, x: D.x, y: D.y, color: D.color, logx: D.logx, logy: D.logy,
                  selected: -1 };
  const $ = id => document.getElementById(id);
  const NF = new Intl.NumberFormat("en-US", { maximumFractionDigits: 6 });  // one formatter: a new one per cell is slow
  const fmt = (c, v) => {
    if (v === null || v === undefined || v === "") return "";
    if (c.kind !== "num") return String(v);
    const s = (c.scale || 1) * v;
    return Math.abs(s) >= 1e5 ? s.toExponential(3) : NF.format(Number(s.toPrecision(c.digits || 4)));
  };
  const label = c => c.label + (c.unit ? " (" + c.unit + ")" : "");

  // ------------------------------------------------------------------ filtering
  function parseFilter(c, text) {
    text = text.trim();
    if (!text) return null;
    if (c.kind === "num") {
      const scale = c.scale || 1;
      const range = text.match(/^(-?[\d.e+-]+)\s*\.\.\s*(-?[\d.e+-]+)$/i);
      if (range) { const a = +range[1] / scale, b = +range[2] / scale; return v => v >= a && v <= b; }
      const cmp = text.match(/^(<=|>=|<|>|=)?\s*(-?[\d.e+-]+)$/i);
      if (cmp) {
        const t = +cmp[2] / scale, op = cmp[1] || "=";
        return { "<": v => v < t, ">": v => v > t, "<=": v => v <= t, ">=": v => v >= t,
                 "=": v => Math.abs(v - t) <= 1e-9 * Math.max(1, Math.abs(t)) }[op];
      }
    }
    const low = text.toLowerCase();
    return v => String(v).toLowerCase().includes(low);
  }
  function visible() {
    const preds = Object.entries(state.filters).filter(([, p]) => p);
    const out = [];
    for (let i = 0; i < n; i++) {
      if (preds.every(([k, p]) => p(val(k, i)))) out.push(i);
    }
    if (state.sortKey) {
      const k = state.sortKey, d = state.sortDir, num = col[k].kind === "num";
      out.sort((a, b) => {
        const va = val(k, a), vb = val(k, b);
        return d * (num ? va - vb : String(va).localeCompare(String(vb), "en", { numeric: true })) || a - b;
      });
    }
    return out;
  }

  // ------------------------------------------------------------------ Pareto front
  // one front per colour group (per model, say: their scales differ), or one over all rows without a colour;
  // an axis whose column is better "higher" is maximised, any other minimised
  function pareto(idx) {
    const gx = col[state.x].better === "higher" ? -1 : 1, gy = col[state.y].better === "higher" ? -1 : 1;
    const X = i => gx * val(state.x, i), Y = i => gy * val(state.y, i);
    const groups = new Map();
    for (const i of idx) {
      if (!isFinite(val(state.x, i)) || !isFinite(val(state.y, i))) continue;
      const g = state.color ? val(state.color, i) : "";
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(i);
    }
    const fronts = [];
    for (const pts of groups.values()) {
      pts.sort((a, b) => X(a) - X(b) || Y(a) - Y(b));
      const front = [];
      let best = Infinity;
      for (const i of pts) {
        const yv = Y(i);
        if (yv < best) { front.push(i); best = yv; }
      }
      fronts.push(front);
    }
    return fronts;
  }

  // ------------------------------------------------------------------ table
  function buildHead() {
    const head = $("thead");
    const r1 = document.createElement("tr"), r2 = document.createElement("tr");
    r1.appendChild(document.createElement("th")).textContent = "front";
    r2.appendChild(document.createElement("th"));
    for (const c of cols) {
      const th = document.createElement("th");
      th.textContent = label(c);
      th.dataset.key = c.key;
      th.title = (c.help || label(c)) + " — click to sort";
      th.addEventListener("click", () => {
        state.sortDir = state.sortKey === c.key ? -state.sortDir : 1;
        state.sortKey = c.key;
        render();
      });
      r1.appendChild(th);
      const fi = document.createElement("input");
      fi.placeholder = c.kind === "num" ? "<1, 2..5" : "contains";
      fi.dataset.key = c.key;
      fi.addEventListener("input", () => { state.filters[c.key] = parseFilter(c, fi.value); render(); });
      r2.appendChild(document.createElement("th")).appendChild(fi);
    }
    head.append(r1, r2);
  }
  function renderTable(idx, onFront) {
    // one HTML string for the whole body: one parse, not one per row
    const parts = [];
    for (const i of idx) {
      let cells = "<tr data-i=" + i + (i === state.selected ? " class=sel>" : ">") + "<td>" +
        (onFront.has(i) ? "★" : "") + "</td>";
      for (const c of cols) {
        const v = val(c.key, i);
        cells += c.kind === "num" ? "<td class=num>" + fmt(c, v) + "</td>" : "<td>" + esc(fmt(c, v)) + "</td>";
      }
      parts.push(cells + "</tr>");
    }
    $("tbody").innerHTML = parts.join("");
    for (const th of $("thead").querySelectorAll("th[data-key]")) {
      th.classList.toggle("asc", th.dataset.key === state.sortKey && state.sortDir > 0);
      th.classList.toggle("desc", th.dataset.key === state.sortKey && state.sortDir < 0);
    }
    $("count").textContent = idx.length + " of " + n + " rows; " + onFront.size + " on the " + col[state.x].label +
      " × " + col[state.y].label + " Pareto front" +
      (state.color ? "s (one per " + col[state.color].label + ")" : "") + " (★)";
  }
  const esc = s => String(s).replace(/[&<>"]/g, ch => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]);

  // ------------------------------------------------------------------ scatter (SVG)
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
                   "#17becf"];
  function el(tag, attrs, parent) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }
  function scale(values, log, lo, hi) {
    let vs = values.filter(v => isFinite(v) && (!log || v > 0));
    if (!vs.length) vs = [1];
    let a = Math.min(...vs), b = Math.max(...vs);
    if (log) { a = Math.log10(a); b = Math.log10(b); }
    if (a === b) { a -= 0.5; b += 0.5; }
    const pad = 0.04 * (b - a);
    a -= pad; b += pad;
    const f = v => lo + ((log ? Math.log10(Math.max(v, 1e-300)) : v) - a) / (b - a) * (hi - lo);
    f.ticks = () => {
      const out = [];
      for (let k = 0; k <= 4; k++) { const t = a + (b - a) * k / 4; out.push(log ? Math.pow(10, t) : t); }
      return out;
    };
    return f;
  }
  function renderScatter(idx, fronts) {
    const svg = $("scatter");
    const W = 640, H = 420, L = 70, R = 16, T = 14, B = 46;
    svg.replaceChildren();
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    const cx = col[state.x], cy = col[state.y];
    const sx = scale(idx.map(i => val(state.x, i)), state.logx, L, W - R);
    const sy = scale(idx.map(i => val(state.y, i)), state.logy, H - B, T);
    el("rect", { x: L, y: T, width: W - L - R, height: H - T - B, class: "frame" }, svg);
    for (const t of sx.ticks()) {
      el("line", { x1: sx(t), x2: sx(t), y1: T, y2: H - B, class: "grid" }, svg);
      el("text", { x: sx(t), y: H - B + 16, "text-anchor": "middle", class: "tick" }, svg).textContent = fmt(cx, t);
    }
    for (const t of sy.ticks()) {
      el("line", { x1: L, x2: W - R, y1: sy(t), y2: sy(t), class: "grid" }, svg);
      el("text", { x: L - 4, y: sy(t) + 4, "text-anchor": "end", class: "tick" }, svg).textContent = fmt(cy, t);
    }
    el("text", { x: (L + W - R) / 2, y: H - 8, "text-anchor": "middle", class: "axis" }, svg).textContent =
      label(cx) + (state.logx ? ", log" : "");
    el("text", { x: 14, y: (T + H - B) / 2, "text-anchor": "middle", class: "axis",
                 transform: "rotate(-90 14 " + (T + H - B) / 2 + ")" }, svg).textContent = label(cy) +
      (state.logy ? ", log" : "");
    const groups = state.color ? [...new Set(D.data[state.color])].sort() : [];
    const colour = i => state.color ? PALETTE[groups.indexOf(val(state.color, i)) % PALETTE.length] : PALETTE[0];
    for (const front of fronts) {
      if (front.length < 2) continue;
      const pts = [];
      front.forEach((i, k) => {
        if (k) pts.push(sx(val(state.x, i)) + "," + sy(val(state.y, front[k - 1])));
        pts.push(sx(val(state.x, i)) + "," + sy(val(state.y, i)));
      });
      el("polyline", { points: pts.join(" "), class: "front", stroke: colour(front[0]) }, svg);
    }
    const onFront = new Set(fronts.flat());
    const layer = el("g", {}, svg);
    for (const i of idx) {
      const x = val(state.x, i), y = val(state.y, i);
      if (!isFinite(x) || !isFinite(y)) continue;
      el("circle", { cx: sx(x).toFixed(1), cy: sy(y).toFixed(1), r: onFront.has(i) ? 5 : 3.5,
                     fill: colour(i), class: "pt" + (onFront.has(i) ? " onfront" : "") +
                     (i === state.selected ? " sel" : ""), "data-i": i }, layer);
    }
    const legend = $("legend");
    legend.replaceChildren();
    groups.forEach((g, k) => {
      const s = document.createElement("span");
      s.innerHTML = "<i style='background:" + PALETTE[k % PALETTE.length] + "'></i>" + esc(g);
      legend.appendChild(s);
    });
  }

  // ------------------------------------------------------------------ hover and detail
  function showTip(i, ev) {
    const tip = $("tip");
    const lines = [];
    for (const c of cols) {
      if (c.hover || c.key === state.x || c.key === state.y) {
        lines.push("<b>" + esc(label(c)) + "</b> " + esc(fmt(c, val(c.key, i))));
      }
    }
    if (D.plan && D.plan[i]) lines.push("<b>plan</b> " + esc(D.plan[i]));
    if (D.detail && D.detail[i]) lines.push("<i>click: per-layer report</i>");
    tip.innerHTML = lines.join("<br>");
    tip.hidden = false;
    tip.dataset.i = i;
    moveTip(ev);
  }
  function moveTip(ev) {
    const tip = $("tip");
    tip.style.left = (ev.pageX + 14) + "px";
    tip.style.top = (ev.pageY + 10) + "px";
  }
  function hideTip() { $("tip").hidden = true; }
  function openDetail(i) {
    state.selected = i;
    const href = D.detail ? D.detail[i] : null;
    const panel = $("detail");
    panel.hidden = false;
    $("detail-title").textContent = D.rowLabel ? val(D.rowLabel, i) : "row " + i;
    if (href) {
      $("detail-frame").src = href;
      $("detail-link").href = href;
      $("detail-link").hidden = false;
    } else {
      $("detail-frame").removeAttribute("src");
      $("detail-link").hidden = true;
    }
    render();
  }

  // ------------------------------------------------------------------ controls
  function buildControls() {
    const axes = cols.filter(c => c.kind === "num");
    const cats = cols.filter(c => c.kind !== "num");
    for (const [id, list, key, none] of [["xsel", axes, "x"], ["ysel", axes, "y"], ["csel", cats, "color", true]]) {
      const s = $(id);
      if (none) s.add(new Option("(none)", ""));
      for (const c of list) s.add(new Option(label(c), c.key));
      s.value = state[key] || "";
      s.addEventListener("change", () => { state[key] = s.value || null; render(); });
    }
    for (const [id, key] of [["logx", "logx"], ["logy", "logy"]]) {
      $(id).checked = !!state[key];
      $(id).addEventListener("change", () => { state[key] = $(id).checked; render(); });
    }
    // one listener per event on the scatter, not three per point
    const svg = $("scatter"), pt = ev => ev.target.closest && ev.target.closest("circle.pt");
    svg.addEventListener("mouseover", ev => { const c = pt(ev); if (c) showTip(+c.dataset.i, ev); });
    svg.addEventListener("mousemove", ev => { if (pt(ev)) moveTip(ev); });
    svg.addEventListener("mouseout", ev => { if (pt(ev)) hideTip(); });
    svg.addEventListener("click", ev => { const c = pt(ev); if (c) openDetail(+c.dataset.i); });
    $("tbody").addEventListener("click", ev => {
      const tr = ev.target.closest("tr");
      if (tr) openDetail(+tr.dataset.i);
    });
    $("detail-close").addEventListener("click", () => { $("detail").hidden = true; });
  }

  function render() {
    const idx = visible();
    const fronts = pareto(idx);
    renderScatter(idx, fronts);
    renderTable(idx, new Set(fronts.flat()));
    document.body.dataset.rendered = String(idx.length);
  }

  buildHead();
  buildControls();
  render();
  const m = location.hash.match(/open=(\d+)/);
  if (m && +m[1] < n) openDetail(+m[1]);
  document.body.dataset.ready = "1";
  document.body.dataset.readyMs = performance.now().toFixed(0);  // since navigation started
})();
