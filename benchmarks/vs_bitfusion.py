"""Fidelity against Bit Fusion's own simulator (Sharma et al., ISCA 2018; github.com/hsharma35/bitfusion).

    python benchmarks/vs_bitfusion.py --bitfusion DIR --dnnweaver2 DIR --python2 PY [--venv DIR]
                                      [--bf-json FILE] [--record FILE] [--json FILE]

``--bitfusion`` and ``--dnnweaver2`` are checkouts of hsharma35/bitfusion and its dependency
hsharma35/dnnweaver2; ``--python2`` a Python 2.7 interpreter (``~/.pyenv/versions/2.7.18/bin/python`` on
these machines). The simulator's libraries (numpy 1.16, pandas 0.24, scipy 1.2, matplotlib 2.2) go into a
throwaway virtualenv outside the project (default ``$TMPDIR/archsim-bitfusion-py27``). A small driver
written here (not Bit Fusion's code) runs the unmodified simulator, as its notebook does for the
Bit Fusion vs Eyeriss figure: ``Simulator('bf_e_conf.ini')`` on every benchmark of ``benchlist`` (AlexNet and
ResNet-18 in their WRPN forms, as ``sweep.py`` builds them), batch 16, one ``get_cycles`` per conv/FC op,
and saves each layer's shape, bit widths and stats. About 2 minutes. ``--bf-json`` reuses a saved run.

Our side: the same layers (shapes as Bit Fusion's simulator reads them: square, input (O−1)·S+K, no
padding; bit widths per layer, 1-bit operands as int2 because the project's formats start at 2 bits and Bit
Fusion's array computes them as 2-bit), chained per network, batch 16, on ``default`` with the DRAM matched
to Bit Fusion's interface (``dram.latency_ns=0``, ``dram.channels=1``: 192 bits per cycle, no latency),
simulated by the DES. Printed per layer and per network: cycles, compute cycles, DRAM bytes and energy beside
Bit Fusion's, with the ratios; then the authors' comparison against Eyeriss (``results/eyeriss_results.csv``
in their repository, combined as their notebook does: per-network speed-up = Eyeriss cycles / Bit Fusion
cycles, energy = (ALU + 0.15·DRAM + Buffer + Array + RF)·16·0.2e-3 nJ / Bit Fusion energy, geometric mean
over the 8 networks) with our simulator in place of theirs. ``--record FILE`` writes the reference the test
suite holds our side to (``benchmarks/data/bitfusion_reference.json``). Every remaining difference is
explained in reports/validation.md.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "benchmarks" / "data" / "bitfusion_reference.json"
BATCH = 16
HW_OVERRIDES = {"dram.latency_ns": 0.0, "dram.channels": 1}  # Bit Fusion's memory interface: no latency, one bus
BF_BYTES_PER_CYCLE = 192 / 8  # bf_e_conf.ini if_width
PY27_PACKAGES = ["numpy==1.16.6", "pandas==0.24.2", "scipy==1.2.3", "matplotlib==2.2.5", "graphviz==0.16"]

# Python 2.7 driver: imports Bit Fusion's simulator and benchmarks unmodified and records what they compute
DRIVER = r'''
from __future__ import print_function
import json, logging, os, sys
bf_root, dnnweaver, out = sys.argv[1:4]
os.chdir(bf_root)  # the simulator reads ./results/systolic_array_synth.csv
sys.path[:0] = [bf_root, dnnweaver]
logging.disable(logging.CRITICAL)
from bitfusion.src.simulator.simulator import Simulator
import bitfusion.src.benchmarks.benchmarks as benchmarks
from dnnweaver2.tensorOps.cnn import Convolution, MatMul

sim = Simulator(config_file=os.path.join(bf_root, 'bf_e_conf.ini'), verbose=False)
cost = sim.get_energy_cost()
res = {'energy_cost_nJ': dict(cost._asdict()), 'networks': []}
runs = [(b, True) for b in benchmarks.benchlist] + [('AlexNet', False), ('RESNET-18', False)]
for bench, wrpn in runs:
    g = benchmarks.get_bench_nn(bench, WRPN=wrpn)
    layers = []
    for name, op in g.op_registry.items():
        if isinstance(op, Convolution):
            B, I, _, IC = op.data.shape
            _, O, _, OC = op.output_tensors.shape
            _, K, _, _ = op.weights.shape
            S = op.stride[1]
            kind, im2col = 'conv', op.data.op is None
        elif isinstance(op, MatMul):
            B, IC = op.data.shape[0], op.weights.shape[1]
            OC, K, O, S, kind, im2col = op.weights.shape[0], 1, 1, 1, 'fc', False
        else:
            continue
        stats, _ = sim.get_cycles(op)
        e = stats.get_energy_breakdown(cost)
        layers.append({'name': name, 'op': kind, 'B': B, 'IC': IC, 'OC': OC, 'K': K, 'O': O, 'S': S,
                       'iprec': op.data.dtype.bits, 'wprec': op.weights.dtype.bits, 'im2col': im2col,
                       'total_cycles': stats.total_cycles, 'mem_stall_cycles': stats.mem_stall_cycles,
                       'reads_bits': stats.reads, 'writes_bits': stats.writes,
                       'energy_nJ': stats.get_energy(cost),
                       'energy_breakdown_nJ': {'core': e[0], 'sram': e[1], 'dram': e[3]}})
        print(bench, name, stats.total_cycles, file=sys.stderr)
    res['networks'].append({'name': bench if wrpn else bench + ' (plain)', 'layers': layers})
with open(out, 'w') as fh:
    json.dump(res, fh)
'''


# ----------------------------------------------------------------------------------------------- Bit Fusion side
def ensure_py27_venv(python2: str, venv: Path) -> Path:
    py = venv / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import pandas, scipy"], capture_output=True).returncode == 0:
        return py
    print(f"setting up a Python 2.7 virtualenv for Bit Fusion's simulator in {venv} (outside the project) …",
          file=sys.stderr)
    tool = venv.with_name(venv.name + "-virtualenv")
    subprocess.run([python2, "-m", "pip", "install", "-q", "--target", str(tool), "virtualenv==20.15.1"], check=True)
    subprocess.run([python2, "-m", "virtualenv", "-q", str(venv)], check=True,
                   env={**os.environ, "PYTHONPATH": str(tool)})
    subprocess.run([str(py), "-m", "pip", "install", "-q", *PY27_PACKAGES], check=True)
    return py


def run_bitfusion(py27: Path, bitfusion: Path, dnnweaver2: Path, work: Path) -> dict:
    driver, out = work / "driver.py", work / "bitfusion_run.json"
    driver.write_text(DRIVER)
    subprocess.run([str(py27), str(driver), str(bitfusion), str(dnnweaver2), str(out)], check=True)
    bf = json.loads(out.read_text())
    bf["eyeriss"] = eyeriss_by_network(bitfusion / "results" / "eyeriss_results.csv")
    return bf


def eyeriss_by_network(path: Path) -> dict:
    """Per network: Eyeriss cycles (the ``time(ms)`` column holds cycles) and energy in nJ, summed over its
    rows (pooling included) and scaled as the authors' notebook does."""
    out = {}
    with path.open() as fh:
        for row in csv.DictReader(fh):
            e = out.setdefault(row["Benchmark"], {"cycles": 0.0, "energy_nJ": 0.0})
            e["cycles"] += float(row["time(ms)"])
            e["energy_nJ"] += (float(row["ALU"]) + 0.15 * float(row["DRAM"]) + float(row["Buffer"]) +
                               float(row["Array"]) + float(row["RF"])) * 16 * 0.2e-3
    return out


