"""The simulation driver: (layer graph, hardware, precision plan) → ``SimResult``, by DES or closed form.

Workload, hardware and mapping are separate inputs and the cost model is a pure function of them. This
module imports neither torch nor the extractor: it consumes a ``LayerGraph`` and a ``PrecisionPlan``.

Layers and what they cost:
  conv / linear / matmul  run on the array (``archsim.mapping``), one tile schedule each.
  pool / add / mul        run on the post-processing (vector) unit, ``cols`` lanes wide: they read their
                          activation inputs and write their output through DRAM.
  concat                  is free: the producers write into adjacent addresses.
A layer's output is requantised at the producer to its consumer's activation format (``stored_bits``):
written, stored and read at the consumer's width; vector layers pass the width through.
"""
from __future__ import annotations

import math
import time
from functools import lru_cache

import numpy as np

from archsim.config import Accelerator, load_hw
from archsim.des.dram import transfer_cycles
from archsim.des.engine import Job, Tracer, run
from archsim.energy import COMPONENTS, area_mm2, layer_energy_pj
from archsim.errors import SimError
from archsim.mapping import OBJECTIVES as MAPPER_OBJECTIVES
from archsim.mapping import map_layer, port_cycles, schedule_cycles
from archsim.precision import layer_cost, operand_cost
from archsim.result import SimResult
from quant.errors import QuantError
from quant.plan import PrecisionPlan

ENGINES = ("des", "analytic")
# Bumped whenever the same (graph, hardware, plan) would simulate to different numbers; a stored search records
# it so that resuming it under a newer cost model is refused rather than mixing old and new evaluations.
# 2: processor-sharing DES DRAM with pipelined latency, whole cycles, mapper traffic tie-break within 0.5 %.
# 3: per-output-channel weight scales (+ adaptive choice, zero point) in weight storage and traffic.
# 4: the latency objective's tie-break within 0.5 % is the tiling's energy, not its DRAM bytes.
# 5: analytic latency as a pipeline (one step of memory traffic is the exposed first load / last store, not
#    counted again), single-buffered loads sharing the DRAM with the other streams.
# 6: analytic DMA tiles striped over one channel per 64 bytes, in whole cycles (as the DES's DRAM).
# 7: array microarchitectures (Bit Fusion's array: no per-fold weight load or fill/drain), power-of-two fusion,
#    outputs requantised to their consumers' activation width.
# 8: mapper loop orders: input_resident added, m_inner shares halo rows between consecutive row tiles; strided
#    and dilated convs fetch only the input pixels they use; the compulsory-traffic floor is reported.
# 9: SRAM ports (banks × width_bits, read and write or one shared port) bound the array's pace in both engines;
#    buffer reads and writes at their own pJ/bit (Bit Fusion's CACTI figures on default/server); a register level
#    under the array; Bit Fusion keeps a K tile's partial sums in its column accumulators and reads each weight
#    from its unit's bank every cycle; block-scaled operands (MX, NVFP4, mx/nvdybit, intNgG) pay for applying
#    each block scale to its partial sum.
COST_MODEL_VERSION = 9
ARRAY_OPS = ("conv", "linear", "matmul")
BUFFERS = ("weight", "input", "output")


def _plan_for(graph, plan) -> PrecisionPlan:
    names = [d["name"] for d in graph.compute_layers()]
    try:
        if plan is None:
            plan = "int8"
        if isinstance(plan, str):
            return PrecisionPlan.uniform(plan, names)
        if not isinstance(plan, PrecisionPlan):
            raise SimError(f"plan: expected a PrecisionPlan or a spec string, got {type(plan).__name__}")
        return plan.validate(names, what=f"graph {graph.name!r}")
    except QuantError as exc:
        raise SimError(str(exc)) from None


@lru_cache(maxsize=65536)
def _cached_mapping(layer_key: tuple, w_fmt: str, a_fmt: str, hw: Accelerator, objective: str,
                    input_bits: float, output_bits: float):
    layer = _thaw(layer_key)
    cost = layer_cost(hw, w_fmt, a_fmt, layer["name"])
    return map_layer(layer, cost, hw, objective, input_dram_bits=input_bits, output_bits=output_bits), cost


