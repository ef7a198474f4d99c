"""The accuracy report's work, cut into jobs that worker processes run (``quant.accuracy_report``).

A job quantises one model with rows of one *weight* format and calibration method on some calibration sets:
the chosen weights (output-aware scales, GPTQ rounding) depend on the weight format, the method and the
calibration set only, so the rows that share them (W4A16, W4A8 and W4A4 of one format; every W8A4 row's INT8
weights) bake them once and differ only in their activation quantisers. A worker keeps each model, its
calibration sets and their layer Hessians once, and the last few baked weight sets.

Every worker computes with one torch thread, whatever the number of workers, so a row's numbers do not
depend on how the work was split (tested: 1 and 2 workers give the same report).
"""
from __future__ import annotations

import copy
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

_BAKED_KEEP = 6  # baked weight sets a worker keeps (MiniLM's are ~90 MB each; a job bakes all its sets at once)
_STATE: dict = {"models": {}, "baked": OrderedDict()}
STAGES = ("build", "weights", "calibrate", "score")  # where a row's seconds go (``seconds_by``)


@dataclass(frozen=True)
class Job:
    """Rows ``(key, plan spec)`` of ``task`` that share weight format ``weights`` and ``method``, each run on
    calibration sets ``sets`` (indices into the task's ``calib_sets`` sets)."""

    task: str
    sizes: str
    calib_sets: int
    weights: str
    method: str
    sets: tuple
    rows: tuple

    @property
    def cost(self) -> float:
        """A rough relative cost, to start the longest jobs first."""
        per_item = {"minilm": 3.0, "ppocr_cls": 2.0, "fashion_cnn": 1.5}.get(self.task, 0.5)
        return per_item * len(self.rows) * len(self.sets) * (2.0 if self.method == "gptq" else 1.0)


def weight_format(spec: str) -> str:
    """The weight format of a plan spec ``w=…,a=…``."""
    return dict(p.split("=", 1) for p in spec.split(","))["w"]


class _Model:
    """One task in a worker: FP32 model, BN-folded copy, calibration sets, wrapped-layer paths, Hessians."""

    def __init__(self, name: str, sizes: str, calib_sets: int):
        from quant.qmodel import QuantConv, fold_batchnorm, quantize_model
        from quant.tasks import make_task

        self.task = make_task(name, sizes)
        self.fp32 = self.task.model()
        self.folded = fold_batchnorm(self.fp32)
        self.calib = self.task.calib_sets(calib_sets)
        self.paths = [p for p, m in quantize_model(self.task.model(), "int8", self.task.input_shape).named_modules()
                      if isinstance(m, QuantConv)]
        self._hess: dict = {}

    def hessians(self, s: int) -> dict:
        """The wrapped layers' input second moments on calibration set ``s`` (FP32 model: once per set)."""
        if s not in self._hess:
            from quant.calibration import layer_hessians

            self._hess[s] = layer_hessians(self.folded, self.paths, self.calib[s], self.task.forward)
        return self._hess[s]


def _model(name: str, sizes: str, calib_sets: int) -> _Model:
    key = (name, sizes, calib_sets)
    if key not in _STATE["models"]:
        _STATE["models"][key] = _Model(name, sizes, calib_sets)
    return _STATE["models"][key]


def _bake(m: _Model, job: Job, q, s: int) -> dict:
    """Write into ``q`` the weights chosen by the job's method on calibration set ``s`` (chosen for all the
    job's sets at once on first use, then reused by every row with the same weight format); returns
    {layer path: what was done}."""
    from quant.calibration import choose_weights, write_weights

    cache = _STATE["baked"]
    key = (job.task, job.sizes, job.calib_sets, job.weights, job.method)
    if (*key, s) not in cache:
        todo = [t for t in job.sets if (*key, t) not in cache]  # s among them
        for t, chosen in zip(todo, choose_weights(q, job.method, [m.hessians(t) for t in todo]), strict=True):
            cache[(*key, t)] = chosen
        while len(cache) > _BAKED_KEEP:
            cache.popitem(last=False)
    cache.move_to_end((*key, s))
    weights, done = cache[(*key, s)]
    write_weights(q, weights)
    return done


def run_job(job: Job) -> list:
    """[(row key, row)] for the job's rows: per-set per-item scores, mean extras, fallbacks, seconds."""
    import torch

    from quant.qmodel import calibrate, quantize_model

    torch.set_num_threads(1)
    m = _model(job.task, job.sizes, job.calib_sets)
    out = []
    for key, spec in job.rows:
        clock = _Clock()
        q0 = quantize_model(m.task.model(), spec, m.task.input_shape, first_last="int8")  # traced once per row
        per_set, extras, fallback = [], [], set()
        for s in job.sets:
            q = copy.deepcopy(q0)
            clock.lap("build")
            if job.method != "mse":
                fallback |= {how for how in _bake(m, job, q, s).values() if how != job.method}
                clock.lap("weights")
            calibrate(q, m.calib[s], m.task.forward)  # activation scales (and weight-MSE weights for ``mse``)
            clock.lap("calibrate")
            sc = m.task.score(q)
            clock.lap("score")
            per_set.append(sc.items)
            extras.append(sc.extra)
        out.append((key, {"per_set": np.array(per_set), "fallback": sorted(fallback),
                          "extra": {k: float(np.mean([e[k] for e in extras])) for k in extras[0]},
                          "seconds": sum(clock.spent.values()), "seconds_by": clock.spent}))
    return out


class _Clock:
    """Seconds spent per stage of a row: building the quantised copy, choosing weights (the first row of a
    weight format pays for every row that shares them), calibrating, scoring."""

    def __init__(self):
        self.spent = dict.fromkeys(STAGES, 0.0)
        self._t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.spent[stage] += now - self._t
        self._t = now


def release() -> None:
    """Let go of the models and baked weights this process keeps (after an in-process run)."""
    _STATE["models"].clear()
    _STATE["baked"].clear()


def model_meta(name: str, sizes: str, calib_sets: int) -> dict:
    """What the report says about a model: title, metric, data, test items and the FP32 score."""
    import torch

    torch.set_num_threads(1)
    m = _model(name, sizes, calib_sets)
    t = m.task
    sc = t.score(m.fp32)
    return {"title": t.title, "metric": t.metric, "kind": t.kind, "data": t.data_note, "n": len(sc.items),
            "fp32": sc.value, "fp32_extra": sc.extra, "seconds": 0.0}


def run_all(calls: list, workers: int, progress=None) -> list:
    """Results of ``calls`` [(function, args)] in order, on ``workers`` processes (1: in this process, the
    caller's torch thread count restored). ``progress(n_done)`` after each."""
    if workers <= 1:
        import torch

        threads = torch.get_num_threads()
        try:
            res = []
            for fn, args in calls:
                res.append(fn(*args))
                if progress:
                    progress(1)
            return res
        finally:
            torch.set_num_threads(threads)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    res = [None] * len(calls)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_die_with_parent) as pool:
        futs = {pool.submit(fn, *args): i for i, (fn, args) in enumerate(calls)}
        for f in as_completed(futs):
            res[futs[f]] = f.result()
            if progress:
                progress(1)
    return res


def _die_with_parent() -> None:
    """Linux: a worker gets SIGTERM when the report's process dies (killed), instead of lingering with its
    models in memory; elsewhere a no-op."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        except OSError:
            pass