def bf_layer(rec: dict) -> dict:
    """What Bit Fusion printed for one layer, in our units (bytes, cycles, nJ). Its stats count buffer fills from
    DRAM as buffer writes (``writes[wgt|act|out]``: weights and inputs only ever come from DRAM) and sum them
    in ``reads[dram]``; what is left of the DRAM reads is partial sums read back, ``writes[dram]`` the outputs."""
    rd, wr = rec["reads_bits"], rec["writes_bits"]
    return {"cycles": rec["total_cycles"], "compute_cycles": rec["total_cycles"] - rec["mem_stall_cycles"],
            "dram_bytes": (rd["dram"] + wr["dram"]) / 8, "energy_nJ": rec["energy_nJ"],
            "energy_breakdown_nJ": rec["energy_breakdown_nJ"],
            "dram_weight_bytes": wr["wgt"] / 8, "dram_input_bytes": wr["act"] / 8,
            "dram_output_bytes": (rd["dram"] - wr["wgt"] - wr["act"] + wr["dram"]) / 8}


def reference_from_run(bf: dict) -> dict:
    """The recorded reference: layer shapes and widths, what Bit Fusion printed, the Eyeriss sums."""
    keep = ("name", "op", "B", "IC", "OC", "K", "O", "S", "iprec", "wprec", "im2col")
    return {"source": "hsharma35/bitfusion 04ec1c8 + hsharma35/dnnweaver2 28c5f83, bf_e_conf.ini, batch 16, "
                      "benchmarks as sweep.py builds them (WRPN AlexNet and ResNet-18), plus their plain forms",
            "networks": [{"name": n["name"], "layers": [{**{k: r[k] for k in keep}, "bitfusion": bf_layer(r)}
                                                        for r in n["layers"]]} for n in bf["networks"]],
            "eyeriss": bf["eyeriss"]}


