"""The engine-agreement benchmark runs end to end on a few designs and reports what the README quotes."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_des_vs_analytic_benchmark_reports_agreement_and_monotonicity(tmp_path):
    out = tmp_path / "dva.json"
    proc = subprocess.run([sys.executable, "benchmarks/des_vs_analytic.py", "--per-model", "2", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr  # 1 would mean a DES run outside its own bounds
    data = json.loads(out.read_text())
    s = data["summary"]
    assert s["designs"] == 6 == len(data["designs"]) and s["more_resource_pairs"] == 36 and s["all_within_bounds"]
    assert all(d["ratio"] == d["des_cycles"] / d["analytic_cycles"] > 0 for d in data["designs"])
    assert s["more_resource_bus_slower"] == 0
    assert "median ratio" in proc.stdout and "more of a resource" in proc.stdout

