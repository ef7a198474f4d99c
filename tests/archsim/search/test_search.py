import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from archsim import ArchsimError, load_hw
from archsim.search import EvalContext, EvalStore, SearchSpace, evaluate, genome_hash, run_search
from archsim.search.space import HW_GENES
from workloads import load_workload


@pytest.fixture(scope="module")
def cnn():
    g = load_workload("fashion_cnn")
    return g, [d["name"] for d in g.compute_layers()]


def test_genome_round_trip_and_repair(cnn):
    g, layers = cnn
    space = SearchSpace(layers)
    x = space.genome("int8")
    plan, hw = space.decode(x)
    assert all(str(p) == "int8" for _, p in plan.items())
    assert hw == load_hw("default")  # base values are among the gene choices
    x2 = space.genome("w=dybit4,a=int8", {"array.rows": 32, "dram.bus_bits": 512})
    plan, hw = space.decode(x2)
    assert str(plan[layers[0]]) == "w=dybit4,a=int8" and hw.array.rows == 32 and hw.dram.bus_bits == 512
    wild = np.full(space.n_var, 99)
    wild[0] = -5
    assert np.array_equal(space.repair(wild), np.concatenate([[0], space.upper[1:]]))
    small = SearchSpace(layers, hw_genes={"buffers.weight.kib": (0.25, 64)})  # 0.25 KiB cannot hold a fold
    _, hw = small.decode(small.genome("int8", {"buffers.weight.kib": 0.25}))
    assert hw.buffers.weight.kib >= 1  # repaired: grown until legal
    with pytest.raises(ArchsimError, match="search formats"):
        SearchSpace(layers, formats=("int8", "nope4"))


def _ctx(g, layers, objectives=("latency", "error"), **kw):
    return EvalContext(g.to_dict(), SearchSpace(layers), None, objectives, **kw)


def test_same_seed_same_front_and_cache(cnn, tmp_path):
    g, layers = cnn
    fronts = []
    for i in range(2):
        r = run_search(_ctx(g, layers), generations=4, pop=10, seed=3, baselines=False, des_front=False,
                       progress=False, store=EvalStore(tmp_path / f"s{i}.sqlite"))
        fronts.append([f["hash"] for f in r.front])
        assert r.n_evals == len({genome_hash(a["genome"]) for a in r.archive})  # each genome evaluated once
    assert fronts[0] == fronts[1] and fronts[0]


def test_three_objectives_use_nsga3_and_constraints_hold(cnn):
    g, layers = cnn
    r = run_search(_ctx(g, layers, ("latency", "energy", "area"), max_area_mm2=3.0), generations=3, pop=12,
                   seed=0, baselines=False, progress=False)
    assert r.front and all(f["values"]["area"] <= 3.0 for f in r.front)
    assert all("des_latency_s" in f for f in r.front)  # DES re-run on every front member


def test_search_beats_baselines_at_equal_budget(cnn):
    from quant.sensitivity import sensitivity_table
    from workloads.train import load_trained

    g, layers = cnn
    sens = sensitivity_table(load_trained("fashion_cnn"), (1, 28, 28), SearchSpace(layers).formats, cache=False)
    ctx = EvalContext(g.to_dict(), SearchSpace(layers), sens, ("latency", "error"), max_error=0.05)
    r = run_search(ctx, generations=8, pop=16, seed=1, progress=False, des_front=False)
    hv = r.hv_history[-1][1]
    assert r.baselines["random"][-1][0] == r.hv_history[-1][0]  # same budget
    assert hv >= r.baselines["random"][-1][1] and hv >= r.baselines["greedy"][-1][1]


def test_process_pool_and_dask_give_the_same_front(cnn):
    from dask.distributed import LocalCluster

    g, layers = cnn
    base = run_search(_ctx(g, layers), generations=3, pop=8, seed=5, baselines=False, des_front=False,
                      progress=False)
    pool = run_search(_ctx(g, layers), generations=3, pop=8, seed=5, baselines=False, des_front=False,
                      progress=False, workers=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      processes=True) as cluster:
        dsk = run_search(_ctx(g, layers), generations=3, pop=8, seed=5, baselines=False, des_front=False,
                         progress=False, dask=cluster.scheduler_address)
    key = [(f["hash"], round(f["values"]["latency"], 12)) for f in base.front]
    assert key == [(f["hash"], round(f["values"]["latency"], 12)) for f in pool.front]
    assert key == [(f["hash"], round(f["values"]["latency"], 12)) for f in dsk.front]