# ----------------------------------------------------------------------------------------------- our side
def layer_graph(net: dict):
    """A chain of the network's conv/FC layers with Bit Fusion's shapes (NCHW, batch in the shapes)."""
    from workloads.graph import LayerGraph

    g = LayerGraph(name=net["name"])
    first = net["layers"][0]
    B = first["B"]
    if first["op"] == "conv":
        i0 = (first["O"] - 1) * first["S"] + first["K"]
        prev = g.add_layer("input", "input", out_shape=(B, first["IC"], i0, i0))
    else:
        prev = g.add_layer("input", "input", out_shape=(B, first["IC"]))
    for r in net["layers"]:
        ic, oc, k, o, s = r["IC"], r["OC"], r["K"], r["O"], r["S"]
        if r["op"] == "conv":
            i = (o - 1) * s + k  # the input Bit Fusion's simulator slides over (it ignores padding)
            prev = g.add_layer(r["name"], "conv", [prev], in_shapes=[(B, ic, i, i)], out_shape=(B, oc, o, o),
                               weight_shape=(oc, ic, k, k), operands=["act", "weight"], kernel=(k, k),
                               stride=(s, s), padding=(0, 0), dilation=(1, 1), groups=1, in_channels=ic,
                               out_channels=oc, macs=B * o * o * k * k * ic * oc, weight_elems=oc * ic * k * k,
                               act_in_elems=B * ic * i * i, act_out_elems=B * oc * o * o,
                               gemm={"batch": 1, "M": B * o * o, "N": oc, "K": ic * k * k})
        else:
            prev = g.add_layer(r["name"], "linear", [prev], in_shapes=[(B, ic)], out_shape=(B, oc),
                               weight_shape=(oc, ic), operands=["act", "weight"], in_channels=ic, out_channels=oc,
                               macs=B * ic * oc, weight_elems=ic * oc, act_in_elems=B * ic, act_out_elems=B * oc,
                               gemm={"batch": 1, "M": B, "N": oc, "K": ic})
    return g


def precision_plan(net: dict):
    from quant.plan import PrecisionPlan

    return PrecisionPlan({r["name"]: f"w=int{max(r['wprec'], 2)},a=int{max(r['iprec'], 2)}" for r in net["layers"]})


