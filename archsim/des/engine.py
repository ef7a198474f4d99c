"""The DES proper: four processes that read like the hardware.

    weight DMA:  for every tile, wait for a free weight-buffer slot, ``yield dram.transfer(w)``; it runs
                 ahead across layer boundaries, so the next layer's weights are prefetched while the
                 current layer computes (bounded by the double buffer).
    input DMA:   per layer, wait until the producers' outputs are written back, then per tile wait for a
                 free input slot and load inputs (+ spilled partial sums).
    compute:     per tile, take a weight and an input tile, run the array and the decoders
                 (the longest of the array's cycles, the decoders' and the SRAM ports' time, + the decoder
                 pipeline latency), then wait for a free output slot.
    store DMA:   write each finished output tile (+ spilled partial sums) back, freeing its slot.

Events are per tile (a DMA burst, a fold group, a write-back) — never per MAC or per cycle.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from archsim.des.dram import Dram


@dataclass
class Job:
    index: int
    name: str
    kind: str  # "array" | "vector"
    steps: list  # rows (w_bytes, i_bytes, psum_rd, cycles, decode_cycles, out_bytes, psum_wr, port_cycles), ints
    deps: list  # indices of jobs whose outputs this one reads
    decoder_latency: int = 0


@dataclass
class JobStats:
    first_compute: int = -1
    end: int = 0
    compute_cycles: int = 0
    decoder_stall_cycles: int = 0
    port_stall_cycles: int = 0
    read_bytes: int = 0
    write_bytes: int = 0
    events: int = 0
    done: simpy.Event | None = field(default=None, repr=False)


class Tracer:
    """Chrome/Perfetto trace events: intervals (``ph: X``), one row per unit, each row strictly sequential (Perfetto
    rejects slices on one row that overlap without nesting); the DRAM as a counter track of the bandwidth in use
    (``ph: C``), since its transfers overlap."""

    ROWS = {"weight dma": 1, "input dma": 2, "compute": 3, "store dma": 4}

    def __init__(self, cycle_ns: float):
        self.events = []
        self.cycle_ns = cycle_ns

    def _ns(self, cycles: float) -> int:
        """A time in cycles as whole nanoseconds. Slices are rounded at both ends, not by their start and
        length, so back-to-back slices of one row stay back to back (at 980 MHz rounding the length too made
        1-ns overlaps); the trace format writes µs."""
        return round(cycles * self.cycle_ns)

    def interval(self, row: str, name: str, start: float, end: float, layer: int, args: dict | None = None):
        t0, t1 = self._ns(start), self._ns(end)
        self.events.append({"name": name, "cat": row, "ph": "X", "pid": 1, "tid": self.ROWS.get(row, 9),
                            "ts": t0 / 1e3, "dur": (t1 - t0) / 1e3, "args": {"layer": layer, **(args or {})}})

    def counter(self, name: str, t: float, values: dict):
        self.events.append({"name": name, "ph": "C", "pid": 1, "ts": self._ns(t) / 1e3, "args": values})

    def to_json(self) -> dict:
        meta = [{"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": row}}
                for row, tid in self.ROWS.items()]
        meta.append({"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "archsim DES"}})
        return {"traceEvents": meta + self.events, "displayTimeUnit": "ns"}


def run(jobs: list[Job], *, bytes_per_cycle: float, channels: int, latency_cycles: int, slots: dict,
        tracer: Tracer | None = None) -> tuple[int, list[JobStats], Dram]:
    """Simulate ``jobs`` in order; returns (total cycles, per-job stats, the DRAM model)."""
    env = simpy.Environment()
    dram = Dram(env, bytes_per_cycle, channels, latency_cycles, tracer)
    free = {k: simpy.Container(env, capacity=v, init=v) for k, v in slots.items()}
    w_ready, i_ready, o_ready = simpy.Store(env), simpy.Store(env), simpy.Store(env)
    array = simpy.Resource(env, capacity=1)
    stats = [JobStats(done=env.event()) for _ in jobs]

    def span(row, name, start, layer, args=None):
        if tracer is not None:
            tracer.interval(row, name, start, env.now, layer, args)

    def weight_dma():
        for j in jobs:
            for s, step in enumerate(j.steps):
                yield free["weight"].get(1)
                t0 = env.now
                if step[0]:
                    yield env.process(dram.transfer(step[0], write=False))
                    span("weight dma", f"{j.name} W{s}", t0, j.index, {"bytes": step[0]})
                    stats[j.index].read_bytes += step[0]
                stats[j.index].events += 1
                yield w_ready.put((j.index, s))

    def input_dma():
        for j in jobs:
            deps = [stats[d].done for d in j.deps]
            if deps:
                yield env.all_of(deps)
            for s, step in enumerate(j.steps):
                yield free["input"].get(1)
                nbytes = step[1] + step[2]
                t0 = env.now
                if nbytes:
                    yield env.process(dram.transfer(nbytes, write=False))
                    span("input dma", f"{j.name} I{s}", t0, j.index, {"bytes": nbytes})
                    stats[j.index].read_bytes += nbytes
                stats[j.index].events += 1
                yield i_ready.put((j.index, s))

    def compute():
        for j in jobs:
            st = stats[j.index]
            for s, step in enumerate(j.steps):
                yield w_ready.get()
                yield i_ready.get()
                with array.request() as req:
                    yield req
                    t0 = env.now
                    if st.first_compute < 0:
                        st.first_compute = t0
                    array_busy = max(step[3], step[7])  # the SRAM ports can hold the array back
                    busy = max(array_busy, step[4]) + (j.decoder_latency if step[4] else 0)
                    yield env.timeout(busy)
                    st.compute_cycles += step[3]
                    st.port_stall_cycles += array_busy - step[3]
                    st.decoder_stall_cycles += busy - array_busy
                    span("compute", f"{j.name} T{s}", t0, j.index, {"cycles": step[3], "decode": step[4]})
                yield free["weight"].put(1)
                yield free["input"].put(1)
                yield free["output"].get(1)
                st.events += 1
                yield o_ready.put((j.index, s))

    def store_dma():
        for j in jobs:
            st = stats[j.index]
            for s, step in enumerate(j.steps):
                yield o_ready.get()
                nbytes = step[5] + step[6]
                t0 = env.now
                if nbytes:
                    yield env.process(dram.transfer(nbytes, write=True))
                    span("store dma", f"{j.name} O{s}", t0, j.index, {"bytes": nbytes})
                    st.write_bytes += nbytes
                yield free["output"].put(1)
                st.events += 1
            st.end = env.now
            st.done.succeed()

    for proc in (weight_dma, input_dma, compute, store_dma):
        env.process(proc())
    env.run()
    unfinished = [j.name for j in jobs if not stats[j.index].done.triggered]
    if unfinished:  # pragma: no cover - a scheduling bug, never user input
        raise RuntimeError(f"DES deadlock: layers {unfinished[:3]} never finished")
    return env.now, stats, dram
