"""DRAM shared by the DMA streams: ``channels`` channels of ``bytes_per_cycle / channels`` each.

A transfer first waits the access latency — pipelined, as with the many outstanding requests of a real
controller, so it takes no bandwidth from the others — then streams its bytes striped over up to
``channels`` lanes of at least one 64-byte burst each, so it can use at most lanes × channel bandwidth.
Transfers in flight at the same time share the bandwidth fairly (processor sharing: a controller that
interleaves requests burst by burst, seen at tile granularity): each gets an equal share, capped by its
lanes, and what a capped transfer leaves is split among the others (water-filling). The shares are
recomputed whenever a transfer starts or ends — two events per transfer, never one per burst. Completion
is rounded up to the next clock edge, so the DES runs in whole cycles.
"""
from __future__ import annotations

import math

import numpy as np
import simpy

_EPS_BYTES = 1e-6  # float residue of a finished transfer


def lanes(nbytes: int, channels: int) -> int:
    """How many channels one transfer is striped over: up to all of them, at least one 64-byte burst each."""
    return min(channels, max(1, math.ceil(nbytes / 64)))


def whole_cycles(cycles: float) -> int:
    """Cycles rounded up to a clock edge (the 1e-9 absorbs float error in e.g. 64 / 12.8)."""
    return math.ceil(cycles - 1e-9) if cycles > 0 else 0


def transfer_cycles(nbytes, bytes_per_cycle: float, channels: int, latency_cycles: int) -> np.ndarray:
    """Cycles each transfer in ``nbytes`` (an array) takes with the DRAM to itself: the latency, then its bytes
    at its lanes' bandwidth — what ``Dram`` gives a lone transfer, in the same float operations. A small
    transfer uses fewer lanes than there are channels, so it runs below the full bandwidth. Whole cycles, as
    float64; ``nbytes`` may be fractional (the analytic engine's average tile)."""
    n = np.asarray(nbytes, dtype=np.float64)
    n_lanes = np.minimum(channels, np.maximum(1.0, np.ceil(n / 64)))
    data = np.ceil(n / (n_lanes * (bytes_per_cycle / channels)) - 1e-9)
    return np.where(n > 0, latency_cycles + data, 0.0)


def fair_rates(caps: list[float], total: float) -> list[float]:
    """Water-filling: equal shares of ``total``, none above its cap, what a capped one leaves going to the
    rest (max-min fairness)."""
    rates = [0.0] * len(caps)
    left, todo = total, sorted(range(len(caps)), key=caps.__getitem__)
    while todo:
        share = left / len(todo)
        i = todo[0]
        if caps[i] > share:
            for j in todo:
                rates[j] = share
            break
        rates[i] = caps[i]
        left -= caps[i]
        todo.pop(0)
    return rates


class _Flow:
    __slots__ = ("left", "cap", "rate", "done", "write")

    def __init__(self, nbytes, cap, done, write):
        self.left, self.cap, self.rate, self.done, self.write = float(nbytes), cap, 0.0, done, write


class Dram:
    def __init__(self, env: simpy.Environment, bytes_per_cycle: float, channels: int, latency_cycles: int,
                 tracer=None):
        self.env = env
        self.n_channels = channels
        self.bytes_per_cycle = bytes_per_cycle
        self.per_channel = bytes_per_cycle / channels
        self.latency = latency_cycles
        self.read_bytes = 0
        self.write_bytes = 0
        self.tracer = tracer
        self._flows: list[_Flow] = []
        self._since = 0  # time the flows' ``left`` was last brought up to date
        self._wake = 0  # generation of the pending wake-up; an older one is stale

    def transfer(self, nbytes: int, *, write: bool):
        """Process: move ``nbytes`` (read from or write to DRAM); returns when the last byte has landed."""
        if nbytes <= 0:
            return
        if write:
            self.write_bytes += nbytes
        else:
            self.read_bytes += nbytes
        if self.latency:
            yield self.env.timeout(self.latency)
        if math.isinf(self.per_channel):  # unlimited bandwidth (SCALE-Sim CALC mode): the latency only
            return
        flow = _Flow(nbytes, lanes(nbytes, self.n_channels) * self.per_channel, self.env.event(), write)
        self._advance()
        self._flows.append(flow)
        self._reshare()
        yield flow.done

    # ------------------------------------------------------------------ processor sharing
    def _advance(self):
        dt = self.env.now - self._since
        if dt:
            for f in self._flows:
                f.left -= f.rate * dt
        self._since = self.env.now

    def _reshare(self):
        """Finish the flows that have landed, share the bandwidth among the rest, wake at the next finish.
        A flow within a millionth of a cycle of its bytes has landed: the float residue of ``_advance``, also
        when another transfer starts at the very clock edge a wake-up was due."""
        landed = [f for f in self._flows if f.left <= f.rate * 1e-6 + _EPS_BYTES]
        if landed:
            self._flows = [f for f in self._flows if f not in landed]
            for f in landed:
                f.done.succeed()
        for f, r in zip(self._flows, fair_rates([f.cap for f in self._flows], self.bytes_per_cycle), strict=True):
            f.rate = r
        if self.tracer is not None:  # the bandwidth in use from now on, as a counter track
            self.tracer.counter("DRAM bytes/cycle", self.env.now,
                                {"read": sum(f.rate for f in self._flows if not f.write),
                                 "write": sum(f.rate for f in self._flows if f.write)})
        if not self._flows:
            return
        self._wake += 1
        dt = max(1, whole_cycles(min(f.left / f.rate for f in self._flows)))
        self.env.process(self._wake_after(dt, self._wake))

    def _wake_after(self, dt: int, generation: int):
        yield self.env.timeout(dt)
        if generation == self._wake:  # nothing started or ended since: this is the next finish
            self._advance()
            self._reshare()
