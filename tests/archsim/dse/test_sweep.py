"""archsim sweep / archsim.sweep: the grid, its table, its files, its checks, and resume after kill -9."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import archsim
from archsim import ArchsimError, load_hw, simulate
from archsim.cli import main
from archsim.dse import SweepGrid, run, split_precisions
from workloads import load_workload

ROOT = Path(__file__).resolve().parents[3]
AXES = {"array.rows": [8, 16], "buffers.weight.kib": [32, 64]}


@pytest.fixture(scope="module")
def lenet_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    res = run(["lenet5", "fashion_cnn"], "default", AXES, ["int8", "dybit4"], out=out, db=out / "s.sqlite",
              command="archsim sweep …")
    return res, out


def test_one_row_per_point_with_every_key_and_the_simulated_figures(lenet_sweep):
    res, _ = lenet_sweep
    df = res.table
    assert len(df) == 2 * 4 * 2 and df["key"].is_unique
    assert set(df.groupby(["model", "array.rows", "buffers.weight.kib", "precision"]).size()) == {1}
    for col in ("latency_s", "energy_j", "area_mm2", "dram_bytes", "dram_floor_bytes", "utilization",
                "energy_dram_j", "energy_mac_j", "throughput_gmac_per_s_per_mm2"):
        assert col in df and (df[col] >= 0).all(), col
    # every row is what simulate gives for that point
    row = df[(df["model"] == "fashion_cnn") & (df["array.rows"] == 16) & (df["buffers.weight.kib"] == 64)
             & (df["precision"] == "dybit4")].iloc[0]
    hw = load_hw("default").with_overrides({"array.rows": 16, "buffers.weight.kib": 64})
    t = simulate(load_workload("fashion_cnn"), hw, "dybit4", "analytic").total
    assert row["latency_s"] == t["latency_s"] and row["energy_j"] == t["energy_j"]
    assert row["dram_floor_bytes"] == t["dram_floor_bytes"] and row["area_mm2"] == t["area_mm2"]
    energy_parts = df.filter(regex=r"^energy_.+_j$").sum(axis=1)
    assert np.allclose(energy_parts, df["energy_j"], rtol=1e-9)
    assert (df["dram_bytes"] >= df["dram_floor_bytes"]).all()
    assert (df["latency_s"] >= df["lower_bound_latency_s"] * (1 - 1e-9)).all()


def test_files_csv_parquet_plots_page_and_per_point_reports(lenet_sweep):
    res, out = lenet_sweep
    csv, pq = pd.read_csv(out / "sweep.csv"), pd.read_parquet(out / "sweep.parquet")
    assert len(csv) == len(pq) == len(res.table)
    assert list(pq.columns) == list(res.table.columns) and pq.equals(res.table)
    for name in ("latency_energy.png", "throughput_per_area.png", "metrics_vs_array.rows.png",
                 "metrics_vs_buffers.weight.kib.png", "index.html", "report.md"):
        assert (out / name).stat().st_size > 1000, name
    for key in res.table["key"]:
        page = (out / "points" / f"{key}.html").read_text()
        assert page.count("<tr>") == 1 + len(res.layers[key])  # header + one row per layer
    assert "archsim sweep …" in (out / "report.md").read_text()


def test_api_returns_a_dataframe_and_zip_pairs_the_lists():
    df = archsim.sweep("lenet5", "default", {"array.rows": [8, 16, 32], "array.cols": [16, 32, 64]}, "int8", zip=True)
    assert isinstance(df, pd.DataFrame) and len(df) == 3
    assert list(zip(df["array.rows"], df["array.cols"], strict=True)) == [(8, 16), (16, 32), (32, 64)]


def test_precision_list_keeps_mixed_specs_whole():
    assert split_precisions("int8,w=dybit4,a=int8,dybit4") == ["int8", "w=dybit4,a=int8", "dybit4"]


@pytest.mark.parametrize("axes, precisions, zip_, match", [
    ({"array.rowz": [8]}, ["int8"], False, "array.rowz: unknown hardware key"),
    ({"array.rows": ["many"]}, ["int8"], False, "array.rows=many: expected int"),
    ({"array.rows": [0]}, ["int8"], False, "array.rows=0: must be > 0"),
    ({"dram.latency_ns": [float("inf")]}, ["int8"], False, "finite"),
    ({"array.dataflow": ["ws", "diagonal"]}, ["int8"], False, "array.dataflow=diagonal: must be one of"),
    ({"array.rows": []}, ["int8"], False, "array.rows: no values"),
    ({"array.rows": [8, 8]}, ["int8"], False, "listed twice"),
    ({"buffers": [1]}, ["int8"], False, "is a section"),
    ({"array.rows": [8, 16], "array.cols": [16]}, ["int8"], True, "equal lengths"),
    ({}, [], False, "no precision"),
    ({}, ["int9"], False, "int9"),
    ({"array.rows": [4096]}, ["int8"], False, r"design \(array.rows=4096\): buffers.weight.kib"),
    ({"decoder.count": [0]}, ["dybit4"], False, r"design \(decoder.count=0\).*needs a decoder"),
])
def test_bad_grids_are_one_line_before_anything_runs(axes, precisions, zip_, match):
    with pytest.raises(ArchsimError, match=match) as exc:
        SweepGrid(["lenet5"], load_hw("default"), axes, precisions, zip=zip_).designs()
    assert "\n" not in str(exc.value)


def test_more_points_than_the_limit_need_force():
    grid = SweepGrid(["lenet5"], load_hw("default"), {"clock_mhz": list(range(100, 700))}, ["int8", "int4"])
    with pytest.raises(ArchsimError, match="1200 points is more than 1000; pass --force"):
        grid.check_size(max_points=1000)
    grid.check_size(force=True, max_points=1000)


def _cli(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("extra", [
    ["--set", "array.rows=8,x"], ["--set", "nope=1"], ["--set", "array.rows"], ["--precision", "bogus"],
    ["--set", "array.rows=8,16", "--set", "array.cols=8", "--zip"], ["--workers", "999"],
    ["--set", "clock_mhz=" + ",".join(str(v) for v in range(100, 5200))], ["--model", "no_such_model"],
])
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(extra, tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["sweep", "--model", "lenet5", "--out", str(out), *extra]
    code, err = _cli(argv, capsys)
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("sweep:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert not (out / "sweep.sqlite").exists()


def test_cli_runs_and_a_second_run_needs_resume(tmp_path, capsys):
    argv = ["sweep", "--model", "lenet5", "--set", "array.rows=8,16", "--precision", "int8,dybit4", "--out",
            str(tmp_path)]
    code, _ = _cli(argv, capsys)
    assert code == 0 and len(pd.read_csv(tmp_path / "sweep.csv")) == 4
    code, err = _cli(argv, capsys)
    assert code == 2 and "--resume" in err
    code, _ = _cli([*argv[:4], "array.rows=8,16,32", *argv[5:], "--resume"], capsys)
    assert code == 0
    with sqlite3.connect(tmp_path / "sweep.sqlite") as con:
        assert con.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0] == 6


def test_resume_after_kill_9_recomputes_nothing_it_had_stored(tmp_path, stored_rows):
    """A ``--workers 2`` sweep killed with SIGKILL mid-run, then resumed: the resumed run evaluates exactly the
    points not stored, the database holds each point once, and the table equals an uninterrupted run's. The model
    goes as a layer-graph JSON: the subprocesses then never import torch (seconds each on a shared machine)."""
    model = tmp_path / "mobilenet_v2.json"
    load_workload("mobilenet_v2").to_json(model)
    axes = {"array.rows": [8, 16, 32, 64], "buffers.weight.kib": [32, 64], "dram.bus_bits": [64, 256]}
    sets = [a for k, v in axes.items() for a in ("--set", f"{k}={','.join(map(str, v))}")]
    argv = [sys.executable, "-m", "archsim", "sweep", "--model", str(model), *sets, "--precision", "int8,dybit4",
            "--workers", "2", "--out", str(tmp_path / "out")]
    total, db = 32, tmp_path / "out" / "sweep.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while stored_rows(db) < 6 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = stored_rows(db)
    assert 6 <= stored < total, "the sweep finished before it was killed: make it larger"
    with sqlite3.connect(db) as con:
        before = dict(con.execute("SELECT genome_hash, created FROM evaluations").fetchall())
    done = subprocess.run([*argv, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{total} points: {total - stored} evaluated, {stored} from" in done.stdout
    with sqlite3.connect(db) as con:
        after = dict(con.execute("SELECT genome_hash, created FROM evaluations").fetchall())
    assert len(after) == total and all(after[k] == v for k, v in before.items())  # stored rows untouched
    resumed = pd.read_parquet(tmp_path / "out" / "sweep.parquet")
    fresh = run(str(model), "default", axes, ["int8", "dybit4"]).table
    cols = ["key", "latency_s", "energy_j", "dram_bytes", "utilization"]
    pd.testing.assert_frame_equal(resumed[cols], fresh[cols])
    assert json.loads(json.dumps(list(resumed["design"]))) == list(fresh["design"])