def _freeze(d: dict) -> tuple:
    def fz(v):
        if isinstance(v, dict):
            return tuple(sorted((k, fz(x)) for k, x in v.items()))
        if isinstance(v, list):
            return tuple(fz(x) for x in v)
        return v

    return tuple((k, fz(v)) for k, v in d.items() if k not in ("index", "source", "module"))


def _thaw(layer_key: tuple) -> dict:
    out = {}
    for k, v in layer_key:
        if k == "gemm":
            v = dict(v)
        elif k in ("operands", "in_shapes"):
            v = list(v)
        out[k] = v
    return out


def stored_bits(graph, layers: list, plan: PrecisionPlan) -> dict:
    """Bits per element at which each layer's output is stored in DRAM (``layer name → bits``).

    An output is requantised at its producer to the activation format of the layer that reads it, so it is
    written, stored and read at the consumer's width. With several consumers of different widths it is
    stored once, at the widest of them (no information a consumer needs is lost), and every consumer reads
    that copy. A vector layer (pool, add, mul, concat) stores its output at the width its own consumers
    need and passes it through. An output nobody reads (the network's result) keeps its producer's
    activation width (array layers) or its inputs' width (vector layers)."""
    own = {d["name"]: operand_cost(plan[d["name"]].activation).storage_bits
           for d in layers if d["op"] in ARRAY_OPS}
    stored = {}
    for d in reversed(layers):  # topological order: every consumer is settled before its producers
        needs = [own[s] if s in own else stored.get(s) for s in graph.graph.successors(d["name"])]
        needs = [b for b in needs if b is not None]
        stored[d["name"]] = max(needs) if needs else None
    for d in layers:  # outputs nobody reads: the producer's own width, found walking forward
        name = d["name"]
        if d.get("store_format"):  # written to a tensor with a format of its own (an LLM's KV cache)
            stored[name] = operand_cost(d["store_format"]).storage_bits
        elif stored[name] is None:
            stored[name] = own.get(name) or input_bits(graph, name, stored, default=8)
    return stored


def input_bits(graph, name: str, stored: dict, default: float) -> float:
    """Bits per element a layer reads its activation inputs at: the widest stored width of its producers, the
    network's input counting as ``default`` (a layer with operands of different widths is charged the widest
    for all of them: the layer graph does not say which operand comes from which producer)."""
    widths = [stored[p] if stored.get(p) is not None else default for p in graph.graph.predecessors(name)]
    return max(widths) if widths else default


