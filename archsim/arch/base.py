"""What every array microarchitecture answers, and the registry that names them (the one place listing them).

The spatial mapping (what is unrolled on the rows and columns, the fusion factor, group packing) is the
same for every microarchitecture and lives in ``archsim.mapping``. It hands the microarchitecture a
``FoldWork``: for every candidate tiling, how many cycles the array spends streaming operands through its
folds (``streamed_cycles``, the useful work at one fold per pass) and how many times a stationary operand
is (re)loaded into the array (``loads``). The microarchitecture turns that into array cycles:

  systolic   TPU-style systolic array (SCALE-Sim's model): every load of the stationary operand costs
             its load (``rows`` cycles, WS/IS) plus the systolic fill/drain (rows + cols − 2 cycles).
  bitfusion  Bit Fusion (Sharma et al., ISCA 2018): every fusion unit reads its weights from its own
             private weight buffer every cycle, so there is no load phase, and one tile's fill/drain
             overlaps the next: the array pays the fill/drain once per layer (Bit Fusion's own simulator,
             ``Accelerator.get_compute_cycles``, charges none).

Each also says what moves below the SRAM buffers (weight-stationary dataflow):

  systolic   a weight is shifted into its PE's register once per load and held; the partial sums of every
             reduction fold leave the array, so the output buffer is read-modified-written once per fold.
  bitfusion  a K tile's reduction runs innermost: each unit reads the weight it needs from its private buffer
             every cycle (the weight buffer is those 512 small banks), and the partial sums stay in the column
             accumulators until the tile's reduction is done: the output buffer sees one write per output per
             K tile (and a read when an earlier K tile left a partial sum).
  Both: every unit-cycle of work writes and reads its partial-sum register and its input pipeline register.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class FoldWork:
    """A layer's array work per candidate tiling, before the microarchitecture's overheads.

    ``streamed_cycles``: cycles of useful streaming over all folds, shape (2, n) (loop order × candidate)
    or (n,). ``loads``: times the stationary operand enters the array, same shapes (both per group pass).
    ``load_cycles``: cycles one load takes on a systolic array (``rows`` for WS/IS, where the stationary
    operand is shifted in; 0 for OS, where the outputs stay and the operands stream)."""
    streamed_cycles: np.ndarray
    loads: np.ndarray
    load_cycles: int
    group_passes: int = 1  # the layer's groups run in this many passes of the same work


class ArrayModel(Protocol):
    name: str
    reduction_in_accumulators: bool
    weights_read_per_mac: bool

    def cycles(self, work: FoldWork, rows: int, cols: int) -> np.ndarray:
        """Array cycles of the whole layer for every candidate (same shape as the broadcast of ``work``)."""


class Systolic:
    name = "systolic"
    reduction_in_accumulators = False  # psums leave the array after every reduction fold
    weights_read_per_mac = False  # a loaded weight sits in the PE's register

    def cycles(self, work: FoldWork, rows: int, cols: int) -> np.ndarray:
        fill = rows + cols - 2  # skew: the last PE starts rows + cols − 2 cycles after the first
        return (work.streamed_cycles + work.loads * (work.load_cycles + fill)) * work.group_passes


class BitFusion:
    name = "bitfusion"
    reduction_in_accumulators = True  # a K tile's psums stay in the column accumulators
    weights_read_per_mac = True  # from the unit's private weight buffer, every cycle

    def cycles(self, work: FoldWork, rows: int, cols: int) -> np.ndarray:
        fill = rows + cols - 2  # paid once: the next tile's operands enter while this tile drains
        return work.streamed_cycles * work.group_passes + np.where(work.loads > 0, fill, 0)


MICROARCHITECTURES = {m.name: m for m in (Systolic(), BitFusion())}


def array_model(hw) -> ArrayModel:
    """The microarchitecture named by ``hw.array.microarchitecture`` (validated by the config schema)."""
    return MICROARCHITECTURES[hw.array.microarchitecture]