def test_resume_after_kill_9(tmp_path, stored_rows):
    g = load_workload("resnet18")
    gjson = tmp_path / "r18.json"
    g.to_json(gjson)
    common = [sys.executable, "-m", "archsim", "search", "--model", str(gjson), "--generations", "8", "--pop", "16",
              "--seed", "2", "--no-baselines", "--objectives", "latency,energy,error"]
    ref = subprocess.run(common + ["--out", str(tmp_path / "ref")], capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr
    db = tmp_path / "run" / "search.sqlite"
    proc = subprocess.Popen(common + ["--out", str(tmp_path / "run")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while stored_rows(db) < 30 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the search finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = stored_rows(db)
    assert before >= 30
    res = subprocess.run(common + ["--out", str(tmp_path / "run"), "--resume"], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    ref_rows, run_rows = stored_rows(tmp_path / "ref" / "search.sqlite"), stored_rows(db)
    assert run_rows == ref_rows
    new = int(res.stdout.split(" new evaluations")[0].split(";")[-1].strip())
    assert new == ref_rows - before  # nothing evaluated twice
    f_ref = json.loads((tmp_path / "ref" / "front.json").read_text())["front"]
    f_run = json.loads((tmp_path / "run" / "front.json").read_text())["front"]
    assert [f["hash"] for f in f_ref] == [f["hash"] for f in f_run]
    assert [f["values"] for f in f_ref] == [f["values"] for f in f_run]
    again = subprocess.run(common + ["--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "--resume" in again.stderr


def test_bad_objective(cnn):
    g, layers = cnn
    with pytest.raises(ArchsimError, match="objective 'speed'"):
        _ctx(g, layers, ("speed",))
    with pytest.raises(ArchsimError, match="distinct"):
        _ctx(g, layers, ("latency", "latency"))
    assert set(HW_GENES) >= {"array.rows", "buffers.weight.kib", "dram.bus_bits", "decoder.count", "array.dataflow"}


@pytest.mark.parametrize("kw, match", [
    (dict(max_error=-1.0), r"max_error: .* ≥ 0, got -1.0"),
    (dict(max_area_mm2=0.0), r"max_area_mm2: .* > 0, got 0.0"),
    (dict(latency_target_s=float("nan")), r"latency_target_s: .* got nan"),
    (dict(engine="spice"), r"engine: .* got 'spice'"),
])
def test_bad_bounds_are_named(cnn, kw, match):
    g, layers = cnn
    with pytest.raises(ArchsimError, match=match):
        _ctx(g, layers, **kw)


@pytest.mark.parametrize("kw, match", [
    (dict(generations=0), r"generations: must be an integer ≥ 1, got 0"),
    (dict(pop=1), r"pop: .* ≥ 2, got 1"),
    (dict(seed=-1), r"seed: .* ≥ 0, got -1"),
    (dict(workers=-2), r"workers: .* got -2"),
    (dict(generations=2.5), r"generations: .* got 2.5"),
])
def test_bad_run_arguments_are_named_before_any_evaluation(cnn, kw, match):
    g, layers = cnn
    args = dict(generations=2, pop=4, seed=0, progress=False) | kw
    with pytest.raises(ArchsimError, match=match):
        run_search(_ctx(g, layers), **args)


def test_bad_space_arguments(cnn):
    from archsim.search.space import select_hw_genes

    _, layers = cnn
    with pytest.raises(ArchsimError, match="none given"):
        SearchSpace(layers, formats=())
    with pytest.raises(ArchsimError, match="unknown 'array.row'; searchable genes are array.rows"):
        select_hw_genes(["array.row"])
    assert list(select_hw_genes(["dram.bus_bits", "array.rows"])) == ["array.rows", "dram.bus_bits"]
    assert select_hw_genes([""]) == HW_GENES


def test_unreachable_dask_scheduler_is_named(cnn):
    import dask

    g, layers = cnn
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), \
            pytest.raises(ArchsimError, match="dask: cannot connect to the scheduler at 'tcp://127.0.0.1:1'"):
        run_search(_ctx(g, layers), generations=1, pop=4, progress=False, dask="tcp://127.0.0.1:1")


def test_infeasible_constraints_report_the_closest_design(cnn, tmp_path):
    g, layers = cnn
    r = run_search(_ctx(g, layers, latency_target_s=1e-12, max_error=1.0), generations=2, pop=6, seed=0,
                   baselines=False, des_front=False, progress=False)
    assert r.front == [] and r.closest is not None
    assert list(r.closest["violated"]) == ["latency"]  # the error bound holds, only latency is missed
    fastest = min(a["values"]["latency"] for a in r.archive)
    assert r.closest["violated"]["latency"] == {"value": fastest, "bound": 1e-12}
    assert json.loads(json.dumps(r.to_dict()))["closest_infeasible"]["hash"] == r.closest["hash"]
    assert "designs on the front" in repr(r)
    ok = run_search(_ctx(g, layers, max_error=1.0), generations=1, pop=6, seed=0, baselines=False,
                    des_front=False, progress=False)
    assert ok.front and ok.closest is None


def test_cli_rejects_bad_arguments_without_leaving_a_database(tmp_path):
    out = tmp_path / "s"
    base = [sys.executable, "-m", "archsim", "search", "--model", "lenet5", "--generations", "1", "--pop", "4",
            "--out", str(out)]
    for extra, msg in ((["--objectives", "latency,foo"], "objective 'foo'"),
                       (["--hw-genes", "array.row"], "unknown 'array.row'"),
                       (["--resume"], "--resume: no search is stored"),
                       (["--formats", ""], "none given")):
        res = subprocess.run(base + extra, capture_output=True, text=True, timeout=120)
        assert res.returncode == 2 and msg in res.stderr, res.stderr
        assert "Traceback" not in res.stderr and not (out / "search.sqlite").exists()


def test_graph_cache_never_serves_another_contexts_graph(cnn):
    import importlib

    ev = importlib.import_module("archsim.search.evaluate")  # the module (the package exports the function)

    g, layers = cnn
    ctx_a = _ctx(g, layers)
    other = load_workload("lenet5")
    ctx_b = EvalContext(other.to_dict(), SearchSpace([d["name"] for d in other.compute_layers()]), None,
                        ("latency",))
    assert ev._graph(ctx_a).name == g.name
    # as if ctx_b's dict had been allocated where a freed graph dict used to be (the same id)
    ev._GRAPH_CACHE[id(ctx_b.graph)] = ev._GRAPH_CACHE[id(ctx_a.graph)]
    assert ev._graph(ctx_b).name == "lenet5"


def test_store_refuses_to_resume_under_another_configuration_and_names_what_differs(tmp_path):
    from archsim.simulate import COST_MODEL_VERSION

    db = tmp_path / "s.sqlite"
    config = {"model": "lenet5", "seed": 0, "cost_model": COST_MODEL_VERSION}
    EvalStore(db, config=config).close()
    EvalStore(db, config=dict(config), resume=True).close()  # same configuration: resumes
    with pytest.raises(ValueError, match=r"\(cost_model differ\)"):  # evaluated under an older cost model
        EvalStore(db, config={**config, "cost_model": COST_MODEL_VERSION - 1}, resume=True)
    with pytest.raises(ValueError, match=r"\(model, seed differ\)"):
        EvalStore(db, config={**config, "model": "resnet18", "seed": 1}, resume=True)


def test_mapper_objective_maps_every_evaluated_design_and_its_des_check(cnn):
    """With mapper_objective='energy' every design is simulated with least-energy tilings: per genome no more
    energy than the latency mapping, which in turn is no slower (to within its tolerance); the front's DES
    re-simulation uses the same mapping. An unknown objective is named before anything runs."""
    from archsim.mapping import LATENCY_TOLERANCE
    from archsim.simulate import simulate

    g, layers = cnn
    fast, frugal = _ctx(g, layers, ("latency", "energy")), _ctx(g, layers, ("latency", "energy"),
                                                                 mapper_objective="energy")
    rng = np.random.default_rng(5)
    for x in rng.integers(0, fast.space.upper + 1, size=(8, fast.space.n_var)):
        a, b = evaluate(fast, x)["values"], evaluate(frugal, x)["values"]
        assert b["energy"] <= a["energy"] * (1 + 1e-6)
        assert a["latency"] <= b["latency"] * (1 + LATENCY_TOLERANCE + 1e-6)
    lean = _ctx(g, layers, ("latency", "energy"), mapper_objective="traffic")  # far slower tilings: a check that bites
    r = run_search(lean, generations=2, pop=8, seed=0, baselines=False, progress=False)
    for item in r.front:
        plan, hw = lean.space.decode(item["genome"])
        assert item["des_latency_s"] == simulate(g, hw, plan, "des", objective="traffic").total["latency_s"]
    with pytest.raises(ArchsimError, match="mapper_objective: must be one of latency, energy, traffic"):
        _ctx(g, layers, mapper_objective="edp")


def test_mapping_policy_as_a_gene(cnn):
    """Several mapper objectives make a last gene: the search picks a mapping policy per design. A genome with
    the 'energy' gene evaluates exactly as a context fixed to energy mapping; the front records each design's
    policy and re-simulates it with that policy."""
    from archsim.simulate import simulate

    g, layers = cnn
    space = SearchSpace(layers, mapper_objectives=("latency", "energy"))
    assert space.n_var == SearchSpace(layers).n_var + 1 and space.upper[-1] == 1
    x = space.genome("dybit4", mapper="energy")
    assert x[-1] == 1 and space.mapper_objective(x) == "energy"
    assert space.mapper_objective(space.genome("int8")) == "latency"
    assert SearchSpace(layers).mapper_objective(x[:-1]) is None
    ctx = EvalContext(g.to_dict(), space, None, ("latency", "energy"))
    fixed = EvalContext(g.to_dict(), SearchSpace(layers), None, ("latency", "energy"), mapper_objective="energy")
    assert evaluate(ctx, x)["values"] == evaluate(fixed, x[:-1])["values"]
    r = run_search(ctx, generations=3, pop=10, seed=1, baselines=False, progress=False)
    for item in r.front:
        assert item["mapper"] == space.mapper_objective(item["genome"])
        plan, hw = space.decode(item["genome"])
        assert item["des_latency_s"] == simulate(g, hw, plan, "des", objective=item["mapper"]).total["latency_s"]
    for bad in (("latency", "edp"), ("energy", "energy")):
        with pytest.raises(ArchsimError, match="search mapper objectives"):
            SearchSpace(layers, mapper_objectives=bad)


def test_dask_search_survives_the_restart_of_its_only_worker(cnn, tmp_path, stored_rows):
    """Losing the only worker (a nanny restarts it) ended the search with FutureCancelledError: the shared
    context had been sent once and died with the worker. Now the lost evaluations are resubmitted with the
    context sent again; the front equals an in-process run's and the store holds each genome once."""
    import threading

    from dask.distributed import Client, LocalCluster

    g, layers = cnn
    ref = run_search(_ctx(g, layers), generations=6, pop=12, seed=7, baselines=False, des_front=False,
                     progress=False)
    with LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      processes=True) as cluster, Client(cluster) as client:
        pid = next(iter(client.run(os.getpid).values()))
        db, out = tmp_path / "s.sqlite", {}

        def search():  # SQLite connections belong to the thread that opens them
            store = EvalStore(db, config={"t": 1})
            out["res"] = run_search(_ctx(g, layers), generations=6, pop=12, seed=7, baselines=False,
                                    des_front=False, progress=False, dask=cluster.scheduler_address, store=store)
            out["rows"] = store.rows()

        t = threading.Thread(target=search)
        t.start()
        deadline = time.time() + 120
        while stored_rows(db) < 15 and time.time() < deadline:
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)
        t.join(timeout=300)
        assert not t.is_alive() and "res" in out
        assert next(iter(client.run(os.getpid).values())) != pid  # the nanny started a new worker
    key = [(f["hash"], f["values"]) for f in ref.front]
    assert key == [(f["hash"], f["values"]) for f in out["res"].front]
    assert len(out["rows"]) == len({r["hash"] for r in out["rows"]}) >= 15


def test_dask_search_without_workers_waits_then_says_so_in_one_line(cnn, monkeypatch, capsys):
    from dask.distributed import LocalCluster

    import archsim.search.evaluator as evaluator

    g, layers = cnn
    monkeypatch.setattr(evaluator, "DASK_WAIT_S", 2.0)
    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None, processes=True) as cluster:
        with pytest.raises(ArchsimError, match="dask: no worker connected to .* within 2 s; .*--resume"):
            run_search(_ctx(g, layers), generations=1, pop=4, progress=False, baselines=False, des_front=False,
                       dask=cluster.scheduler_address)
    assert "waiting up to 2 s" in capsys.readouterr().err


def test_resume_reuses_the_stored_baselines(cnn, tmp_path, monkeypatch):
    import archsim.search.run as run

    g, layers = cnn
    db = tmp_path / "s.sqlite"
    first = run_search(_ctx(g, layers), generations=2, pop=8, seed=1, des_front=False, progress=False,
                       store=EvalStore(db, config={"t": 1}))

    def forbidden(*a, **k):
        raise AssertionError("baseline evaluated again on resume")

    monkeypatch.setattr(run, "random_search", forbidden)
    monkeypatch.setattr(run, "greedy_lowering", forbidden)
    again = run_search(_ctx(g, layers), generations=2, pop=8, seed=1, des_front=False, progress=False,
                       store=EvalStore(db, config={"t": 1}, resume=True))
    assert again.baselines == first.baselines and first.baselines["random"]
    assert [f["hash"] for f in again.front] == [f["hash"] for f in first.front]