def ours(reference: dict, engine: str = "des") -> dict:
    """Our simulator on every network of the reference: per layer cycles, compute cycles, DRAM bytes, energy."""
    from archsim import load_hw, simulate

    hw = load_hw("default").with_overrides(HW_OVERRIDES)
    out = {}
    for net in reference["networks"]:
        r = simulate(layer_graph(net), hw, precision_plan(net), engine)
        out[net["name"]] = {
            "layers": {rec["name"]: {"cycles": rec["cycles"], "compute_cycles": rec["compute_cycles_needed"],
                                     "dram_bytes": rec["dram_read_bytes"] + rec["dram_write_bytes"],
                                     "dram_output_bytes": rec["dram_write_bytes"],
                                     "energy_nJ": rec["energy_j"] * 1e9} for rec in r.layers},
            "cycles": float(r.total["cycles"]), "energy_nJ": r.total["energy_j"] * 1e9,
            "energy_breakdown_nJ": {k: v * 1e9 for k, v in r.total["energy_breakdown_j"].items()},
            "dram_bytes": r.total["dram_read_bytes"] + r.total["dram_write_bytes"],
            "compute_cycles": sum(rec["compute_cycles_needed"] for rec in r.layers)}
    return out


def gmean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


def compare(reference: dict, mine: dict) -> dict:
    """Per-layer compute ratios, per-network totals and the Eyeriss headline for both simulators."""
    ratios, nets = [], {}
    for net in reference["networks"]:
        name, m = net["name"], mine[net["name"]]
        bf_cycles = sum(r["bitfusion"]["cycles"] for r in net["layers"])
        bf_energy = sum(r["bitfusion"]["energy_nJ"] for r in net["layers"])
        # Bit Fusion's own timing rule (DRAM overlapped with compute, 192 bits a cycle) applied to our DRAM bytes:
        # how much of the difference in total cycles is the bytes each simulator moves, not the timing
        bf_on_our_bytes = our_on_bf_bytes = 0.0
        for r in net["layers"]:
            mine_l = m["layers"][r["name"]]
            ratios.append((name, r["name"], mine_l["compute_cycles"] / r["bitfusion"]["compute_cycles"]))
            bf_on_our_bytes += max(r["bitfusion"]["compute_cycles"], mine_l["dram_bytes"] / BF_BYTES_PER_CYCLE)
            # and the other way round: our compute cycles, Bit Fusion's DRAM bytes and its stall rule
            our_on_bf_bytes += mine_l["compute_cycles"] + (r["bitfusion"]["cycles"] - r["bitfusion"]["compute_cycles"])
        bf_energy_parts = {k: sum(r["bitfusion"]["energy_breakdown_nJ"][k] for r in net["layers"])
                           for k in ("core", "sram", "dram")}
        ey = reference["eyeriss"].get(name, {"cycles": math.nan, "energy_nJ": math.nan})  # plain variants: none
        nets[name] = {"bf_cycles": bf_cycles, "our_cycles": m["cycles"], "cycles_ratio": m["cycles"] / bf_cycles,
                      "bf_compute": sum(r["bitfusion"]["compute_cycles"] for r in net["layers"]),
                      "our_compute": m["compute_cycles"],
                      "bf_dram_bytes": sum(r["bitfusion"]["dram_bytes"] for r in net["layers"]),
                      "our_dram_bytes": m["dram_bytes"],
                      "bf_output_dram_bytes": sum(r["bitfusion"]["dram_output_bytes"] for r in net["layers"]),
                      "bf_input_dram_bytes": sum(r["bitfusion"]["dram_input_bytes"] for r in net["layers"]),
                      "bf_weight_dram_bytes": sum(r["bitfusion"]["dram_weight_bytes"] for r in net["layers"]),
                      "our_output_dram_bytes": sum(v["dram_output_bytes"] for v in m["layers"].values()),
                      "bf_rule_on_our_bytes": bf_on_our_bytes,
                      "speedup_our_compute_bf_bytes": ey["cycles"] / our_on_bf_bytes,
                      "bf_energy_breakdown_nJ": bf_energy_parts, "our_energy_breakdown_nJ": m["energy_breakdown_nJ"],
                      "bf_energy_nJ": bf_energy, "our_energy_nJ": m["energy_nJ"],
                      "speedup_bf": ey["cycles"] / bf_cycles, "speedup_ours": ey["cycles"] / m["cycles"],
                      "energy_red_bf": ey["energy_nJ"] / bf_energy, "energy_red_ours": ey["energy_nJ"] / m["energy_nJ"]}
    within = [r for r in ratios if abs(r[2] - 1) <= 0.05]
    return {"layer_ratios": ratios, "networks": nets,
            "summary": {"layers": len(ratios), "within_5pct": len(within),
                        "median_compute_ratio": statistics.median(r[2] for r in ratios),
                        **{k: gmean(n[k] for n in nets.values() if not math.isnan(n[k]))
                           for k in ("speedup_bf", "speedup_ours", "energy_red_bf", "energy_red_ours",
                                     "speedup_our_compute_bf_bytes")}}}


