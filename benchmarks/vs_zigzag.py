"""Traffic, latency and energy against ZigZag 3.9.1 (KULeuven-MICAS), ResNet-18 INT8, per layer.

    python benchmarks/vs_zigzag.py [--venv DIR] [--lpf 7] [--opt latency|energy] [--zz-json FILE]
                                   [--record FILE] [--json FILE]

Installs ``zigzag-dse==3.9.1`` (+ ``six``, ``numpy<2.4``, ``onnx``) into a throwaway venv outside the project
(default ``$TMPDIR/archsim-zigzag-venv``), exports ResNet-18 (BatchNorm folded) to ONNX with the project's
torch, and runs ZigZag's LOMA search (loop-prime-factor limit ``--lpf``, 7 by default: at 6 the output rows
cannot be split; about 10 minutes) on the hardware in ``benchmarks/data/zigzag/`` — the project's
``int8_systolic`` matched: a 32×32 WS array (D1 = K, D2 = C) of 0.203 pJ MACs, three 64 KiB SRAMs at
0.441 pJ/bit (0.156·√8, the config's own price), one 80-bit DRAM port at 15 pJ/bit, ZigZag's tpu_like
registers under the array (one double-buffered weight and a 16-bit partial sum per PE). ``--zz-json`` reuses
a saved run. Our side: ``int8_systolic`` with 64/64/64 KiB buffers, an 80-bit DRAM bus with no latency on one
channel, analytic engine (what the mapper minimises). Printed per conv/FC layer: DRAM bytes by operand,
latency and energy by component, side by side with the compulsory floor. ``--psum32`` gives ZigZag our
32-bit partial sums (an ONNX attribute and 32-bit registers). ``--record`` writes the reference
the suite holds our side to (``benchmarks/data/zigzag_reference.json``); reports/validation.md explains it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _peer_venv  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "zigzag"
REFERENCE = ROOT / "benchmarks" / "data" / "zigzag_reference.json"
HW_OVERRIDES = {"buffers.weight.kib": 64, "buffers.input.kib": 64, "buffers.output.kib": 64,
                "dram.bus_bits": 80, "dram.latency_ns": 0.0, "dram.channels": 1}

# Runs inside ZigZag's venv: one search, then per layer what we compare (ZigZag's own accounting)
RUNNER = r'''
import json, logging, sys
from zigzag.api import get_hardware_performance_zigzag
from zigzag.hardware.architecture.memory_port import DataDirection
from zigzag.mapping.data_movement import DataMoveAttr
onnx_path, hw, mapping, opt, lpf, out, dump = sys.argv[1:8]
logging.disable(logging.INFO)
_, _, cmes = get_hardware_performance_zigzag(workload=onnx_path, accelerator=hw, mapping=mapping, opt=opt,
                                             dump_folder=dump, lpf_limit=int(lpf), nb_spatial_mappings_generated=1,
                                             loma_show_progress_bar=False)
layers = []
for cme, _ in cmes[0][1]:
    layer = cme.layer
    energy = {"MAC": float(cme.mac_energy), "RF": 0.0, "SRAM": 0.0, "DRAM": 0.0}
    by_level = {"RF_W": 0.0, "RF_O": 0.0, "SRAM_W": 0.0, "SRAM_I": 0.0, "SRAM_O": 0.0, "DRAM": 0.0}
    dram = {}
    for lop, per_level in cme.mem_energy_breakdown.items():
        mop = layer.memory_operand_links.layer_to_mem_op(lop)
        levels = cme.accelerator.memory_hierarchy.get_memory_levels(mem_op=mop)
        for e, lvl in zip(per_level, levels):
            cls = {"rf": "RF", "sr": "SRAM", "dr": "DRAM"}[lvl.name[:2]]
            energy[cls] += float(e)
            by_level[cls if cls == "DRAM" else f"{cls}_{ {'I1': 'I', 'I2': 'W'}.get(str(mop), 'O') }"] += float(e)
        for lvl, move in zip(levels, cme.mapping.unit_mem_data_movement[lop]):
            if lvl.name == "dram":  # reads towards the SRAM + writes from it, elements x precision
                cnt = move.get_attribute(DataMoveAttr.DATA_ELEM_MOVE_COUNT)
                pre = move.get_attribute(DataMoveAttr.DATA_PRECISION)
                dram[str(lop)] = sum(int(cnt.get(d)) * int(pre.get(d)) for d in
                                     (DataDirection.RD_OUT_TO_LOW, DataDirection.WR_IN_BY_LOW)) / 8
    size = layer.operand_size_elem
    layers.append({"name": layer.name, "macs": int(layer.total_mac_count),
                   "latency_cycles": float(cme.latency_total2),
                   "ideal_cycles": float(cme.ideal_cycle), "energy_pj": energy, "dram_bytes": dram,
                   "energy_pj_by_level": by_level,
                   "floor_bytes": {"W": int(size[layer.get_weight_layer_op()]),
                                   "I": int(size[layer.get_act_layer_op()]), "O": int(size[layer.output_operand])}})
json.dump({"opt": opt, "lpf": int(lpf), "layers": layers}, open(out, "w"), indent=1)
'''


def ensure_venv(venv: Path) -> Path:
    return _peer_venv.ensure_venv(venv, ["zigzag-dse==3.9.1", "six", "numpy<2.4", "onnx"], "zigzag, onnx")


PSUM32 = """import onnx, sys
m = onnx.load(sys.argv[1])
for n in m.graph.node:  # ZigZag reads a layer's partial-sum width from this attribute (ours: psum_bits 32)
    if n.op_type in ("Conv", "Gemm"):
        n.attribute.append(onnx.helper.make_attribute("output_size", 32))
