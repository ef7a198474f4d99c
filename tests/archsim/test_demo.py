import json
import subprocess
import sys

from archsim.cli import main


def test_demo_quick_writes_every_promised_file(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    index = (out / "index.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["models"]) == {"fashion_cnn", "resnet18"}
    for m in summary["models"].values():
        want = {"INT8 on int8_systolic", "INT8 on default", "DyBit-4 on default", "searched mix on default"}
        assert want <= set(m["runs"])
        for r in m["runs"].values():
            d = out / r["dir"]
            json.loads((d / "result.json").read_text())
            assert (d / "layers.csv").read_text().startswith("name,op")
            for png in ("latency.png", "energy.png", "roofline.png"):
                assert (d / png).read_bytes()[:4] == b"\x89PNG"
            assert f"]({r['dir']}/report.md)" in index
    acc = summary["models"]["fashion_cnn"]["runs"]["INT8 on default"]["accuracy"]
    assert abs(acc - summary["models"]["fashion_cnn"]["fp32_accuracy"]) < 0.01
    trace = json.loads((out / "trace.json").read_text())
    assert any(e.get("ph") == "X" for e in trace["traceEvents"])
    front = json.loads((out / "search" / "front.json").read_text())
    assert front["front"] and (out / "search" / "hypervolume.png").exists()
    assert "Reproduce each piece" in index and "archsim report" in index
    # the sweep's explorer page, linked from the index, one row per point
    assert "](sweep/index.html)" in index and summary["sweep"]["points"] == 36
    assert len((out / "sweep" / "sweep.csv").read_text().splitlines()) == 1 + 36
    assert "explorer-data" in (out / "sweep" / "index.html").read_text()
    # `archsim report DIR` rebuilds from the JSON without simulating
    (out / "index.md").unlink()
    r = subprocess.run([sys.executable, "-m", "archsim", "report", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (out / "index.md").read_text() == index


def test_report_on_a_simulate_folder_and_bad_folder(tmp_path):
    out = tmp_path / "sim"
    assert main(["simulate", "--model", "fashion_cnn", "--out", str(out)]) == 0
    (out / "report.md").unlink()
    assert main(["report", str(out)]) == 0 and (out / "report.md").exists()
    assert main(["report", str(tmp_path)]) == 2
