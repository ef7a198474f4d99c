from quant.accuracy_report import formats_for, run


def test_accuracy_report_runs_on_a_subset(tmp_path):
    path = run(tmp_path, bits=(4,), qat_bits=(4,), qat_steps=2, limit=200, progress=False)
    text = path.read_text()
    assert "**Subset of 200 images per set.**" in text and (tmp_path / "accuracy.json").exists()
    for model in ("## Fashion-MNIST CNN", "## MNIST LeNet-5 (advertorch)"):
        assert model in text
    for name in formats_for(4):
        assert text.count(f"| {name} |") == 2  # one row per model
    assert "mxfp4" in formats_for(4) and "Block-scaled `mxfp4`" in text
    assert text.count("W4/A4 PTQ: adaptive `dybit4`") == 2 and text.count("W4/A4 QAT: adaptive `dybit4`") == 2