onnx.save(m, sys.argv[1])
"""


def run_zigzag(py: Path, work: Path, opt: str, lpf: int, psum32: bool = False) -> dict:
    import torch

    from workloads.zoo import get_model

    model, shape = get_model("resnet18")
    raw, onnx_path = work / "resnet18.onnx", work / "resnet18_inferred.onnx"
    torch.onnx.export(model.eval(), torch.randn(1, *shape), str(raw), opset_version=13, dynamo=False)
    infer = "import onnx, sys; onnx.save(onnx.shape_inference.infer_shapes(onnx.load(sys.argv[1])), sys.argv[2])"
    subprocess.run([str(py), "-c", infer, str(raw), str(onnx_path)], check=True)
    if psum32:
        subprocess.run([str(py), "-c", PSUM32, str(onnx_path)], check=True)
    (work / "runner.py").write_text(RUNNER)
    out = work / "zigzag.json"
    hw = DATA / ("int8_systolic_zz_psum32.yaml" if psum32 else "int8_systolic_zz.yaml")
    subprocess.run([str(py), str(work / "runner.py"), str(onnx_path), str(hw),
                    str(DATA / "mapping_ws.yaml"), opt, str(lpf), str(out), str(work / "dump")], check=True)
    return json.loads(out.read_text())


def from_helper_json(d: dict) -> dict:
    """A run saved by an earlier driver (per-layer ``energy_pj_by_class``/``dram_bytes_by_operand``)."""
    return {"opt": d.get("opt"), "lpf": d.get("loma_lpf_limit"),
            "layers": [{"name": r["name"], "macs": r["macs"], "latency_cycles": r["latency_cycles"],
                        "ideal_cycles": r["ideal_cycles"], "energy_pj": r["energy_pj_by_class"],
                        "dram_bytes": r["dram_bytes_by_operand"], "floor_bytes": r["floor_bytes_by_operand"]}
                       for r in d["layers"]]}


def ours() -> dict:
    from archsim import load_hw, simulate
    from workloads import load_workload

    hw = load_hw("int8_systolic").with_overrides(HW_OVERRIDES)
    r = simulate(load_workload("resnet18"), hw, "int8", "analytic")
    out = []
    for rec in r.layers:
        if rec["op"] not in ("conv", "linear"):
            continue
        e = rec["energy_pj"]
        out.append({"name": rec["name"], "macs": rec["macs"], "latency_cycles": rec["cycles"],
                    "compute_cycles": rec["compute_cycles"], "dram_bytes": rec["dram_bytes_by_operand"],
                    "floor_bytes": rec["dram_floor_bytes"],
                    "energy_pj": {"MAC": e["mac"], "RF": e["register"],
                                  "SRAM": e["weight_sram"] + e["input_sram"] + e["output_sram"],
                                  "DRAM": e["dram"], "leakage": e["leakage"]},
                    "energy_pj_by_level": {"RF": e["register"], "SRAM_W": e["weight_sram"], "SRAM_I": e["input_sram"],
                                           "SRAM_O": e["output_sram"], "DRAM": e["dram"]}})
    return {"layers": out}


def compare(zz: dict, mine: dict) -> dict:
    rows = []
    assert len(zz["layers"]) == len(mine["layers"]), (len(zz["layers"]), len(mine["layers"]))
    for z, o in zip(zz["layers"], mine["layers"], strict=True):
        assert z["macs"] == o["macs"], (z["name"], o["name"])  # the same layers in the same order
        zb, ob = z["dram_bytes"], o["dram_bytes"]
        rows.append({"layer": o["name"], "zz_dram": sum(zb.values()), "our_dram": sum(ob.values()),
                     "zz_w": zb["W"], "zz_i": zb["I"], "zz_o": zb["O"], "our_w": ob["weight"], "our_i": ob["input"],
                     "our_o": ob["output"] + ob["psum"], "floor_zz": sum(z["floor_bytes"].values()),
                     "floor_ours": o["floor_bytes"], "zz_latency": z["latency_cycles"],
                     "our_latency": o["latency_cycles"], "zz_energy": z["energy_pj"], "our_energy": o["energy_pj"],
                     "zz_levels": z.get("energy_pj_by_level"), "our_levels": o["energy_pj_by_level"]})
    tot = {k: sum(r[k] for r in rows) for k in ("zz_dram", "our_dram", "floor_zz", "floor_ours", "zz_latency",
                                                "our_latency")}
    for side in ("zz_energy", "our_energy", "zz_levels", "our_levels"):
        if rows[0][side] is None:  # a ZigZag run recorded before the per-level split
            continue
        keys = rows[0][side].keys()
        tot[side] = {k: sum(r[side][k] for r in rows) for k in keys}
    return {"layers": rows, "total": tot}


def report(cmp: dict) -> None:
    print(f"{'layer':24s} {'ZZ W/I/O kB':>22s} {'ours W/I/O kB':>22s} {'ZZ ÷fl':>6s} {'ours ÷fl':>8s} "
          f"{'ours/ZZ':>7s} {'ZZ cyc':>10s} {'ours cyc':>10s} {'ratio':>6s}")
    for r in cmp["layers"]:
        print(f"{r['layer']:24s} {r['zz_w'] / 1e3:7.0f}/{r['zz_i'] / 1e3:6.0f}/{r['zz_o'] / 1e3:6.0f} "
              f"{r['our_w'] / 1e3:7.0f}/{r['our_i'] / 1e3:6.0f}/{r['our_o'] / 1e3:6.0f} "
              f"{r['zz_dram'] / r['floor_zz']:6.2f} {r['our_dram'] / r['floor_ours']:8.2f} "
              f"{r['our_dram'] / r['zz_dram']:7.2f} {r['zz_latency']:10,.0f} {r['our_latency']:10,.0f} "
              f"{r['our_latency'] / r['zz_latency']:6.2f}")
    t = cmp["total"]
    print(f"\nDRAM: ZigZag {t['zz_dram'] / 1e6:.2f} MB = {t['zz_dram'] / t['floor_zz']:.3f}× its floor "
          f"({t['floor_zz'] / 1e6:.2f} MB); ours {t['our_dram'] / 1e6:.2f} MB = {t['our_dram'] / t['floor_ours']:.3f}× "
          f"ours ({t['floor_ours'] / 1e6:.2f} MB, weights with their per-channel scales); ours / ZigZag "
          f"{t['our_dram'] / t['zz_dram']:.3f}")
    print(f"latency: ZigZag {t['zz_latency']:,.0f} cycles, ours {t['our_latency']:,.0f} "
          f"({t['our_latency'] / t['zz_latency']:.3f}×)")
    ze, oe = t["zz_energy"], t["our_energy"]
    print("energy µJ: ZigZag " + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in ze.items())
          + f" = {sum(ze.values()) / 1e6:.1f}; ours " + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in oe.items())
          + f" = {sum(oe.values()) / 1e6:.1f}")
    if "zz_levels" in t:  # each memory level side by side (ZigZag's registers: weight + partial-sum; ours: one level)
        zl, ol = t["zz_levels"], t["our_levels"]
        pairs = [("registers", zl["RF_W"] + zl["RF_O"], ol["RF"])] + \
                [(f"{n} SRAM", zl[f"SRAM_{k}"], ol[f"SRAM_{k}"]) for n, k in (("weight", "W"), ("input", "I"),
                                                                              ("output", "O"))] + \
                [("DRAM", zl["DRAM"], ol["DRAM"]), ("MAC", ze["MAC"], oe["MAC"])]
        print("energy by level µJ (ZigZag / ours / ratio): " + "; ".join(
            f"{n} {z / 1e6:.1f} / {o / 1e6:.1f} / {o / z:.2f}" for n, z, o in pairs))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venv", default=os.environ.get("ARCHSIM_ZIGZAG_VENV",
                                                     str(Path(tempfile.gettempdir()) / "archsim-zigzag-venv")))
    ap.add_argument("--lpf", type=int, default=7, help="LOMA loop-prime-factor limit")
    ap.add_argument("--opt", choices=("latency", "energy"), default="latency")
    ap.add_argument("--psum32", action="store_true",
                    help="32-bit partial sums in ZigZag too (ours: psum_bits 32; ZigZag's default is 16)")
    ap.add_argument("--zz-json", help="a saved ZigZag run instead of running it")
    ap.add_argument("--reference", action="store_true", help="compare with the recorded ZigZag run")
    ap.add_argument("--record", help="write the reference the test suite checks")
    ap.add_argument("--json", help="write the comparison here")
    args = ap.parse_args(argv)
    if not 4 <= args.lpf <= 9:
        ap.error(f"--lpf: expected 4..9 (the search grows factorially with it), got {args.lpf}")
    key = "zigzag_psum32" if args.psum32 else "zigzag"
    if args.reference:
        zz = json.loads(REFERENCE.read_text())[key]
    elif args.zz_json:
        d = json.loads(Path(args.zz_json).read_text())
        zz = d if "energy_pj" in d["layers"][0] else from_helper_json(d)
    else:
        zz = run_zigzag(ensure_venv(Path(args.venv)), Path(tempfile.mkdtemp(prefix="archsim-vs-zigzag-")),
                        args.opt, args.lpf, args.psum32)
    mine = ours()
    cmp = compare(zz, mine)
    report(cmp)
    if args.record:  # one file holds both runs: --record once without and once with --psum32
        t = cmp["total"]
        path = Path(args.record)
        rec = json.loads(path.read_text()) if path.exists() else {}
        rec[key] = zz
        rec["ours_at_record"] = {"dram_bytes": t["our_dram"], "latency_cycles": t["our_latency"],
                                 "energy_pj": t["our_energy"]}
        path.write_text(json.dumps(rec, indent=1) + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(cmp, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
