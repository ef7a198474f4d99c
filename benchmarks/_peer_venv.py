"""A throwaway venv outside the project for a peer tool the benchmarks compare against (never a dependency)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def ensure_venv(venv: Path, packages: list[str], probe: str) -> Path:
    """``venv``'s python, creating the venv and installing ``packages`` unless ``import probe`` already works."""
    py = venv / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", f"import {probe}"], capture_output=True).returncode == 0:
        return py
    print(f"installing {' '.join(packages)} into {venv} (outside the project) …", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", *packages], check=True)
    return py
