import numpy as np

from quant.report import block_relative_mse, build, mse_formats, relative_mse


def test_report_files_and_numbers(tmp_path):
    path = build(tmp_path, real=True, progress=False)
    text = path.read_text()
    assert (tmp_path / "formats_grids.png").stat().st_size > 1000
    assert (tmp_path / "formats_mse.png").stat().st_size > 1000
    assert "LeNet5-adv conv2" in text and "MiniLM L0 FFN-in" in text and "Real weights were not available" not in text
    for name in mse_formats(4) + mse_formats(3):
        assert f"| {name} |" in text
    assert "where it loses" in text.lower() or "lowest error on 8 of 8" in text
    section = text[text.index("## 4-bit at the MX granularity"):]
    for row in ("| dybit4, E8M0 scale | 4.312 |", "| mxfp4 (OCP MX rule), E8M0 scale | 4.25 |",
                "| nf4, FP32 scale | 5 |"):
        assert row in section


def test_relative_mse_orders_formats_sensibly():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((32, 256)).astype(np.float32)
    assert relative_mse("int8", w) < relative_mse("int4", w) < relative_mse("int3", w)
    # adaptive DyBit is never worse than its best fixed cap (same per-channel search)
    best_fixed = min(relative_mse(f"dybit4c{c}", w) for c in (1, 2, 3))
    assert relative_mse("dybit4", w) <= best_fixed * 1.0001
    # per 32-value block too, with either scale type; power-of-two scales cost accuracy; per-block scales
    # beat per-channel ones
    for pow2 in (False, True):
        fixed = min(block_relative_mse(f"dybit4c{c}", w, pow2=pow2) for c in (1, 2, 3))
        assert block_relative_mse("dybit4", w, pow2=pow2) <= fixed * 1.0001
    assert block_relative_mse("int4", w, pow2=False) < block_relative_mse("int4", w, pow2=True)
    assert block_relative_mse("int4", w, pow2=False) < relative_mse("int4", w)
