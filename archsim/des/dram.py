"""DRAM as a shared SimPy resource: ``channels`` independent channels sharing ``bytes_per_cycle``.

A DMA transfer first waits the access latency — pipelined, as with the many outstanding requests of a real
controller, so it holds no channel — then is striped over up to ``channels`` lanes (at least one 64-byte
burst each). A lane moves its bytes in slices of at most ``SLICE_CYCLES`` cycles of data and queues for a
channel again before each slice: a short demand load waits at most one slice behind a long weight prefetch
instead of behind the whole prefetch. A slice holds its channel for ⌈bytes / (bytes_per_cycle / channels)⌉
cycles — a channel hands over at a clock edge, so the DES runs in whole cycles. A stream alone gets the
full bandwidth; streams that run at the same time (weights, inputs, outputs) interleave and share it.
"""
from __future__ import annotations

import math

import simpy

# Cycles of data a lane moves per channel grant. Controllers interleave requests at burst granularity; 64
# cycles (128 ns at 500 MHz, about one access latency) bounds the wait behind another stream while keeping
# the events per transfer few (the rounding to whole cycles costs at most one cycle per slice).
SLICE_CYCLES = 64


def chunk_bytes(nbytes: int, channels: int) -> list[int]:
    """How one transfer is striped: over up to ``channels`` lanes of at least one 64-byte burst each."""
    n = min(channels, max(1, math.ceil(nbytes / 64)))
    base, extra = divmod(nbytes, n)
    return [base + 1] * extra + [base] * (n - extra)


def chunk_cycles(nbytes: int, per_channel_bytes_per_cycle: float) -> int:
    """Whole cycles one channel needs to move ``nbytes`` (the 1e-9 absorbs float error in e.g. 64 / 12.8)."""
    return math.ceil(nbytes / per_channel_bytes_per_cycle - 1e-9) if nbytes > 0 else 0


def slice_bytes(per_channel_bytes_per_cycle: float) -> int:
    """Bytes a lane moves per channel grant: ``SLICE_CYCLES`` cycles of data, at least one burst."""
    if math.isinf(per_channel_bytes_per_cycle):
        return 1 << 62  # unlimited bandwidth: one slice, zero cycles
    return max(64, int(per_channel_bytes_per_cycle * SLICE_CYCLES))


def lane_slices(nbytes: int, per_channel_bytes_per_cycle: float) -> list[int]:
    """The slices one lane's ``nbytes`` are moved in."""
    size = slice_bytes(per_channel_bytes_per_cycle)
    full, rest = divmod(nbytes, size)
    return [size] * full + ([rest] if rest else [])


def transfer_cycles(nbytes: int, bytes_per_cycle: float, channels: int, latency_cycles: int) -> int:
    """Cycles one transfer takes with the DRAM to itself: the latency, then its longest lane's slices. A small
    transfer uses fewer lanes than there are channels, so it runs below the full bandwidth."""
    if nbytes <= 0:
        return 0
    per_channel = bytes_per_cycle / channels
    return latency_cycles + sum(chunk_cycles(s, per_channel)
                                for s in lane_slices(max(chunk_bytes(nbytes, channels)), per_channel))


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
        """Process: move ``nbytes`` (read from or write to DRAM); returns when every lane has landed."""
        if nbytes <= 0:
            return
        if write:
            self.write_bytes += nbytes
        else:
            self.read_bytes += nbytes
        if self.latency:
            yield self.env.timeout(self.latency)
        lanes = [self.env.process(self._lane(c, write, label, layer)) for c in chunk_bytes(nbytes, self.n_channels)]
        yield self.env.all_of(lanes)

    def _lane(self, nbytes: int, write: bool, label: str, layer: int):
        start = self.env.now
        for part in lane_slices(nbytes, self.per_channel):
            with self.channels.request() as req:
                yield req
                moving = chunk_cycles(part, self.per_channel)
                yield self.env.timeout(moving)
                self.busy_cycles += moving
        if self.tracer is not None:  # one interval per lane (its slices and the waits between them)
            self.tracer.interval("dram write" if write else "dram read", label, start, self.env.now, layer,
                                 {"bytes": nbytes})
