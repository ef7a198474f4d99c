"""Sweep speed, resume after kill -9, and the explorer page in a browser, measured in one run.

    python benchmarks/sweep_speed.py [--workers 2] [--models resnet18,mobilenet_v2,vit_tiny,resnet50] [--json F]

The issue-20 targets: a 4-model × 64-design × 3-precision analytic sweep (768 points) finishes in ≤ 60 s on 2
cores; the same sweep resumed after a kill -9 recomputes nothing it had stored; its explorer page loads in
headless Chromium in ≤ 2 s and is ≤ 5 MB. The sweep runs as users run it (``archsim sweep`` in a subprocess):
the wall time counts the interpreter and model loading, the evaluations and every output file. The load
average is printed before and after: on a machine shared with other jobs the wall time is not the sweep's own.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from archsim.search.store import stored_count

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[1]
DESIGN_SETS = ["--set", "array.rows=8,16,32,64", "--set", "buffers.weight.kib=32,64,128,256",
               "--set", "dram.bus_bits=64,128,256,512"]  # 4 × 4 × 4 = 64 designs
PRECISIONS = "int8,dybit4,w=dybit4,a=int8"
TARGET_S, TARGET_PAGE_S, TARGET_PAGE_MB = 60.0, 2.0, 5.0


def _argv(models: str, workers: int, out: Path) -> list:
    return [sys.executable, "-m", "archsim", "sweep", "--model", models, *DESIGN_SETS, "--precision", PRECISIONS,
            "--workers", str(workers), "--out", str(out)]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}




def _child_cpu_s() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed_sweep(models: str, workers: int, out: Path) -> dict:
    """Wall time and CPU seconds (the command and its pool workers) of one sweep."""
    cpu0, t0 = _child_cpu_s(), time.perf_counter()
    proc = subprocess.run(_argv(models, workers, out), env=_env(), capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _child_cpu_s() - cpu0
    if proc.returncode:
        raise SystemExit(f"sweep failed: {proc.stderr.strip().splitlines()[-1]}")
    m = re.search(r"(\d+) points: (\d+) evaluated, (\d+) from .*; ([\d.]+) s", proc.stdout)
    points, new, cached, sweep_s = int(m[1]), int(m[2]), int(m[3]), float(m[4])
    return {"points": points, "evaluated": new, "from_store": cached, "wall_s": wall, "evaluate_s": sweep_s,
            "cpu_s": cpu}


def kill_and_resume(models: str, workers: int, out: Path, fraction: float = 0.5) -> dict:
    """Kill -9 the sweep once ``fraction`` of its points are stored, resume it, and count what was evaluated."""
    db = out / "sweep.sqlite"
    proc = subprocess.Popen(_argv(models, workers, out), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while proc.poll() is None and stored_count(db) < fraction * 768:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = stored_count(db)
    resumed = subprocess.run([*_argv(models, workers, out), "--resume"], env=_env(), capture_output=True, text=True)
    m = re.search(r"(\d+) points: (\d+) evaluated, (\d+) from", resumed.stdout)
    return {"stored_at_kill": stored, "resume_evaluated": int(m[2]), "resume_from_store": int(m[3]),
            "total_in_db": stored_count(db), "points": int(m[1])}


def page_load(path: Path, repeat: int = 5) -> dict:
    from _browser import Browser

    with Browser() as b:
        times, ready = [], []
        for _ in range(repeat):
            times.append(b.load(path))
            ready.append(int(b.js("document.body.dataset.readyMs")) / 1e3)  # table and scatter drawn
        rows = b.js("document.querySelectorAll('#tbody tr').length")
        points = b.js("document.querySelectorAll('circle.pt').length")
        b.screenshot(path.parent / "explorer.png")
    return {"load_s_median": statistics.median(times), "load_s_max": max(times), "rows": rows, "points": points,
            "rendered_s_median": statistics.median(ready),
            "size_mb": path.stat().st_size / 1e6}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet18,mobilenet_v2,vit_tiny,resnet50")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-kill", action="store_true", help="skip the kill -9 / resume run")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    res = {"models": args.models, "workers": args.workers, "load_avg_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="sweep-speed-") as tmp:
        tmp = Path(tmp)
        res["sweep"] = timed_sweep(args.models, args.workers, tmp / "a")
        s = res["sweep"]
        print(f"sweep: {s['points']} points ({args.models} × 64 designs × 3 precisions, analytic, --workers "
              f"{args.workers}): {s['wall_s']:.1f} s wall for the whole command (target ≤ {TARGET_S:.0f} s), of which "
              f"evaluating {s['evaluate_s']:.1f} s = {s['points'] / s['evaluate_s']:.1f} points/s; "
              f"{s['cpu_s']:.1f} CPU seconds in all (command + workers)")
        res["page"] = page_load(tmp / "a" / "index.html")
        p = res["page"]
        print(f"explorer page: {p['size_mb']:.2f} MB (target ≤ {TARGET_PAGE_MB:g}), loads in headless Chromium in "
              f"{p['load_s_median']:.2f} s median, {p['load_s_max']:.2f} s max of 5 (target ≤ {TARGET_PAGE_S:g}; "
              f"table and scatter drawn {p['rendered_s_median']:.2f} s after navigation, median); "
              f"{p['rows']} rows, {p['points']} points")
        if not args.no_kill:
            res["resume"] = r = kill_and_resume(args.models, args.workers, tmp / "b")
            ok = r["resume_evaluated"] == r["points"] - r["stored_at_kill"]
            print(f"kill -9 after {r['stored_at_kill']} stored points, then --resume: {r['resume_evaluated']} "
                  f"evaluated, {r['resume_from_store']} from the store, {r['total_in_db']} in the database "
                  f"({'nothing stored was recomputed' if ok else 'RECOMPUTED STORED POINTS'})")
    res["load_avg_after"] = os.getloadavg()[0]
    print(f"load average (1 min) {res['load_avg_before']:.1f} before, {res['load_avg_after']:.1f} after, on "
          f"{os.cpu_count()} CPUs: above {os.cpu_count()} the sweep shared its cores with other jobs")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
