"""The mapper-objective benchmark runs end to end on a small model and holds its own check."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mapper_objectives_benchmark_runs_and_holds_its_check(tmp_path):
    out = tmp_path / "obj.json"
    proc = subprocess.run([sys.executable, "benchmarks/mapper_objectives.py", "--models", "lenet5", "--hw", "default",
                           "--formats", "int8", "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(out.read_text())
    assert row["model"] == "lenet5" and row["energy"]["energy"] <= 1 and row["traffic"]["latency"] > 0
    assert "PASS" in proc.stdout
