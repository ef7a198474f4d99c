"""Our side of the ZigZag validation, without ZigZag: ``benchmarks/vs_zigzag.py`` compares ResNet-18 INT8 on
``int8_systolic`` matched to a ZigZag 3.9.1 hardware description (recorded in
benchmarks/data/zigzag_reference.json from its run on 2026-11-26; reports/validation.md §3)."""
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("vs_zigzag")


def test_recorded_comparison_with_zigzag(bench):
    ref = json.loads(bench.REFERENCE.read_text())
    cmp = bench.compare(ref["zigzag"], bench.ours())  # asserts the same 21 layers with the same MACs
    t, rec = cmp["total"], ref["ours_at_record"]
    assert t["our_dram"] == rec["dram_bytes"] and t["our_latency"] == pytest.approx(rec["latency_cycles"], rel=1e-9)
    assert t["our_energy"] == pytest.approx(rec["energy_pj"], rel=1e-9)
    for r in cmp["layers"]:
        # the floors agree: ZigZag sizes inputs with their padding, ours adds the weights' per-channel scales
        assert r["floor_ours"] <= r["floor_zz"] * 1.02, r["layer"]
        assert r["our_dram"] >= r["floor_ours"]
    # where we stand against ZigZag's 16-bit partial sums: ours 1.091× its traffic, MAC energy identical
    assert t["our_dram"] / t["zz_dram"] < 1.10
    assert t["our_energy"]["MAC"] == pytest.approx(t["zz_energy"]["MAC"], rel=1e-6)
    assert t["floor_ours"] == pytest.approx(t["floor_zz"], rel=0.01)


def test_with_the_same_partial_sum_width_our_traffic_matches_zigzags(bench):
    """ZigZag defaults to 16-bit partial sums, we keep 32-bit ones (psum_bits): with ZigZag given ours, our DRAM
    traffic is at most its (0.949×: issue 17's target), the DRAM energy (15 pJ/bit in both) within 10 %, and 19 of
    the 21 layers within 1.1× its traffic (layer2.0.conv1 and conv1 at the edge: reports/validation.md §3)."""
    ref = json.loads(bench.REFERENCE.read_text())
    cmp = bench.compare(ref["zigzag_psum32"], bench.ours())
    t = cmp["total"]
    assert t["our_dram"] <= t["zz_dram"]
    assert t["our_energy"]["DRAM"] / t["zz_energy"]["DRAM"] == pytest.approx(1.0, abs=0.10)
    above = {r["layer"] for r in cmp["layers"] if r["our_dram"] > 1.1 * r["zz_dram"]}
    assert above <= {"layer2.0.conv1", "conv1"} and "layer2.0.conv1" in above


def test_energy_by_level_against_zigzag(bench):
    """With the same 32-bit partial sums and per-bit prices, MAC, input SRAM, output SRAM and DRAM energy are each
    within 10 % of ZigZag's; the register level and the weight SRAM are not, for the modelled-schedule reasons
    reports/validation.md §3 gives (its four partial-sum register accesses per MAC; its one-weight register
    re-read from the SRAM every ~11 MACs)."""
    ref = json.loads(bench.REFERENCE.read_text())
    t = bench.compare(ref["zigzag_psum32"], bench.ours())["total"]
    zl, ol = t["zz_levels"], t["our_levels"]
    for level in ("SRAM_I", "SRAM_O", "DRAM"):
        assert ol[level] / zl[level] == pytest.approx(1.0, abs=0.10), level
    assert 0.5 < ol["RF"] / (zl["RF_W"] + zl["RF_O"]) < 0.7
    assert ol["SRAM_W"] / zl["SRAM_W"] < 0.25
    # ZigZag's partial-sum register: about one 0.042-pJ access per MAC in each of its four directions (97 %: the
    # first partial sum of an output is not read)
    macs = sum(r["macs"] for r in ref["zigzag_psum32"]["layers"])
    assert zl["RF_O"] == pytest.approx(4 * macs * 0.042, rel=0.05)
