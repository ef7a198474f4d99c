"""The explorer page in a real browser (headless Chromium over the DevTools pipe): one table row and one
scatter point per design, sorting, filtering, the Pareto front, hover and click-to-report; a screenshot is
saved in pytest's tmp dir. Chromium is a test dependency (Debian's ``chromium``, installed by ``make test``)."""
import sys
from pathlib import Path

import numpy as np
import pytest

from archsim import ArchsimError
from archsim.dse import run
from archsim.dse.plots import pareto_mask
from archsim.explorer import Column, write_explorer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _browser import INSTALL_HINT, Browser, chromium_path  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    if chromium_path() is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    with Browser() as b:
        yield b


@pytest.fixture(scope="module")
def sweep_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("explorer")
    res = run(["lenet5", "fashion_cnn"], "default", {"array.rows": [8, 16, 32], "dram.bus_bits": [64, 256]},
              ["int8", "dybit4", "w=dybit4,a=int8"], out=out, command="archsim sweep …")
    return res, out


def _type(b, key, text):
    """Type ``text`` into the filter box of column ``key``."""
    b.js(f"(i => {{ i.value = {text!r}; i.dispatchEvent(new Event('input')); }})"
         f"(document.querySelector('thead input[data-key=\"{key}\"]'))")


def _choose(b, select_id, value):
    b.js(f"(s => {{ s.value = {value!r}; s.dispatchEvent(new Event('change')); }})"
         f"(document.getElementById({select_id!r}))")


def _count(b, selector):
    return b.js(f"document.querySelectorAll({selector!r}).length")


def test_page_renders_a_row_and_a_point_per_design_and_the_fronts(browser, sweep_page, tmp_path):
    res, out = sweep_page
    n = len(res.table)
    seconds = browser.load(out / "index.html")
    browser.screenshot(tmp_path / "explorer.png")
    assert (tmp_path / "explorer.png").stat().st_size > 10_000
    assert browser.js("document.body.dataset.ready") == "1" and seconds < 10
    assert _count(browser, "#tbody tr") == n and _count(browser, "circle.pt") == n
    # the page's fronts (one per model, the colour) are the Python fronts
    expect = sum(int(pareto_mask(s["latency_s"], s["energy_j"]).sum()) for _, s in res.table.groupby("model"))
    assert _count(browser, "circle.onfront") == expect == browser.js(
        "[...document.querySelectorAll('#tbody tr td:first-child')].filter(td => td.textContent === '★').length")
    assert "<script src" not in (out / "index.html").read_text()  # self-contained: nothing fetched


def test_filter_sort_hover_and_click(browser, sweep_page):
    res, out = sweep_page
    browser.load(out / "index.html")
    # filter: model contains "lenet" and latency (ms) below the median
    med_ms = float(np.median(res.table["latency_s"])) * 1e3
    _type(browser, "model", "lenet")
    _type(browser, "latency_s", f"<{med_ms!r}")
    keep = res.table[(res.table["model"] == "lenet5") & (res.table["latency_s"] * 1e3 < med_ms)]
    assert _count(browser, "#tbody tr") == _count(browser, "circle.pt") == len(keep) > 0
    # sort by energy, twice: descending
    browser.js("document.querySelector('thead th[data-key=\"energy_j\"]').click()")
    browser.js("document.querySelector('thead th[data-key=\"energy_j\"]').click()")
    first = browser.js("+document.querySelector('#tbody tr').dataset.i")
    assert res.table.iloc[first]["energy_j"] == keep["energy_j"].max()
    # hover shows the point's swept parameters and plan; a click opens its per-layer report in the panel
    browser.js(f"document.querySelector('circle.pt[data-i=\"{first}\"]').dispatchEvent("
               "new MouseEvent('mouseover', {bubbles: true, clientX: 50, clientY: 50}))")
    tip = browser.js("document.getElementById('tip').innerText")
    row = res.table.iloc[first]
    assert f"array.rows {row['array.rows']}" in tip and f"plan {row['precision']}" in tip
    browser.js(f"document.querySelector('circle.pt[data-i=\"{first}\"]').dispatchEvent("
               "new MouseEvent('click', {bubbles: true}))")
    src = browser.js("document.getElementById('detail-frame').src")
    assert src.endswith(f"points/{row['key']}.html") and not browser.js("document.getElementById('detail').hidden")
    # wait for the panel's own document (not an earlier frame-load event still queued): poll up to 10 s
    layers = browser.js(
        "new Promise(done => { const t0 = Date.now(); (function poll() {"
        " const d = document.getElementById('detail-frame').contentDocument;"
        f" const ok = d && d.readyState === 'complete' && d.location.href.endsWith('points/{row['key']}.html');"
        " const n = ok ? d.querySelectorAll('tbody tr').length : 0;"
        " if (n || Date.now() - t0 > 10000) done(n); else setTimeout(poll, 50); })(); })")
    assert layers == len(res.layers[row["key"]])


def test_generic_rows_without_details(browser, tmp_path):
    """What another producer (a search, ``archsim llm``) hands the page: plain rows and column metadata."""
    rows = [{"name": f"d{i}", "ttft_s": 1.0 + i, "tokens_per_s": 100.0 - i ** 2} for i in range(7)]
    cols = [Column("name", kind="text", hover=True), Column("ttft_s", "TTFT", "ms", 1e3),
            Column("tokens_per_s", "tokens/s", better="higher")]
    path = write_explorer(tmp_path / "p.html", rows, cols, x="ttft_s", y="tokens_per_s", logx=False, logy=False)
    browser.load(path)
    assert _count(browser, "#tbody tr") == _count(browser, "circle.pt") == 7
    assert _count(browser, "circle.onfront") == 1  # d0: the lowest TTFT and the most tokens/s
    _choose(browser, "xsel", "tokens_per_s")
    _choose(browser, "ysel", "ttft_s")
    assert _count(browser, "circle.onfront") == 1
    with pytest.raises(ArchsimError, match="x: 'nope' is not a column"):
        write_explorer(tmp_path / "q.html", rows, cols, x="nope", y="ttft_s")


def test_search_results_use_the_same_page(browser, tmp_path):
    from archsim.search import EvalContext, SearchSpace, run_search, write_outputs
    from workloads import load_workload

    graph = load_workload("lenet5")
    space = SearchSpace([d["name"] for d in graph.compute_layers()], formats=("int8", "dybit4", "int4"),
                        hw_genes={"array.rows": (8, 16, 32), "dram.bus_bits": (64, 256)})
    ctx = EvalContext(graph.to_dict(), space, None, ("latency", "energy"))
    res = run_search(ctx, generations=3, pop=8, seed=0, baselines=False, des_front=False, progress=False)
    files = write_outputs(res, tmp_path, space=space, graph=graph, command="archsim search …")
    n = len({tuple(a["genome"]) for a in res.archive})
    browser.load(files["html"])
    assert _count(browser, "#tbody tr") == _count(browser, "circle.pt") == n
    starred = browser.js("[...document.querySelectorAll('#tbody tr')].filter(tr => tr.cells[0].textContent === '★')"
                         ".map(tr => tr.cells[1].textContent)")
    assert starred and set(starred) == {"yes"}  # the page's latency × energy front is the search's front
    assert len(list((tmp_path / "points").glob("*.html"))) == len(res.front)
    browser.js("[...document.querySelectorAll('#tbody tr')].find(tr => tr.cells[1].textContent === 'yes').click()")
    assert browser.js("document.getElementById('detail-frame').src").endswith(".html")
