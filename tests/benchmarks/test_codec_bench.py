"""The codec benchmark runs end to end on a small array and reports every row and check (timings are not
asserted: speed is measured by the script, not by tests)."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_codec_benchmark_runs_and_reports_every_check(tmp_path):
    out = tmp_path / "codec.json"
    proc = subprocess.run([sys.executable, "benchmarks/codec.py", "--n", "65536", "--repeat", "2", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr  # 1 = a target missed on this tiny, noisy size
    data = json.loads(out.read_text())
    assert len(data["checks"]) == 5 and set(data["median_ratios"]) == {
        "dybit4c2 encode / copy", "dybit4c2 quantize / copy", "dybit4c2 encode / INT fake-quant",
        "dybit4c2 quantize / INT fake-quant", "dybit4c2 decode / copy"}
    assert all(len(v) == 2 and min(v) > 0 for v in data["rounds_seconds"].values())
    # every check carries the run's noise: an interval of the median that contains the median
    assert set(data["median_ratio_ci95"]) == set(data["median_ratios"])
    for key, (lo, hi) in data["median_ratio_ci95"].items():
        assert 0 < lo <= data["median_ratios"][key] <= hi, key
    assert data["cache_resident_quantize_ratio"] > 0 and data["preallocated_floor_ratio"] > 0
    assert data["identical_int_control"] > 0 and "control: the same INT kernel" in proc.stdout
    # on an AVX-512 CPU the hand-written loop is what runs, and both cache-resident comparisons are reported
    from quant.formats import _simd

    assert data["simd"] == _simd.AVAILABLE
    if _simd.AVAILABLE:
        assert data["cache_resident_portable_quantize_ratio"] > 0 and data["cache_resident_over_hand_written_int"] > 0
    assert "dybit4c2 quantize" in proc.stdout and ("PASS" in proc.stdout or "MISS" in proc.stdout)
    assert set(data["packing_over_copy"]) == {"pack", "unpack", "numpy pack"} and "4-bit packing" in proc.stdout


def test_the_hand_written_int_reference_computes_int_fake_quant():
    """The benchmark's hand-written AVX-512 INT loop is only a fair reference if it computes what the project's
    INT fake-quant computes (values equal; it does not turn −0 into +0, which is the zero point's doing)."""
    import numpy as np

    from quant.formats import _kernels as K
    from quant.formats import _simd

    if not _simd.AVAILABLE:  # the benchmark imports it only where the AVX-512 loop runs
        return
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from _int_simd import repeat_int_fake_quant_simd
    finally:
        sys.path.pop(0)
    x = (np.random.default_rng(0).standard_normal((1, 4096)) * 6).astype(np.float32)
    x[0, :6] = [0.0, -0.0, 3e38, -3e38, 0.35, -0.35]  # overflow saturates; ties round to even
    s = np.full((1, 1), 0.7, np.float32)
    want, got = np.empty_like(x), np.empty_like(x)
    with np.errstate(over="ignore"):
        flag = K.int_fake_quant(x, s, np.zeros_like(s), x.shape[1], np.float32(-7), np.float32(7), want)
        exp_max = repeat_int_fake_quant_simd(x, s, np.float32(7), got, 2)
    assert np.array_equal(got, want) and flag and exp_max == 0x7F800000
