"""DRAM as a shared SimPy resource: ``channels`` independent channels sharing ``bytes_per_cycle``.

A DMA transfer is split over the free channels' worth of equal chunks; each chunk holds one channel for
``latency + chunk / (bytes_per_cycle / channels)`` cycles. A stream alone gets the full bandwidth; streams
that run at the same time (weights, inputs, outputs) queue for channels and share it.
"""
from __future__ import annotations

import math

import simpy


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
        self.busy_cycles = 0.0
        self.tracer = tracer

    def transfer(self, nbytes: int, *, write: bool, label: str = "", layer: int = -1):
        """Process: move ``nbytes`` (read from or write to DRAM); returns when every chunk has landed."""
        if nbytes <= 0:
            return
        if write:
            self.write_bytes += nbytes
        else:
            self.read_bytes += nbytes
        n = min(self.n_channels, max(1, math.ceil(nbytes / 64)))  # 64-byte bursts at least
        base, extra = divmod(nbytes, n)
        chunks = [self.env.process(self._chunk(base + (1 if i < extra else 0), write, label, layer))
                  for i in range(n)]
        yield self.env.all_of(chunks)

    def _chunk(self, nbytes: int, write: bool, label: str, layer: int):
        with self.channels.request() as req:
            yield req
            start = self.env.now
            dt = self.latency + nbytes / self.per_channel
            yield self.env.timeout(dt)
            self.busy_cycles += nbytes / self.per_channel
            if self.tracer is not None:
                self.tracer.interval("dram write" if write else "dram read", label, start, self.env.now, layer,
                                     {"bytes": nbytes})
