"""DRAM as a shared SimPy resource: ``channels`` independent channels sharing ``bytes_per_cycle``.

A DMA transfer is split over the free channels' worth of equal chunks; each chunk holds one channel for
``latency + ⌈chunk / (bytes_per_cycle / channels)⌉`` cycles: a channel hands over at a clock edge, so the DES
runs in whole cycles. A stream alone gets the full bandwidth; streams
that run at the same time (weights, inputs, outputs) queue for channels and share it.
"""
from __future__ import annotations

import math

import simpy


def chunk_bytes(nbytes: int, channels: int) -> list[int]:
    """How one transfer is split: over up to ``channels`` chunks of at least one 64-byte burst each."""
    n = min(channels, max(1, math.ceil(nbytes / 64)))
    base, extra = divmod(nbytes, n)
    return [base + 1] * extra + [base] * (n - extra)


def chunk_cycles(nbytes: int, per_channel_bytes_per_cycle: float) -> int:
    """Whole cycles one channel needs to move ``nbytes`` (the 1e-9 absorbs float error in e.g. 64 / 12.8)."""
    return math.ceil(nbytes / per_channel_bytes_per_cycle - 1e-9) if nbytes > 0 else 0


def transfer_cycles(nbytes: int, bytes_per_cycle: float, channels: int, latency_cycles: int) -> int:
    """Cycles one transfer takes with the DRAM to itself: its largest chunk on one channel. A small transfer
    uses fewer channels than there are, so it runs below the full bandwidth."""
    if nbytes <= 0:
        return 0
    return latency_cycles + chunk_cycles(max(chunk_bytes(nbytes, channels)), bytes_per_cycle / channels)


class Dram:
    def __init__(self, env: simpy.Environment, bytes_per_cycle: float, channels: int, latency_cycles: int,
                 tracer=None):
        self.env = env
        self.channels = simpy.Resource(env, capacity=channels)
        self.n_channels = channels
        self.per_channel = bytes_per_cycle / channels
        self.latency = latency_cycles
        self.read_bytes = 0
        self.write_bytes = 0
        self.busy_cycles = 0
        self.tracer = tracer

    def transfer(self, nbytes: int, *, write: bool, label: str = "", layer: int = -1):
        """Process: move ``nbytes`` (read from or write to DRAM); returns when every chunk has landed."""
        if nbytes <= 0:
            return
        if write:
            self.write_bytes += nbytes
        else:
            self.read_bytes += nbytes
        chunks = [self.env.process(self._chunk(c, write, label, layer)) for c in chunk_bytes(nbytes, self.n_channels)]
        yield self.env.all_of(chunks)

    def _chunk(self, nbytes: int, write: bool, label: str, layer: int):
        with self.channels.request() as req:
            yield req
            start = self.env.now
            moving = chunk_cycles(nbytes, self.per_channel)
            yield self.env.timeout(self.latency + moving)
            self.busy_cycles += moving
            if self.tracer is not None:
                self.tracer.interval("dram write" if write else "dram read", label, start, self.env.now, layer,
                                     {"bytes": nbytes})
