"""Search evaluations: a genome-hash cache backed by the SQLite store (every evaluation is written as it
completes), dispatched in-process, to a local process pool (``workers``) or to a Dask cluster (``dask`` =
scheduler address). The sweep (``archsim.dse``) uses the same machinery with its own evaluation function
and point key (``fn``, ``key``): both must be picklable top-level functions."""
from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np

from archsim.errors import ArchsimError
from archsim.search.evaluate import EvalContext, evaluate
from archsim.search.space import genome_hash
from archsim.search.store import EvalStore

_WORKER_CTX = None
_WORKER_FN = evaluate
DASK_ATTEMPTS = 5  # submissions of one batch before the search gives up on a cluster that keeps losing workers
DASK_WAIT_S = 60.0  # how long the search waits for a worker when none is connected
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent_pid: int) -> None:
    """Make this worker process end when the search process does, however it ends (kill -9 included): the
    kernel sends SIGKILL when the parent exits (prctl PR_SET_PDEATHSIG, Linux), and a watcher thread exits the
    worker once it is re-parented (other systems, and a parent that died before the prctl call)."""
    import ctypes
    import signal
    import threading
    import time

    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _init_worker(ctx, parent_pid: int, fn=evaluate):
    import signal

    global _WORKER_CTX, _WORKER_FN
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; workers end with it
    _die_with_parent(parent_pid)
    _WORKER_CTX, _WORKER_FN = ctx, fn


def _worker_eval(x):
    return _WORKER_FN(_WORKER_CTX, x)


class Evaluator:
    def __init__(self, ctx: EvalContext, store: EvalStore | None = None, *, workers: int = 0,
                 dask: str | None = None, fn=evaluate, key=None, on_record=None):
        """``fn(ctx, x)`` evaluates genome ``x``; ``key(ctx, x)`` names it in the cache and the store (default:
        the genome's hash); ``on_record(result)`` is told of each new evaluation (a progress bar)."""
        self.ctx, self.store = ctx, store
        self.fn, self.key, self.on_record = fn, key or (lambda _ctx, x: genome_hash(x)), on_record
        self.cache = store.load() if store is not None else {}
        self.genomes: dict = {}  # hash → genome of what this evaluator computed
        self.n_new = 0
        self.n_requests = 0
        self.pool = None
        self.client = None
        self.dask = dask
        self.eval_seconds = 0.0
        if dask:
            from dask.distributed import Client

            try:
                self.client = Client(dask)
            except (OSError, ValueError, TypeError) as exc:  # unreachable, timed out, or not an address
                raise ArchsimError(f"dask: cannot connect to the scheduler at {dask!r}: {exc}") from None
            self._ctx_future = None  # the shared context is sent once workers are there (see _dask_evaluate)
        elif workers and workers > 1:
            self.pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(ctx, os.getpid(), fn))

    def close(self, *, wait: bool = True):
        if self.pool is not None:
            self.pool.shutdown(wait=wait, cancel_futures=not wait)
        if self.client is not None:
            self.client.close()

    def _dask_evaluate(self, items) -> None:
        """Evaluate on the cluster; survive the loss or restart of workers while one remains. A worker that dies
        takes its tasks and its copy of the shared context with it: what did not finish is submitted again with
        the context sent again (a restarted worker starts empty). Finished results are recorded as they come."""
        from concurrent.futures import CancelledError

        from dask.distributed import KilledWorker
        from dask.distributed import as_completed as dask_completed

        pending, last = dict(items), None
        for _attempt in range(DASK_ATTEMPTS):
            self._await_dask_workers()
            if self._ctx_future is None:
                self._ctx_future = self.client.scatter(self.ctx, broadcast=True)
            futs = {self.client.submit(self.fn, self._ctx_future, x, pure=False): (h, x)
                    for h, x in pending.items()}
            for fut in dask_completed(list(futs)):
                h, x = futs[fut]
                try:
                    res = fut.result()
                except (CancelledError, KilledWorker, OSError) as exc:  # a worker or its data was lost
                    last = exc
                    continue
                self._record(h, x, res)
                pending.pop(h)
            if not pending:
                return
            self._ctx_future = None  # it may have died with the worker: send it again
        raise ArchsimError(f"dask: {len(pending)} evaluations were lost with their workers {DASK_ATTEMPTS} times "
                           f"({type(last).__name__}); finished ones are stored: rerun with --resume")

    def _await_dask_workers(self) -> None:
        if self.client.scheduler_info().get("workers"):
            return
        print(f"dask: no worker is connected to {self.dask}; waiting up to {DASK_WAIT_S:.0f} s for one",
              file=sys.stderr)
        try:
            self.client.wait_for_workers(1, timeout=DASK_WAIT_S)
        except (TimeoutError, OSError):
            raise ArchsimError(f"dask: no worker connected to {self.dask} within {DASK_WAIT_S:.0f} s; finished "
                               f"evaluations are stored: start workers and rerun with --resume") from None

    def _record(self, h, x, res):
        self.cache[h] = res
        self.genomes[h] = x
        self.n_new += 1
        self.eval_seconds += res["seconds"]
        if self.store is not None:
            self.store.add(h, x, res)
        if self.on_record is not None:
            self.on_record(res)

    def __call__(self, X) -> list[dict]:
        X = [np.asarray(x, dtype=np.int64) for x in X]
        hashes = [self.key(self.ctx, x) for x in X]
        self.n_requests += len(X)
        todo = {}
        for h, x in zip(hashes, X, strict=True):
            if h not in self.cache and h not in todo:
                todo[h] = x
        if todo:
            items = list(todo.items())
            if self.client is not None:
                self._dask_evaluate(items)
            elif self.pool is not None:
                futs = {self.pool.submit(_worker_eval, x): (h, x) for h, x in items}
                for fut in as_completed(futs):
                    h, x = futs[fut]
                    self._record(h, x, fut.result())
            else:
                for h, x in items:
                    self._record(h, x, self.fn(self.ctx, x))
        return [self.cache[h] for h in hashes]
