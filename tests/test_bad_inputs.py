"""A corpus of bad inputs, CLI and Python API: each gets one clear line naming what is wrong and exit code 2
(CLI), or an ``ArchsimError``/``QuantError``/``WorkloadError`` naming the field (API) — never a traceback,
never a silent answer. Built from the schema and the argument lists, so new keys join the corpus."""
import json
import re

import pytest

from archsim import ArchsimError, load_hw, simulate
from archsim.cli import main
from archsim.config import SCHEMA
from quant import QuantError, get_format
from quant.plan import PrecisionPlan
from workloads import WorkloadError, load_workload

ERRORS = (ArchsimError, QuantError, WorkloadError)


def _leaves(schema, prefix=""):
    for k, v in schema.items():
        if isinstance(v, dict):
            yield from _leaves(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _bad_values(rule):
    typ, check = rule[:2]
    if typ is bool:
        return ["maybe", "2"]
    if typ is str:
        return ["bogus"] if isinstance(check, tuple) else []  # free text (name, description) has no bad value
    bad = ["abc", "inf", "nan"]
    if check == "positive":
        bad += ["0", "-1"]
    elif check == "non-negative":
        bad += ["-1"]
    if typ is int:
        bad.append("1.5")
    return bad


HW_CASES = [(key, val) for key, rule in _leaves(SCHEMA) for val in _bad_values(rule)]
HW_CASES += [("array.nope", "1"), ("nope", "1"), ("buffers.weight", "64"), ("array.rows.x", "1"),
             ("psum_bits", "4"), ("array.max_bits", "7"), ("array.bricks_per_unit", "9"),
             ("buffers.weight.kib", "0.001"), ("array.max_bits", "18")]


@pytest.mark.parametrize("key, value", HW_CASES)
def test_bad_hardware_values_api(key, value):
    with pytest.raises(ArchsimError) as exc:
        load_hw("default").with_overrides({key: value})
    assert key.split(".")[0] in str(exc.value) and "\n" not in str(exc.value)


def _cli(argv, capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage + one error line
        code = exc.code
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("usage:", " "))
             and not re.match(r"^[\w ]+:\s*\d+%\|", ln)]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    return code, lines[0]


CLI_CASES = (
    [["simulate", "--model", "lenet5", "--set", f"{k}={v}"] for k, v in HW_CASES[::3]]
    + [["simulate", "--model", m] for m in ("nonexistent", "foo.onnx", "foo.json", "foo.csv", "x.py:build",
                                            "x.py", "/etc/passwd.json", ":", "resnet18:x")]
    + [["simulate", "--model", "lenet5", "--precision", p] for p in
       ("int9", "int1", "dybit9", "dybit4c9", "w=int8", "a=int8", "w=int8,a=foo", "foo", "w=int8,a=int8,x=int4",
        "", "fp64", "posit8es9", "mxfp5", "e9m9", "w=fp32,a=int8")]
    + [["simulate", "--model", "lenet5", "--hw", h] for h in ("nope", "/nonexistent.yaml", "/etc/passwd")]
    + [["simulate", "--model", "lenet5", "--engine", "magic"], ["simulate", "--model", "lenet5", "--objective", "edp"],
       ["simulate", "--model", "lenet5", "--batch", "0"], ["simulate", "--model", "lenet5", "--batch", "-3"],
       ["simulate", "--model", "lenet5", "--input-shape", "a,b"], ["simulate", "--model", "lenet5", "--plan",
                                                                   "/nonexistent.yaml"],
       ["simulate", "--model", "lenet5", "--trace", "/tmp/t.json", "--engine", "analytic"],
       ["simulate", "--model", "lenet5", "--set", "novalue"], ["simulate"], ["frobnicate"]]
    + [["search", "--model", "fashion_cnn", *a] for a in (
        ["--generations", "0"], ["--generations", "-1"], ["--pop", "1"], ["--seed", "-1"], ["--workers", "-2"],
        ["--workers", "100000"], ["--objectives", "speed"], ["--objectives", "latency,latency"],
        ["--objectives", ""], ["--formats", "int9"], ["--formats", ""], ["--hw-genes", "array.nope"],
        ["--mapper-objective", "edp"], ["--max-error", "-1"], ["--max-area", "0"], ["--latency-target", "-1"],
        ["--dask", "not-an-address"], ["--generations", "x"], ["--set", "array.rows=0"], ["--hw", "nope"],
        ["--batch", "8", "--model", "x.json"])]
    + [["formats", "foo"], ["formats", "--bits", "1"], ["graph", "--model", "nope"], ["report", "/nonexistent"],
       ["evaluate", "--model", "nope"], ["quantize", "--model", "fashion_cnn", "--precision", "int9"],
       ["evaluate", "--model", "fashion_cnn", "--calib", "0"], ["evaluate", "--model", "fashion_cnn", "--limit", "-1"]]
)


@pytest.mark.parametrize("argv", CLI_CASES, ids=lambda a: " ".join(a)[:60])
def test_bad_cli_input_is_one_line_and_exit_2(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, line = _cli(argv, capsys)
    assert code == 2, line


def test_bad_python_api_inputs():
    g = load_workload("lenet5")
    names = [d["name"] for d in g.compute_layers()]
    cases = [
        lambda: simulate(g, "default", "int8", "magic"),
        lambda: simulate("lenet5", "default", "int8"),
        lambda: simulate(g, "nope", "int8"),
        lambda: simulate(g, "default", "foo4"),
        lambda: simulate(g, "default", 42),
        lambda: simulate(g, "default", PrecisionPlan({"ghost": "int8"})),
        lambda: simulate(g, "default", "int8", objective="edp"),
        lambda: simulate(g, load_hw("int8_systolic"), "dybit4"),
        lambda: simulate(g, "default", "w=fp32,a=int8"),
        lambda: load_hw("default", {"array.rows": "x"}),
        lambda: load_hw(""),
        lambda: get_format("int1"),
        lambda: get_format("dybit4c7"),
        lambda: get_format(""),
        lambda: PrecisionPlan.uniform("w=int4,b=int8", names),
        lambda: PrecisionPlan({names[0]: "int99"}),
        lambda: load_workload(""),
        lambda: load_workload("nope"),
        lambda: load_workload("x.py:f"),
        lambda: load_workload("lenet5", batch=0),
        lambda: load_workload(123),
        lambda: load_workload("/nonexistent.onnx"),
        lambda: g.to_dict() and load_workload("/nonexistent.json"),
    ]
    for i, case in enumerate(cases):
        with pytest.raises(ERRORS) as exc:
            case()
        assert str(exc.value) and "\n" not in str(exc.value).strip(), i


def test_an_inconsistent_graph_json_is_refused(tmp_path):
    """A hand edit of one field but not the fields that follow from it was accepted silently."""
    g = load_workload("lenet5")
    d = g.to_dict()
    layer = next(n for n in d["nodes"] if n["op"] == "conv")
    layer["out_shape"] = [layer["out_shape"][0], layer["out_shape"][1] * 2, *layer["out_shape"][2:]]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d))
    with pytest.raises(WorkloadError, match=f"layer '{layer['name']}': act_out_elems"):
        load_workload(str(path))


def test_the_corpus_is_large():
    assert len(HW_CASES) + len(CLI_CASES) + 23 >= 150
