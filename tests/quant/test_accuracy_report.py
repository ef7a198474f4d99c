"""The real-model accuracy report: format list, settings and a --quick run end to end."""
import re

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
    path = run(tmp_path, quick=True, progress=False)
    text = path.read_text()
    assert "Quick subset" in text and (tmp_path / "accuracy.json").exists()
    for model in ("## Fashion-MNIST CNN", "## MiniLM-L6 retrieval"):
        assert model in text
    assert "| Fashion-MNIST CNN | W4A16 | `dybit4`" in text  # the paired comparison was made
    assert "output-aware" in text and "cosine vs FP32" in text and "McNemar" in text
    assert "paired bootstrap" in text


def test_bad_arguments_are_one_line(capsys):
    assert main(["--models", "resnet"]) == 2
    assert "--models: unknown model 'resnet'" in capsys.readouterr().err
    assert main(["--settings", "W2A2"]) == 2
