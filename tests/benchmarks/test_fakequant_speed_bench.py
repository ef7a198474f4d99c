"""The fake-quant speed benchmark runs end to end on a small tensor: every format, both paths, the same
values (timings are not asserted: speed is measured by the script, not by tests)."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_fakequant_benchmark_reports_every_format_with_equal_values(tmp_path):
    out = tmp_path / "fq.json"
    proc = subprocess.run([sys.executable, "benchmarks/fakequant_speed.py", "--shape", "2,64,4,6", "--rounds", "2",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text())["rows"]
    assert [r["format"] for r in rows][:3] == ["int8", "dybit4", "mxfp4"] and len(rows) == 8
    assert all(r["same_values"] and r["ratio"] > 0 and r["inference_s"] > 0 for r in rows)
