"""Mapping of one layer onto the array and the buffers: spatial fold shape + a tiling search.

Spatial (Bit Fusion's rule). Every compute layer is ``G`` independent GEMMs (M×K)·(K×N). The reduction
goes down the array rows; across the columns go the output channels (weight- and output-stationary, WS/OS)
or the output pixels (input-stationary, IS: SCALE-Sim's mapping, WS with M and N swapped). A fusion unit
at precision (a, b) does ``f`` MACs per cycle *along the reduction* (power-of-two fusion,
``precision.fusion_macs_per_cycle``), so the array
reduces ``rows·f`` values at once — which saturates when the layer's reduction is shorter than
``rows·f``. Conv reduction per pass is the input channels per group with the kernel window as a temporal
loop (no im2col), except when the channels per group are fewer than the rows (first layer, depthwise):
then the whole window is unrolled (im2col). As in Bit Fusion, a layer whose channels already fill the rows
at 8 bits is not unrolled at lower precision, so its speed-up saturates once rows·f exceeds its channels.
Small groups are packed block-diagonally so several groups share the array (in IS their filters take turns
in the stream: packing saves input loads, not MAC cycles). The mapping counts the streaming work of the
folds and the loads of the stationary operand; the array's microarchitecture (``archsim.arch``,
``array.microarchitecture``) prices them: ``systolic`` (TPU-style) charges every WS fold a weight load
(rows) + M_t + rows + cols − 2 cycles, every IS fold an input load (rows) + N_t + rows + cols − 2, every
OS block ⌈K/f⌉ + rows + cols − 2; ``bitfusion`` (per-unit weight buffers) charges only the streaming and
one fill/drain per layer.

Temporal (tiling search). Over tile sizes (M_t, N_t, K_t) and three loop orders — ``k_inner`` (outputs stay
in the output buffer while the reduction streams), ``m_inner`` (a weight tile stays while all output rows
stream, consecutive row tiles sharing their halo rows; partial sums spill to DRAM when they do not fit) and
``input_resident`` (an output-row tile's inputs over the whole reduction stay while every weight tile
streams past them; a weight set that fits one tile is read once in ``m_inner``) — pick among the legal
tilings (each tile ≤
its buffer's tile capacity, half the buffer when double-buffered) the one with the lowest analytic latency
(``analytic_cycles``: compute or decode, the DRAM channels' occupancy, each DMA engine's per-tile access
latency and channel striping, single-buffered loads alternating with compute, the exposed first load and
last store) or within ``LATENCY_TOLERANCE`` (0.5 %) of it, the one with the least energy — the part a tiling
decides: SRAM and DRAM bits, decoded values, leakage over the analytic latency (objective ``latency``, the
default); or the least of that energy, then the lowest analytic latency (objective ``energy``); or the least
DRAM traffic, then the fewest cycles (objective ``traffic``). The analytic engine
reports the same formula for the chosen tiling, so it grows by at most that tolerance with more bandwidth,
buffer or decoders. Pure traffic minimisation picks tiny output tiles whose
fill/drain can double the compute time, which no real mapper would do. Vectorised over all candidates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from archsim.arch import FoldWork, array_model
from archsim.des.dram import transfer_cycles
from archsim.energy import movement_energy_pj
from archsim.errors import SimError
from archsim.precision import LayerCost


@dataclass
class Mapping:
    layer: str
    op: str
    dataflow: str
    fusion: int
    im2col: bool
    group_pack: int
    tiles: dict  # M_t, N_t, K_t (reduction per tile, spatial units), n_m, n_n, n_k, n_g
    order: str
    macs: int
    compute_cycles: int
    fold_count: int
    utilization: float
    dram_read: dict  # bytes: weight, input, psum
    dram_write: dict  # bytes: output, psum
    sram_bits: dict  # bits moved per buffer: weight_rd, weight_wr, input_rd, input_wr, output_rd, output_wr
    decode_values: int
    decoder_cycles: int
    port_cycles: int = 0  # the busiest SRAM buffer's port time: bits through its ports ÷ (banks × width_bits)
    register_bits: int = 0  # bits through the registers under the array (energy.py's register level)
    resident_input: bool = False  # the whole input loaded once, during the first column pass (fills the buffer)
    buffer_use_bytes: dict = field(default_factory=dict)  # what each operand's tiles occupy (double buffers twice)
    dram_floor_bytes: int = 0  # compulsory traffic: every weight, used input and output moved once
    steps: np.ndarray = field(default_factory=lambda: np.zeros((0, 8), np.int64), repr=False)  # DES tile schedule

    @property
    def dram_read_bytes(self) -> int:
        return int(sum(self.dram_read.values()))

    @property
    def dram_write_bytes(self) -> int:
        return int(sum(self.dram_write.values()))


def _cands(full: int, unit: int) -> np.ndarray:
    """Tile sizes: unit·2^i below full, and full itself."""
    vals = {full}
    v = max(1, unit)
    while v < full:
        vals.add(v)
        v *= 2
    return np.array(sorted(vals), dtype=np.int64)


def _split_sum(full, tile, unit):
    """Σ over the tiles of ⌈tile_i / unit⌉ when ``full`` is cut into tiles of ``tile`` (last one shorter)."""
    n = -(-full // tile)
    last = full - (n - 1) * tile
    return (n - 1) * np.ceil(tile / unit) + np.ceil(last / unit)


OBJECTIVES = ("latency", "energy", "traffic")
ORDERS = ("k_inner", "m_inner", "input_resident")  # loop orders of the DRAM↔buffer level (rows of the arrays)


def used_input_fraction(layer: dict) -> float:
    """The fraction of a conv's input pixels that some output reads: a strided conv whose kernel is shorter than
    its stride (the 1×1 stride-2 downsamples) or a dilated one skips rows and columns, and the DMA fetches only
    the pixels it uses. Activations are stored NHWC (channels contiguous), so a used pixel is one contiguous
    run of its channels and a skipped one costs nothing. Exact: the union of o·s + j·d − p over the outputs o
    and kernel taps j, within the input."""
    if layer["op"] != "conv" or not layer.get("in_shapes"):
        return 1.0
    frac = 1.0
    for axis in (0, 1):  # height, width
        size = layer["in_shapes"][0][2 + axis]
        out = layer["out_shape"][2 + axis]
        k, st = layer["kernel"][axis], layer["stride"][axis]
        d = (layer.get("dilation") or (1, 1))[axis]
        p = (layer.get("padding") or (0, 0))[axis]
        if d == 1 and k >= st:  # taps of neighbouring outputs touch: every covered row is read
            first, last = max(-p, 0), min((out - 1) * st + (k - 1) * d - p, size - 1)
            frac *= max(last - first + 1, 0) / size
            continue
        pos = (np.arange(out)[:, None] * st + np.arange(k)[None, :] * d - p).ravel()
        frac *= np.unique(pos[(pos >= 0) & (pos < size)]).size / size
    return frac


def map_layer(layer: dict, cost: LayerCost, hw, objective: str = "latency",
              latency_tolerance: float | None = None, *, input_dram_bits: float | None = None,
              output_bits: float | None = None) -> Mapping:
    """Map one layer. ``objective``: ``latency`` takes, among the tilings within ``latency_tolerance`` (a
    fraction; default ``LATENCY_TOLERANCE``) of the lowest analytic latency, the least energy (SRAM, DRAM,
    decoder, leakage; ``energy.movement_energy_pj``); ``energy`` minimises that energy, then the analytic
    latency; ``traffic`` minimises DRAM bytes then compute cycles.

    ``input_dram_bits``: bits per element the activation inputs are stored at in DRAM (their producer's
    stored width, ≥ this layer's activation width; the DMA narrows them on the way into the input buffer);
    ``output_bits``: bits per element the output is requantised to and written at (its consumer's width).
    Both default to the layer's own activation width."""
    if latency_tolerance is not None and not latency_tolerance >= 0:
        raise SimError(f"latency_tolerance: must be a fraction >= 0, got {latency_tolerance!r}")
    op = layer["op"]
    if op not in ("conv", "linear", "matmul"):
        raise SimError(f"layer {layer['name']!r}: {op} is not an array layer")
    R, C = hw.array.rows, hw.array.cols
    f = cost.fusion
    gm = layer["gemm"]
    G, M, Ng, Kfull = gm["batch"], gm["M"], gm["N"], gm["K"]
    act_x_act = op == "matmul" and layer["operands"] == ["act", "act"]
    wb_elem = cost.a.storage_bits if act_x_act else cost.w.storage_bits  # the stationary operand's bits
    # a weight's per-output-channel scale bits travel and are stored with the channel's Kfull weights
    wb = wb_elem if act_x_act else wb_elem + cost.w.channel_bits / Kfull
    ab, psb = cost.a.storage_bits, hw.psum_bits
    ib = ab if input_dram_bits is None else input_dram_bits  # DRAM width of the activation inputs
    ob = ab if output_bits is None else output_bits  # DRAM width of the requantised output
    # spatial reduction per pass (kred) and temporal kernel loop (T)
    if op == "conv":
        kk = layer["kernel"][0] * layer["kernel"][1]
        cg = Kfull // kk
        im2col = cg < R  # Bit Fusion unrolls the window only when the channels cannot fill the rows
        kred, T = (Kfull, 1) if im2col else (cg, kk)
    else:
        im2col, kred, T = False, Kfull, 1
    df = hw.array.dataflow
    # groups packed per pass: their reductions stacked down the rows; in WS/OS their filters also share the
    # columns, in IS the columns hold output pixels and the packed groups' filters stream one after another
    col_cap = G if df == "is" else C // max(Ng, 1)
    gp = max(1, min((R * f) // max(kred, 1), col_cap, G)) if (G > 1 and op == "conv") else 1
    n_gpass = math.ceil(G / gp)
    ncols = Ng * gp  # output columns of one group pass
    # operand elements of one group pass
    w_elems = Kfull * Ng * gp
    used = used_input_fraction(layer)  # the input pixels the convolution reads (a strided 1×1 reads a quarter)
    if op == "conv":
        i_elems = layer["act_in_elems"] * gp / G * used
    else:
        i_elems = M * Kfull
    o_elems = M * ncols
    stride = layer["stride"][0] if layer.get("stride") else 1
    kh = layer["kernel"][0] if layer.get("kernel") else 1
    wo = layer["out_shape"][-1] if op == "conv" else 1

    # ---------------- candidate tiles, all at once ----------------
    # reduction and column tiles below one fold (rows·f, cols) are allowed: they leave part of the array
    # idle but let a large kernel window fit a small weight buffer
    KT, NT, MT = (a.ravel() for a in np.meshgrid(_cands(kred, 1), _cands(ncols, 1), _cands(M, 1), indexing="ij"))
    n_k, n_n, n_m = -(-kred // KT), -(-ncols // NT), -(-M // MT)
    halo = 1.0 + max(kh - stride, 0) / (np.maximum(1, MT // max(wo, 1)) * stride) if op == "conv" else 1.0
    w_tile = KT * T * NT * wb / 8
    i_tile = i_elems * (MT / M) * (KT / kred) * halo * ab / 8
    o_tile = MT * NT * psb / 8
    copies = {b: 2 if hw.buffers[b].double_buffered else 1 for b in ("weight", "input", "output")}  # tile copies
    if hw.buffers.shared:  # one SRAM split per layer: the tiles' footprints (double-buffered ones twice) share it
        pool = sum(hw.buffer_bytes(b) for b in copies)
        fits = w_tile * copies["weight"] + i_tile * copies["input"] + o_tile * copies["output"] <= pool
    else:
        fits = (w_tile <= hw.tile_capacity_bytes("weight")) & (i_tile <= hw.tile_capacity_bytes("input")) & \
               (o_tile <= hw.tile_capacity_bytes("output"))
    if not fits.any():
        raise SimError(f"layer {layer['name']!r}: no tile fits the buffers of {hw.name} "
                       f"(smallest weight tile {w_tile.min():.0f} B, input {i_tile.min():.0f} B, "
                       f"output {o_tile.min():.0f} B)")
    w_dram_bits = ib if act_x_act else wb  # the stationary operand in DRAM: weights, or a producer's output
    W_tot, O_fin = w_elems * w_dram_bits / 8, o_elems * ob / 8
    I_once = i_elems * ib / 8
    I_eff = I_once * np.where(n_m > 1, halo, 1.0)  # each output-row tile fetches its own halo rows
    # order k_inner (for m, n, k): outputs accumulate in the output buffer
    w1 = W_tot * np.where(n_n * n_k > 1, n_m, 1)
    i1 = I_eff * np.where(n_k > 1, n_n, 1)
    ps1 = np.zeros(len(KT))
    # order m_inner (for n, k, m): a weight tile stays while the output rows stream; consecutive row tiles share
    # their halo rows (the input buffer keeps the last kh − stride rows), so a pass reads each input row once;
    # partial sums spill when k and m are both tiled
    w2 = np.full(len(KT), W_tot)
    i2 = I_once * np.where((n_m == 1) & (n_k == 1), 1, n_n)
    ps2 = np.where((n_k > 1) & (n_m > 1), M * NT * psb / 8 * (n_k - 1) * n_n, 0.0)
    # order input_resident (for m; for n, k): an output-row tile's inputs over the whole reduction stay in the
    # input buffer while every weight tile streams past them: inputs read once, weights once per row tile
    in_block = i_elems * (MT / M) * halo * ab / 8
    w3, i3, ps3 = w1, I_eff, ps1
    traffic = np.stack([w1 + i1, w2 + i2 + 2 * ps2, w3 + i3])
    # the array's work over all folds, exact over remainder tiles; the microarchitecture prices its overheads
    if df == "ws":  # a weight fold stays while the tile's M output rows stream
        red_folds = _split_sum(kred, KT, R * f)
        col_folds = _split_sum(ncols, NT, C)
        work = FoldWork(red_folds * T * col_folds * M, red_folds * T * col_folds * n_m, R, n_gpass)
        folds = red_folds * T * col_folds * n_m
    elif df == "is":  # WS with the roles of M and N swapped: an input tile stays, the filters stream
        red_folds = _split_sum(kred, KT, R * f)
        pix_folds = _split_sum(M, MT, C)
        work = FoldWork(red_folds * T * pix_folds * ncols, red_folds * T * pix_folds * n_n, R, n_gpass)
        folds = red_folds * T * pix_folds * n_n
    else:  # an output block stays while the whole reduction streams; m_inner drains it once per K tile
        blocks = _split_sum(M, MT, R) * _split_sum(ncols, NT, C)
        stream = np.ceil(kred * T / f)
        work = FoldWork(blocks * stream, np.stack([blocks, blocks * n_k, blocks]), 0, n_gpass)
        folds = blocks * n_k
    model = array_model(hw)
    shape = (len(ORDERS), len(KT))
    cyc = np.broadcast_to(model.cycles(work, R, C), shape)
    big = 1e30
    if objective not in OBJECTIVES:
        raise SimError(f"mapper objective {objective!r} is not one of {', '.join(OBJECTIVES)}")
    # operand values the array reads from the weight / input buffer per candidate (all group passes): they
    # set the SRAM read traffic and, for DyBit-style formats, the decoder work that can bound a layer
    if df == "ws":  # a weight enters the array once per output-row tile, an input once per column fold
        w_reads, i_reads = w_elems * n_gpass * n_m, M * Kfull * n_gpass * gp * _split_sum(ncols, NT, C)
    elif df == "is":  # an input enters the array once per filter tile, a weight once per pixel fold
        w_reads, i_reads = w_elems * n_gpass * _split_sum(M, MT, C), M * Kfull * n_gpass * gp * n_n
    else:
        w_reads = np.full(len(KT), w_elems * n_gpass * math.ceil(M / R))
        i_reads = np.full(len(KT), M * Kfull * n_gpass * gp * math.ceil(ncols / C))
    w_dec = cost.a.decoder if act_x_act else cost.w.decoder
    w_enter = w_reads
    if df == "ws" and model.weights_read_per_mac:  # every unit-cycle reads its weights from the unit's buffer
        w_reads = np.full(len(KT), float(layer["macs"]))
    dec_vals_all = (w_enter if w_dec else 0) + (i_reads if cost.a.decoder else 0)
    dec_tp = max(hw.decoder.count * hw.decoder.values_per_cycle, 1)
    # every candidate in every loop order at once: rows of (orders × candidates) arrays
    W_rd, I_rd, PS = (np.stack(rows) * n_gpass for rows in ((w1, w2, w3), (i1, i2, i3), (ps1, ps2, ps3)))
    o_wr = O_fin * n_gpass
    # the output buffer takes a partial sum per reduction fold (WS, IS), per reduction tile where the array keeps a
    # tile's partial sums in its accumulators (Bit Fusion, WS), or per reduction tile of the m_inner order (OS)
    if df == "ws" and model.reduction_in_accumulators:
        o_acc = M * ncols * n_gpass * n_k
    elif df in ("ws", "is"):
        o_acc = M * ncols * n_gpass * _split_sum(kred, KT, R * f) * T
    else:
        o_acc = M * ncols * n_gpass * np.stack([np.ones(len(KT)), n_k, np.ones(len(KT))])

    def at(a, sel):  # a scalar, per-candidate (n,) or per-(order, candidate) array at the selected pairs
        nd = np.ndim(a)
        return a[sel] if nd == 2 else a[sel[1]] if nd == 1 else a

    wb_ratio = wb / ib if act_x_act else 1.0  # buffers hold the narrowed operand
    # SRAM traffic (bits) of every (order, candidate): what the array reads from each buffer and writes into it,
    # what DRAM writes into it and what leaves it for DRAM. An output's first partial sum is written, not
    # read-modified; spilled partial sums leave the output buffer and come back into it.
    acc = np.broadcast_to(o_acc, shape)
    sram_all = {"weight_rd": np.broadcast_to(w_reads * wb_elem, shape), "weight_wr": W_rd * 8 * wb_ratio,
                "input_rd": np.broadcast_to(i_reads * ab, shape), "input_wr": I_rd * 8 * (ab / ib),
                "output_rd": np.maximum(acc - M * ncols * n_gpass, 0) * psb + o_wr * 8 + PS * 8,
                "output_wr": acc * psb + PS * 8}
    port = port_cycles(sram_all, hw)

    def sram_bits(sel) -> dict:
        """SRAM traffic (bits) of the selected (order, candidate) pairs."""
        return {k: v[sel] for k, v in sram_all.items()}

    # an input block that is loaded once for the whole layer (one row block, one group pass) is never refilled, so
    # it needs no second buffer: it may fill the whole input buffer. Its K slices arrive during the first pass over
    # the weight columns (each slice before the weight tiles that use it) and stay for the other passes.
    once = (n_m == 1) & (n_gpass == 1)
    if hw.buffers.shared:
        rest = w_tile * copies["weight"] + o_tile * copies["output"]
        in_double = in_block * copies["input"] + rest <= pool
        resident = once & ~in_double
        in_ok = in_double | (once & (in_block + rest <= pool))
    else:
        resident = once & (in_block > hw.tile_capacity_bytes("input"))
        in_ok = in_block <= np.where(resident, hw.buffer_bytes("input"), hw.tile_capacity_bytes("input"))
    fit2 = np.stack([fits, fits, fits & (n_k > 1) & (n_n > 1) & in_ok])
    if objective == "traffic":
        score = np.where(fit2, traffic, big)
        oi, ci = np.unravel_index(np.argmin(np.where(score <= score.min() * (1 + 1e-9), cyc, big)), cyc.shape)
    else:
        dec = np.ceil(dec_vals_all / dec_tp)
        n_steps = np.minimum(n_gpass * n_m * n_n * n_k, STEP_CAP)
        latency = analytic_cycles(cyc, dec, n_steps, W_rd, I_rd, PS, o_wr, hw, port=port)
        if resident.any():  # the first column pass waits for the whole input: what it cannot hide is exposed
            r = ORDERS.index("input_resident")
            exposed = np.maximum(0, I_rd[r] / hw.dram_bytes_per_cycle - cyc[r] / n_n)
            latency = latency.copy()
            latency[r] = np.where(resident, latency[r] + exposed, latency[r])
        if objective == "latency":
            tol = LATENCY_TOLERANCE if latency_tolerance is None else latency_tolerance
            lat = np.where(fit2, latency, big)
            pool = lat <= lat.min() * (1 + max(tol, 1e-9))
        else:
            pool = fit2
        sel = np.nonzero(pool)  # row-major, so argmin's first-of-equals is the same as over the full array
        k = 0  # one tiling within the tolerance (the common case) has nothing to break a tie on
        if len(sel[0]) > 1:
            energy = sum(movement_energy_pj(hw, cycles=latency[sel], dram_bytes=(W_rd + I_rd + 2 * PS + o_wr)[sel],
                                            sram_bits=sram_bits(sel), decode_values=at(dec_vals_all, sel)).values())
            if objective == "energy":  # the least energy, then the lowest latency
                energy = np.where(energy <= energy.min() * (1 + 1e-9), latency[sel], big)
            k = int(np.argmin(energy))
        oi, ci = sel[0][k], sel[1][k]
    order = ORDERS[oi]
    compute = int(cyc[oi, ci])
    w_rd, i_rd, ps = float(W_rd[oi, ci]), float(I_rd[oi, ci]), float(PS[oi, ci])
    macs = layer["macs"]
    util = macs / max(compute * R * C * f, 1)
    nm_, nn_, nk_ = int(n_m[ci]), int(n_n[ci]), int(n_k[ci])
    sram = {k: int(v) for k, v in sram_bits((oi, ci)).items()}
    dec_vals = int(dec_vals_all[ci]) if np.ndim(dec_vals_all) else 0
    dec_cycles = math.ceil(dec_vals / dec_tp) if dec_vals else 0
    # registers under the array: every unit-cycle writes and reads its partial sum and the operand(s) streaming
    # through it; a stationary operand held in PE registers is written there once per load
    stream_bits = {"ws": ab, "is": wb_elem, "os": ab + wb_elem}[df]
    reg_bits = layer["macs"] / f * 2 * psb + layer["macs"] * 2 * stream_bits
    if df == "ws" and not model.weights_read_per_mac:
        reg_bits += float(at(w_enter, (oi, ci))) * wb_elem
    elif df == "is":
        reg_bits += float(at(i_reads, (oi, ci))) * ab
    m = Mapping(layer["name"], op, df, f, im2col, gp,
                {"M_t": int(MT[ci]), "N_t": int(NT[ci]), "K_t": int(KT[ci]), "n_m": nm_, "n_n": nn_, "n_k": nk_,
                 "n_g": n_gpass}, order, macs, compute, int(folds[ci]) * n_gpass, util,
                {"weight": int(round(w_rd)), "input": int(round(i_rd)), "psum": int(round(ps))},
                {"output": int(round(o_wr)), "psum": int(round(ps))}, sram, int(dec_vals), dec_cycles,
                int(port[oi, ci]), int(round(reg_bits)), bool(order == "input_resident" and resident[ci]))
    in_elems = layer["act_in_elems"] * used if op == "conv" else M * Kfull * G
    in_use = in_block[ci] * (1 if m.resident_input else copies["input"]) if order == "input_resident" else \
        i_tile[ci] * copies["input"]
    m.buffer_use_bytes = {"weight": int(w_tile[ci] * copies["weight"]), "input": int(in_use),
                          "output": int(o_tile[ci] * copies["output"])}
    m.dram_floor_bytes = math.floor((Kfull * Ng * G * w_dram_bits + in_elems * ib + M * Ng * G * ob) / 8)
    m.steps = _steps(m)
    return m


def port_cycles(sram_bits: dict, hw):
    """Cycles the busiest SRAM buffer's ports need for a layer's traffic (NumPy-vectorised): per buffer, the bits
    read and the bits written over its banks × width_bits per cycle — separate read and write ports, or one
    shared port (``buffers.<b>.shared_port``) that takes both. The array cannot run faster than this."""
    out = 0
    for which in ("weight", "input", "output"):
        b = hw.buffers[which]
        rd, wr = sram_bits.get(f"{which}_rd", 0), sram_bits.get(f"{which}_wr", 0)
        need = rd + wr if b.shared_port else np.maximum(rd, wr)
        out = np.maximum(out, need / (b.banks * b.width_bits))
    return np.ceil(out)


def analytic_cycles(compute, decode, n_steps, w_rd, i_rd, psum, o_wr, hw, port=0):
    """The analytic engine's latency of one layer (NumPy-vectorised over candidate mappings): a pipeline of
    ``n_steps`` tiles — the exposed first load, then one step of the array's work, then the other n − 1 steps
    at the pace of the slowest stage: the array's busy time (compute or decode, whichever is longer, plus the
    decoder latency per step), the DRAM stream at full bandwidth, or one DMA engine's stream paying the access
    latency per tile and, as in the DES, whole cycles per tile at the bandwidth of the channels the tile is
    striped over (fewer than all below 64 bytes per channel: ``des.dram.transfer_cycles``) — then the exposed
    last store. (One step of the memory stream is the first load and the
    last store; counting it in the steady state too made a one-step layer — every pooling and element-wise
    layer — cost its DRAM time twice.) ``simulate`` evaluates it on the chosen mapping's steps; the
    mapper minimises it (to within ``LATENCY_TOLERANCE``), so the analytic latency grows by at most that
    fraction with more bandwidth, buffer or decoders."""
    bpc, lat = hw.dram_bytes_per_cycle, hw.dram_latency_cycles
    busy = np.maximum(np.maximum(compute, port), decode) + np.where(decode > 0, hw.decoder.latency_cycles * n_steps, 0)
    stream = (w_rd + i_rd + 2 * psum + o_wr) / bpc  # the channels' busy time (the access latency holds none)

    # each DMA engine (weights, inputs + partial sums, outputs + partial sums) moves its tiles one after another;
    # a tile below 64 bytes per channel is striped over fewer channels, a tile with no bytes issues no access
    streams = np.stack(np.broadcast_arrays(w_rd, i_rd + psum, o_wr + psum)).astype(np.float64)
    tiles = np.minimum(n_steps, np.ceil(streams))
    w_engine, i_engine, o_engine = tiles * transfer_cycles(streams / np.maximum(tiles, 1), bpc, hw.dram.channels, lat)
    per_engine = np.maximum(np.maximum(w_engine, i_engine), o_engine)
    load, store = w_rd + i_rd + psum, o_wr + psum
    first = np.where(load > 0, np.maximum(load / n_steps / bpc + lat, np.maximum(w_engine, i_engine) / n_steps), 0.0)
    last = np.where(store > 0, np.maximum(store / n_steps / bpc + lat, o_engine / n_steps), 0.0)
    steady = np.maximum.reduce([busy, stream, per_engine])
    overlapped = first + busy / n_steps + steady * ((n_steps - 1) / n_steps) + last
    # a single-buffered input or weight buffer takes its next tile only once the array has used this one:
    # that engine's loads and the array's work alternate instead of overlapping. Its loads start when a step
    # ends, together with the other engine's prefetch and the finished step's store, and share the DRAM with
    # them fairly: while the others still move bytes, this load gets half the bandwidth.
    chains = [eng + np.minimum(mine, others) / bpc + busy + last
              for eng, mine, others, which in ((w_engine, w_rd, i_rd + psum + store, "weight"),
                                               (i_engine, i_rd + psum, w_rd + store, "input"))
              if not hw.buffers[which].double_buffered]
    return np.maximum.reduce([overlapped, *chains]) if chains else overlapped


def schedule_cycles(steps, hw) -> float:
    """The analytic latency of a tile schedule (rows as in ``Mapping.steps``; a vector layer has one): what
    ``simulate`` reports as a layer's analytic cycles."""
    tot = [int(v) for v in np.asarray(steps).sum(axis=0)]  # w, i, psum rd, compute, decode, out, psum wr, port
    return float(analytic_cycles(tot[3], tot[4], len(steps), tot[0], tot[1], tot[2], tot[5], hw, port=tot[7]))


STEP_CAP = 256  # at most this many DES steps per layer
# The latency objective takes, among the mappings within this fraction of the lowest analytic latency, the one
# with the least energy. Without it the mapper traded 14 % more DRAM traffic (6 % more energy, ResNet-18
# dybit4 on `default`) for 0.01 % less latency; with it a bigger resource can cost up to this fraction of a
# layer's analytic latency (the tests hold it to that).
LATENCY_TOLERANCE = 0.005


def _steps(m: Mapping, cap: int = STEP_CAP) -> np.ndarray:
    """Tile schedule for the DES, one row per step: ``(w_bytes, i_bytes, psum_rd, cycles, decode_cycles,
    out_bytes, psum_wr, port_cycles)`` (int64).

    One step per temporal tile of the chosen loop order (coarsened to at most ``cap`` steps so one layer
    stays a few hundred events). Bytes and cycles are split in integers that add up exactly to the
    mapping's totals, so the DES moves exactly the mapping's bytes.
    """
    t = m.tiles
    n = int(max(1, min(t["n_g"] * t["n_m"] * t["n_n"] * t["n_k"], cap)))
    totals = (m.dram_read["weight"], m.dram_read["input"], m.dram_read["psum"], m.compute_cycles,
              m.decoder_cycles, m.dram_write["output"], m.dram_write["psum"], m.port_cycles)
    cols = [np.diff(np.floor(np.linspace(0, v, n + 1)).astype(np.int64)) for v in totals]
    if m.resident_input:  # the whole input arrives during the first pass over the weight columns
        first = max(1, round(n / t["n_n"]))
        cols[1] = np.zeros(n, np.int64)
        cols[1][:first] = np.diff(np.floor(np.linspace(0, totals[1], first + 1)).astype(np.int64))
    return np.stack(cols, axis=1)