def report(reference: dict, mine: dict, cmp: dict) -> None:
    print(f"{'network':17s} {'layer':34s} {'bits w/a':>8s} {'BF cycles':>12s} {'ours':>12s} {'BF compute':>12s} "
          f"{'ours':>12s} {'ratio':>6s} {'BF DRAM B':>12s} {'ours':>12s} {'BF nJ':>11s} {'ours':>11s}")
    for net in reference["networks"]:
        m = mine[net["name"]]["layers"]
        for r in net["layers"]:
            b, o = r["bitfusion"], m[r["name"]]
            print(f"{net['name']:17s} {r['name']:34s} {r['wprec']:>4d}/{r['iprec']:<3d} {b['cycles']:12,.0f} "
                  f"{o['cycles']:12,.0f} {b['compute_cycles']:12,.0f} {o['compute_cycles']:12,.0f} "
                  f"{o['compute_cycles'] / b['compute_cycles']:6.3f} {b['dram_bytes']:12,.0f} {o['dram_bytes']:12,.0f} "
                  f"{b['energy_nJ']:11,.0f} {o['energy_nJ']:11,.0f}")
    print(f"\n{'network':17s} {'BF cycles':>12s} {'ours':>12s} {'ratio':>6s} {'BF rule, our bytes':>18s} "
          f"{'ratio':>6s} {'BF compute':>12s} {'ours':>12s} {'ratio':>6s}")
    for name, n in cmp["networks"].items():
        print(f"{name:17s} {n['bf_cycles']:12,.0f} {n['our_cycles']:12,.0f} {n['cycles_ratio']:6.3f} "
              f"{n['bf_rule_on_our_bytes']:18,.0f} {n['our_cycles'] / n['bf_rule_on_our_bytes']:6.3f} "
              f"{n['bf_compute']:12,.0f} {n['our_compute']:12,.0f} {n['our_compute'] / n['bf_compute']:6.3f}")
    print(f"\n{'DRAM MB':17s} {'BF weights':>10s} {'inputs':>8s} {'outputs':>8s} {'total':>8s} | {'ours total':>10s} "
          f"{'outputs':>8s}")
    for name, n in cmp["networks"].items():
        print(f"{name:17s} {n['bf_weight_dram_bytes'] / 1e6:10.2f} {n['bf_input_dram_bytes'] / 1e6:8.2f} "
              f"{n['bf_output_dram_bytes'] / 1e6:8.2f} {n['bf_dram_bytes'] / 1e6:8.2f} | "
              f"{n['our_dram_bytes'] / 1e6:10.2f} {n['our_output_dram_bytes'] / 1e6:8.2f}")
    print(f"\n{'energy µJ':17s} {'BF core':>9s} {'SRAM':>9s} {'DRAM':>9s} {'total':>9s} | {'MAC+reg':>9s} "
          f"{'SRAM':>9s} {'DRAM':>9s} {'leak+dec':>9s} {'total':>9s} | {'vs Eyeriss: speed-up BF':>23s} {'ours':>6s} "
          f"{'energy BF':>9s} {'ours':>6s}")
    for name, n in cmp["networks"].items():
        b, o = n["bf_energy_breakdown_nJ"], n["our_energy_breakdown_nJ"]
        o_sram = sum(v for k, v in o.items() if k.endswith("_sram"))
        print(f"{name:17s} {b['core'] / 1e3:9,.1f} {b['sram'] / 1e3:9,.1f} {b['dram'] / 1e3:9,.1f} "
              f"{n['bf_energy_nJ'] / 1e3:9,.1f} | {(o['mac'] + o.get('register', 0)) / 1e3:9,.1f} "
              f"{o_sram / 1e3:9,.1f} {o['dram'] / 1e3:9,.1f} "
              f"{(o['leakage'] + o['decoder']) / 1e3:9,.1f} {n['our_energy_nJ'] / 1e3:9,.1f} | "
              + (f"{n['speedup_bf']:23.2f} {n['speedup_ours']:6.2f} {n['energy_red_bf']:9.2f} "
                 f"{n['energy_red_ours']:6.2f}" if not math.isnan(n["speedup_bf"]) else f"{'(no Eyeriss)':>23s}"))
    s = cmp["summary"]
    print(f"\ncompute cycles within ±5 % of Bit Fusion's: {s['within_5pct']} of {s['layers']} layers "
          f"({s['within_5pct'] / s['layers']:.0%}); median ratio {s['median_compute_ratio']:.4f}")
    outside = [r for r in cmp["layer_ratios"] if abs(r[2] - 1) > 0.05]
    for net, layer, ratio in outside:
        print(f"  outside ±5 %: {net} {layer} {ratio:.3f}")
    n_ey = sum(not math.isnan(n["speedup_bf"]) for n in cmp["networks"].values())
    print(f"vs Eyeriss (geometric mean over {n_ey} networks): speed-up Bit Fusion's simulator "
          f"{s['speedup_bf']:.2f}×, ours {s['speedup_ours']:.2f}× (paper 3.9×); with our compute cycles and Bit "
          f"Fusion's memory stalls {s['speedup_our_compute_bf_bytes']:.2f}×; energy reduction Bit Fusion's "
          f"{s['energy_red_bf']:.2f}×, ours {s['energy_red_ours']:.2f}× (paper 5.1×)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bitfusion", help="checkout of hsharma35/bitfusion")
    ap.add_argument("--dnnweaver2", help="checkout of hsharma35/dnnweaver2")
    ap.add_argument("--python2", default=str(Path.home() / ".pyenv/versions/2.7.18/bin/python"))
    ap.add_argument("--venv", default=str(Path(tempfile.gettempdir()) / "archsim-bitfusion-py27"))
    ap.add_argument("--bf-json", help="a saved Bit Fusion run (this script's --save) instead of running it")
    ap.add_argument("--save", help="save Bit Fusion's run here")
    ap.add_argument("--reference", action="store_true", help="compare with the recorded reference only")
    ap.add_argument("--record", help="write the reference the test suite checks (shapes, widths, BF's numbers)")
    ap.add_argument("--json", help="write the comparison here")
    args = ap.parse_args(argv)
    if args.reference:
        reference = json.loads(REFERENCE.read_text())
    elif args.bf_json:
        reference = reference_from_run(json.loads(Path(args.bf_json).read_text()))
    else:
        for opt in ("bitfusion", "dnnweaver2"):
            p = getattr(args, opt)
            if not p or not Path(p).is_dir():
                ap.error(f"--{opt}: expected a checkout folder, got {p!r}")
        if not Path(args.python2).is_file():
            ap.error(f"--python2: not a file: {args.python2!r}")
        py27 = ensure_py27_venv(args.python2, Path(args.venv))
        bf = run_bitfusion(py27, Path(args.bitfusion).resolve(), Path(args.dnnweaver2).resolve(),
                           Path(tempfile.mkdtemp(prefix="archsim-vs-bitfusion-")))
        if args.save:
            Path(args.save).write_text(json.dumps(bf))
        reference = reference_from_run(bf)
    mine = ours(reference)
    cmp = compare(reference, mine)
    report(reference, mine, cmp)
    if args.record:
        Path(args.record).parent.mkdir(parents=True, exist_ok=True)
        rec = {**reference, "ours_at_record": {n: {"cycles": v["cycles"], "energy_nJ": v["energy_nJ"],
                                                   "dram_bytes": v["dram_bytes"]} for n, v in mine.items()}}
        Path(args.record).write_text(json.dumps(rec, indent=1) + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"comparison": cmp, "ours": mine}, indent=1, default=str))
    s = cmp["summary"]
    ok = s["within_5pct"] >= 0.9 * s["layers"] and 0.98 <= s["median_compute_ratio"] <= 1.02
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
