"""The real-model accuracy report: format list, settings and a --quick run end to end."""
import re

import numpy as np

from quant.accuracy_report import bits_per_value, main, plan_spec, report_formats, run
from quant.formats import list_formats


def test_every_registered_format_is_in_the_report_or_named_as_a_duplicate():
    for bits in (3, 4):
        names, same = report_formats(bits)
        for n in list_formats(bits):
            assert n in names or n in same or re.fullmatch(r"uint\d", n)
        assert "dybit4" in report_formats(4)[0] and "mxfp4" in report_formats(4)[0]
    assert report_formats(4)[1]["dybit4c2"] == "e2m1" and report_formats(4)[1]["dybit4c3"] == "flint4"
    assert bits_per_value("mxfp4") == 4.25 and bits_per_value("dybit4") == 4.0


def test_settings_put_the_named_format_on_the_low_bit_side():
    assert plan_spec("W4A16", "nf4") == "w=nf4,a=fp32"
    assert plan_spec("W8A4", "nf4") == "w=int8,a=nf4"
    assert plan_spec("W4A8", "nf4") == "w=nf4,a=int8"
    assert plan_spec("W4A4", "nf4") == "w=nf4,a=nf4"


def test_quick_report_runs(tmp_path):
    path = run(tmp_path, quick=True, tasks=("fashion_cnn",), progress=False)
    text = path.read_text()
    assert "Quick subset" in text and (tmp_path / "accuracy.json").exists()
    assert "## Fashion-MNIST CNN" in text
    assert "| Fashion-MNIST CNN | W4A16 | `dybit4`" in text  # the paired comparison was made
    assert "output-aware" in text and "McNemar" in text and "| 3 |" in text  # rows on 3 calibration sets
    import json

    rows = json.loads((tmp_path / "accuracy.json").read_text())["rows"]
    for r in rows:  # every row's seconds are split by stage; scoring is never free, nor is choosing weights
        assert abs(sum(r["seconds_by"].values()) - r["seconds"]) < 1e-9 and r["seconds_by"]["score"] > 0
    assert sum(r["seconds_by"]["weights"] for r in rows if r["method"] == "output") > 0
    assert "by stage: building quantised copies" in text and "scoring the test sets" in text


def test_retrieval_rows_score_mrr_and_cosine():
    """The MiniLM task end to end on a tiny set: FP32 retrieves well, an INT8-weight row stays close."""
    from quant.accuracy_jobs import Job, run_job
    from quant.accuracy_render import paired_test
    from quant.tasks import make_task

    task = make_task("minilm", "quick")
    fp32 = task.score(task.model())
    assert fp32.value > 0.5 and abs(fp32.extra["cosine"] - 1) < 1e-5
    [(key, row)] = run_job(Job("minilm", "quick", 1, "int8", "mse", (0,), (("k", "w=int8,a=fp32"),)))
    assert row["per_set"].shape == (1, len(fp32.items))
    assert row["extra"]["cosine"] > 0.99 and abs(row["per_set"].mean() - fp32.value) < 0.1
    test = paired_test("retrieval", row, {"per_set": fp32.items[None]})
    assert "paired bootstrap" in test["detail"] and 0 <= test["p"] <= 1


def test_bad_arguments_are_one_line(capsys):
    assert main(["--models", "resnet"]) == 2
    assert "--models: unknown model 'resnet'" in capsys.readouterr().err
    assert main(["--settings", "W2A2"]) == 2


def test_block_scaled_dybit_is_dybit_and_the_head_to_head_needs_equal_bits():
    """`nvdybit4` (4.625 bits/value) is DyBit, never a rival; it has no rival of equal bits, so the head-to-head
    takes the best DyBit row that has one (`dybit4` vs `e2m1`, both 4 bits), not nvfp4 (4.5)."""
    import numpy as np

    from quant.accuracy_render import best_pair, is_dybit
    from quant.accuracy_report import bits_per_value

    rows = {("output", f): {"per_set": np.full((1, 4), v)} for f, v in
            (("dybit4", 0.90), ("nvdybit4", 0.95), ("e2m1", 0.92), ("nvfp4", 0.97), ("mxdybit4", 0.91))}
    assert is_dybit("nvdybit4") and is_dybit("mxdybit4") and not is_dybit("nvfp4")
    assert bits_per_value("nvdybit4") != bits_per_value("nvfp4")
    assert best_pair(rows, bits_per_value) == (("output", "dybit4"), ("output", "e2m1"))


def test_rows_do_not_depend_on_the_workers_and_reuse_baked_weights(tmp_path):
    """Two worker processes give the same numbers as one; a W4A4 row reuses the weights its W4A16 row of the
    same format baked (same weights, so a W-only row and its baked twin score alike)."""
    import json

    from quant.accuracy_jobs import _STATE, Job, run_job

    kw = dict(quick=True, tasks=("fashion_cnn",), settings=("W4A16", "W4A4"), progress=False,
              formats={4: ["int4", "dybit4", "mxfp4"]})
    one = json.loads((run(tmp_path / "a", workers=1, **kw).parent / "accuracy.json").read_text())
    two = json.loads((run(tmp_path / "b", workers=2, **kw).parent / "accuracy.json").read_text())
    strip = lambda d: [{k: v for k, v in r.items() if not k.startswith("seconds")} for r in d["rows"]]  # noqa: E731
    assert strip(one) == strip(two) and len(one["rows"]) >= 6
    _STATE["baked"].clear()
    rows = (("a", "w=dybit4,a=fp32"), ("b", "w=dybit4,a=dybit4"))
    [(_, r1), (_, r2)] = run_job(Job("fashion_cnn", "quick", 1, "dybit4", "output", (0,), rows))
    assert len(_STATE["baked"]) == 1  # one bake served both rows
    _STATE["baked"].clear()  # baked afresh on the W4A4 model itself: the same weights, the same scores
    [(_, again)] = run_job(Job("fashion_cnn", "quick", 1, "dybit4", "output", (0,), rows[1:]))
    assert np.array_equal(again["per_set"], r2["per_set"])


def test_every_row_gets_its_spread_by_default(tmp_path):
    import json

    kw = dict(quick=True, tasks=("lenet5",), settings=("W4A4",), progress=False,
              formats={4: ["int4", "dybit4", "e2m1"]}, methods={})
    rows = json.loads((run(tmp_path / "a", **kw).parent / "accuracy.json").read_text())["rows"]  # the default
    assert len(rows) == 3 and all(len(r["per_set"]) == 3 for r in rows)
    text = (tmp_path / "a" / "accuracy.md").read_text()
    assert "every format on all 3 calibration sets" in text and "Every row is calibrated 3×" in text
    once = json.loads((run(tmp_path / "b", spread="compared", **kw).parent / "accuracy.json").read_text())["rows"]
    assert "The compared rows are calibrated 3×" in (tmp_path / "b" / "accuracy.md").read_text()
    assert sorted(len(r["per_set"]) for r in once) == [1, 3, 3]  # only the compared pair on every set
    by_fmt = {r["format"]: r["per_set"] for r in once}
    for r in rows:  # stage 1's first set is the same run either way
        assert r["per_set"][0] == by_fmt[r["format"]][0]