def simulate(graph, hw="default", plan="int8", engine: str = "des", *, trace: bool = False,
             objective: str = "latency") -> SimResult:
    """Simulate ``graph`` (a LayerGraph) on ``hw`` (name, path or Accelerator) with ``plan``."""
    t_start = time.perf_counter()
    if engine not in ENGINES:
        raise SimError(f"engine: {engine!r} is not one of {', '.join(ENGINES)}")
    if not (hasattr(graph, "layers") and hasattr(graph, "graph")):
        raise SimError(f"graph: expected a LayerGraph (e.g. workloads.load_workload('resnet18') or "
                       f"LayerGraph.from_json(path)), got {type(graph).__name__}")
    if objective not in MAPPER_OBJECTIVES:
        raise SimError(f"objective: {objective!r} is not one of {', '.join(MAPPER_OBJECTIVES)}")
    hw = load_hw(hw) if not isinstance(hw, Accelerator) else hw
    plan = _plan_for(graph, plan)
    layers = graph.layers()
    if not layers:
        raise SimError(f"graph {graph.name!r} has no layers")
    index = {d["name"]: i for i, d in enumerate(layers)}
    bpc, lat, dec_lat = hw.dram_bytes_per_cycle, hw.dram_latency_cycles, hw.decoder.latency_cycles
    out_bits = stored_bits(graph, layers, plan)
    jobs, records, maps = [], [], []
    for i, d in enumerate(layers):
        name, op = d["name"], d["op"]
        deps = sorted({index[p] for p in graph.graph.predecessors(name) if p in index})
        rec = {"name": name, "op": op, "macs": int(d["macs"]), "w_format": "", "a_format": ""}
        if op in ARRAY_OPS:
            p = plan[name]
            own = operand_cost(p.activation).storage_bits
            m, cost = _cached_mapping(_freeze(d), p.weight, p.activation, hw, objective,
                                      input_bits(graph, name, out_bits, default=own), out_bits[name])
            rec.update(w_format=p.weight, a_format=p.activation, fusion=m.fusion, dataflow=m.dataflow,
                       im2col=m.im2col, tiles=dict(m.tiles), loop_order=m.order, folds=m.fold_count,
                       buffer_use_bytes=dict(m.buffer_use_bytes))
            steps, sram_bits, vec = m.steps, m.sram_bits, 0
            dram_rd, dram_wr = m.dram_read_bytes, m.dram_write_bytes
            floor = m.dram_floor_bytes
            by_operand = {"weight": m.dram_read["weight"], "input": m.dram_read["input"],
                          "output": m.dram_write["output"], "psum": m.dram_read["psum"] + m.dram_write["psum"]}
        else:
            in_b, bits = input_bits(graph, name, out_bits, default=8), out_bits[name]
            m = cost = None
            vec = int(d["vector_ops"])
            if op == "concat":
                dram_rd = dram_wr = 0
                cycles = 0
            else:
                # weight operands of vector layers at 8 bits unless the layer says (an embedding gather)
                w_bits = d.get("weight_bits", 8)
                dram_rd = math.ceil(d["act_in_elems"] * in_b / 8) + math.ceil(d["weight_elems"] * w_bits / 8)
                dram_wr = math.ceil(d["act_out_elems"] * bits / 8)
                cycles = math.ceil(max(vec, d["act_out_elems"]) / hw.array.cols)
            rec.update(a_format=f"{bits}-bit", fusion=0)
            floor = dram_rd + dram_wr  # a vector layer reads its inputs and writes its output once
            by_operand = {"weight": 0, "input": int(dram_rd), "output": int(dram_wr), "psum": 0}
            steps = np.array([[0, dram_rd, 0, cycles, 0, dram_wr, 0, 0]], dtype=np.int64)
            sram_bits = {"output_rd": dram_rd * 8, "output_wr": dram_wr * 8}
        tot = [int(v) for v in steps.sum(axis=0)]  # columns: w, i, psum rd, compute, decode, out, psum wr, port
        rec.update(compute_cycles_needed=tot[3], decoder_cycles=tot[4], port_cycles=tot[7],
                   register_bits=int(m.register_bits) if m is not None else 0, dram_read_bytes=int(dram_rd),
                   dram_write_bytes=int(dram_wr), dram_floor_bytes=int(floor), sram_bits=sram_bits, vector_ops=vec)
        rec["dram_over_floor"] = (dram_rd + dram_wr) / floor if floor else 1.0
        rec["dram_bytes_by_operand"] = by_operand
        # analytic (closed form, no contention): the formula the mapper minimised, on the chosen tiling
        rec["analytic_cycles"] = schedule_cycles(steps, hw)
        array_busy = np.maximum(steps[:, 3], steps[:, 7])  # compute, or the SRAM ports when they are slower
        busy = int((np.maximum(array_busy, steps[:, 4]) + np.where(steps[:, 4] > 0, dec_lat, 0)).sum())
        rec["port_stall_cycles"] = int(array_busy.sum()) - tot[3]
        stream = (rec["dram_read_bytes"] + rec["dram_write_bytes"]) / bpc
        # nothing overlaps: every step's weight, input and output transfer alone on the DRAM, then its compute
        transfers = np.concatenate([steps[:, 0], steps[:, 1] + steps[:, 2], steps[:, 5] + steps[:, 6]])
        rec["serial_cycles"] = busy + int(transfer_cycles(transfers, bpc, hw.dram.channels, lat).sum())
        rec["array_busy_cycles"] = busy
        rec["memory_cycles"] = stream
        rec["bound"] = "memory" if stream > busy else "compute"
        jobs.append(Job(i, name, "array" if m is not None else "vector", steps, deps, dec_lat))
        records.append(rec)
        maps.append((m, cost))

    tracer = None
    events = 0
    if engine == "des":
        tracer = Tracer(1e3 / hw.clock_mhz) if trace else None
        slots = {k: 2 if hw.buffers[k].double_buffered else 1 for k in BUFFERS}
        for job in jobs:  # Python ints: SimPy times stay exact integers and JSON-serialisable
            job.steps = job.steps.tolist()
        total, stats, dram = run(jobs, bytes_per_cycle=bpc, channels=hw.dram.channels, latency_cycles=lat,
                                 slots=slots, tracer=tracer)
        prev_end = 0  # every DES delay is a whole number of cycles, so its times are integers
        for rec, st in zip(records, stats, strict=True):
            rec["cycles"] = st.end - prev_end
            rec["start_cycle"], rec["end_cycle"] = st.first_compute, st.end
            prev_end = st.end
            rec["compute_cycles"] = st.compute_cycles
            rec["decoder_stall_cycles"] = st.decoder_stall_cycles
            rec["port_stall_cycles"] = st.port_stall_cycles
            events += st.events
            assert st.read_bytes == rec["dram_read_bytes"] and st.write_bytes == rec["dram_write_bytes"], rec["name"]
    else:
        total = 0.0
        for rec in records:
            rec["cycles"] = rec["analytic_cycles"]
            rec["start_cycle"], rec["end_cycle"] = total, total + rec["cycles"]
            total += rec["cycles"]
            rec["compute_cycles"] = rec["compute_cycles_needed"]
            rec["decoder_stall_cycles"] = (rec["array_busy_cycles"] - rec["compute_cycles_needed"]
                                           - rec["port_stall_cycles"])

    clock_hz = hw.clock_mhz * 1e6
    for rec, (m, cost) in zip(records, maps, strict=True):
        rec["stall_cycles"] = max(0, rec["cycles"] - rec["compute_cycles"])
        rec["latency_s"] = rec["cycles"] / clock_hz
        peak = hw.array.rows * hw.array.cols * (m.fusion if m is not None else 1)
        rec["utilization"] = rec["macs"] / (rec["cycles"] * peak) if rec["cycles"] and m is not None else 0.0
        e = layer_energy_pj(m, cost, hw, cycles=rec["cycles"], dram_read_bytes=rec["dram_read_bytes"],
                            dram_write_bytes=rec["dram_write_bytes"], vector_ops=rec["vector_ops"],
                            sram_bits=rec["sram_bits"])
        rec["energy_pj"] = e
        rec["energy_j"] = sum(e.values()) * 1e-12
        # the fraction of each buffer's port bandwidth (banks × width_bits per cycle, read and write ports, or one
        # shared port) the layer used over its cycles: at most 1, since the ports bound the array's pace
        for b in BUFFERS:
            port_need = port_cycles({k: v for k, v in rec["sram_bits"].items() if k.startswith(b)}, hw)
            rec[f"{b}_port_load"] = float(port_need) / rec["cycles"] if rec["cycles"] else 0.0
    areas = area_mm2(hw)
    total_macs = sum(r["macs"] for r in records)
    # utilisation over the whole run: MACs done / MACs the array could have done at each layer's precision
    capacity = sum(r["cycles"] * hw.array.rows * hw.array.cols * max(r.get("fusion", 0), 1) for r in records)
    totals = {
        "cycles": total if engine == "des" else float(total),
        "latency_s": total / clock_hz,
        "energy_j": sum(r["energy_j"] for r in records),
        "energy_breakdown_j": {k: sum(r["energy_pj"][k] for r in records) * 1e-12 for k in COMPONENTS},
        "area_mm2": sum(areas.values()),
        "area_breakdown_mm2": areas,
        "dram_read_bytes": int(sum(r["dram_read_bytes"] for r in records)),
        "dram_write_bytes": int(sum(r["dram_write_bytes"] for r in records)),
        "dram_floor_bytes": int(sum(r["dram_floor_bytes"] for r in records)),
        "macs": int(total_macs),
        "compute_cycles": float(sum(r["compute_cycles"] for r in records)),
        "stall_cycles": float(sum(r["stall_cycles"] for r in records)),
        "port_stall_cycles": float(sum(r["port_stall_cycles"] for r in records)),
        "register_bits": int(sum(r["register_bits"] for r in records)),
        "utilization": total_macs / capacity if capacity else 0.0,
        "analytic_cycles": float(sum(r["analytic_cycles"] for r in records)),
        "sram_port_load_peak": {b: max(r[f"{b}_port_load"] for r in records) for b in BUFFERS},
        "lower_bound_cycles": float(max(sum(r["array_busy_cycles"] for r in records),
                                        sum(r["memory_cycles"] for r in records))),
        "serial_bound_cycles": float(sum(r["serial_cycles"] for r in records)),
        "events": int(events),
        "wall_s": time.perf_counter() - t_start,
    }
    return SimResult(model=graph.name, hw=hw, engine=engine, totals=totals, layers=records,
                     trace=tracer.to_json() if tracer else None, plan=plan)
