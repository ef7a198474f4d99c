import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_sweep_buffers(tmp_path):
    rows = load("sweep_buffers").main(str(tmp_path / "s.png"))
    assert len(rows) == 12 and (tmp_path / "s.png").exists()
    by_shape = {}
    for shape, _kib, lat, _e, _a in rows:
        by_shape.setdefault(shape, []).append(lat)
    for lats in by_shape.values():  # a bigger weight buffer is never slower on the same array
        assert all(b <= a * 1.001 for a, b in zip(lats, lats[1:], strict=False))


def test_mixed_precision_plan():
    r = load("mixed_precision_plan").main()
    assert r["DyBit-4 / default"].total["latency_s"] < r["INT8 / default"].total["latency_s"]
    assert r["mixed / default"].layers[0]["w_format"] == "int8"


def test_search_small(tmp_path):
    res = load("search_small").main(str(tmp_path / "o"), generations=3, pop=8)
    assert res.front and (tmp_path / "o" / "front.csv").exists()


def test_dataflows(tmp_path):
    out = tmp_path / "dataflows.md"
    rows = load("dataflows").main(models=("lenet5",), out=str(out))
    assert [r["format"] for r in rows] == ["int8", "dybit4"]
    for r in rows:  # the per-layer best is a sum of per-layer minima: never above any fixed dataflow
        assert r["per_layer_best_ms"] <= min(r["latency_ms"].values()) * (1 + 1e-9)
        assert sum(r["wins"].values()) == 4  # this LeNet-5: conv1, conv2, linear1, linear2
    text = out.read_text()
    assert "| lenet5 | int8 |" in text and "layers won WS / OS / IS" in text
