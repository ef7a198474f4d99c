import subprocess
import sys

import pytest

from archsim.cli import main


def test_formats_lists_and_describes(capsys):
    assert main(["formats", "--bits", "4"]) == 0
    out = capsys.readouterr().out.split()
    assert "dybit4c2" in out and "nf4" in out and "mxfp4" in out
    assert main(["formats", "dybit5c3"]) == 0
    assert "6" in capsys.readouterr().out


def test_unknown_format_is_one_clear_line():
    r = subprocess.run([sys.executable, "-m", "archsim", "formats", "nosuch4"], capture_output=True, text=True)
    assert r.returncode == 2
    assert "unknown format 'nosuch4'" in r.stderr and "Traceback" not in r.stderr


def test_bad_bits_and_unwritable_outputs_are_named(tmp_path, capsys):
    assert main(["formats", "--bits", "9"]) == 2
    assert "bits: the quantised formats have 2..8 bits, got 9" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["graph", "--model", "lenet5", "--json", str(blocker / "g.json")]) == 2
    assert f"archsim graph: cannot use {blocker / 'g.json'}: Not a directory" in capsys.readouterr().err
    assert main(["simulate", "--model", "lenet5", "--out", str(blocker / "out")]) == 2
    assert "archsim simulate: cannot use" in capsys.readouterr().err
    for cmd in ("graph", "simulate", "search"):  # argparse names the flag and the value, exit status 2
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--model", "lenet5", "--input-shape", "1,a,28"])
        assert exc.value.code == 2
        assert "--input-shape: must look like 3,224,224, got '1,a,28'" in capsys.readouterr().err


def test_models_lists_the_zoo_with_counts(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "resnet50" in out and "25,557,032" in out and "4.089" in out and "bert_base" in out


def test_graph_exports_json_and_scalesim(tmp_path, capsys):
    js, csv = tmp_path / "g.json", tmp_path / "g.csv"
    assert main(["graph", "--model", "fashion_cnn", "--json", str(js), "--scalesim", str(csv)]) == 0
    assert "total: " in capsys.readouterr().out
    assert main(["graph", "--model", str(js)]) == 0
    assert csv.read_text().startswith("Layer name")
    assert main(["graph", "--model", "nosuch"]) == 2
    assert "unknown model 'nosuch'" in capsys.readouterr().err


def test_quantize_and_evaluate_cli(tmp_path, capsys):
    assert main(["quantize", "--model", "fashion_cnn", "--precision", "w=dybit4,a=int8", "--limit", "500",
                 "--qat-steps", "5", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "PTQ" in out and "QAT" in out and "dybit4/int8" in out
    import json

    res = json.loads((tmp_path / "quantize.json").read_text())
    assert abs(res["fp32"] - res["ptq"]) < 0.05 and (tmp_path / "plan.yaml").exists()
    assert main(["evaluate", "--model", "fashion_cnn", "--plan", str(tmp_path / "plan.yaml"), "--limit", "300"]) == 0
    assert main(["evaluate", "--model", "vgg16"]) == 2
    assert "no trained weights" in capsys.readouterr().err
    for flag, value in (("--limit", "-5"), ("--limit", "0"), ("--calib", "0"), ("--qat-steps", "-1")):
        r = subprocess.run([sys.executable, "-m", "archsim", "quantize", "--model", "fashion_cnn", flag, value],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and f"argument {flag}: must be ≥" in r.stderr, r.stderr  # -5 sliced off 5 images


def test_simulate_json_has_the_spec_fields(capsys):
    import json

    assert main(["simulate", "--model", "fashion_cnn", "--precision", "w=dybit4,a=int8", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"model", "hw", "engine", "total", "layers"} <= set(d)
    assert {"cycles", "latency_s", "energy_j", "area_mm2", "dram_read_bytes", "dram_write_bytes",
            "utilization"} <= set(d["total"])
    assert {"name", "op", "macs", "cycles", "compute_cycles", "stall_cycles", "dram_read_bytes", "dram_write_bytes",
            "energy_j", "w_format", "a_format"} <= set(d["layers"][0])
    assert main(["simulate", "--model", "fashion_cnn", "--engine", "analytic", "--trace", "t.json"]) == 2


def test_report_names_a_broken_result_file(tmp_path, capsys):
    assert main(["simulate", "--model", "lenet5", "--out", str(tmp_path)]) == 0
    assert main(["report", str(tmp_path)]) == 0
    (tmp_path / "result.json").write_text('{"broken": ')
    capsys.readouterr()
    assert main(["report", str(tmp_path)]) == 2
    assert f"cannot rebuild from {tmp_path / 'result.json'}: Expecting value" in capsys.readouterr().err
