"""LLM phases: a tiny HF Llama end to end, step totals against a hand-built graph of all blocks, KV bytes by
hand, the floors never beaten, the bad inputs of the issue (one line, exit 2)."""
import json

import pytest

from archsim import load_hw, simulate
from archsim.errors import SimError
from archsim.llm import TransformerSpec, llm
from archsim.llm.run import _sim_plan
from archsim.llm.spec import block_graph, ends_graph
from archsim.precision import operand_cost
from quant.plan import PrecisionPlan
from workloads.graph import LayerGraph

TINY = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
        "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 100,
        "tie_word_embeddings": False}
SPEC = TransformerSpec("tiny", hidden=64, layers=2, heads=4, kv_heads=2, head_dim=16, intermediate=128, vocab=100)


@pytest.fixture
def tiny_cfg(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps(TINY))
    return p


def test_hf_config_gives_the_spec_and_matches_full_extraction(tiny_cfg):
    from workloads.hf import extract_hf, load_spec

    spec = load_spec(f"hf:{tiny_cfg}")
    assert spec == TransformerSpec("tiny" if False else spec.name, 64, 2, 4, 2, 16, 128, 100)
    full = extract_hf(f"hf:{tiny_cfg}", 8, device="cpu")  # the whole model traced: 2 blocks
    g = LayerGraph(name="built")
    src = None
    for i in range(2):
        block_graph(spec, i, 1, 8, 8, ("int8", "int8"), g=g, src=src)
        src = f"layers.{i}.mlp_residual"
    built = sorted(d["macs"] for d in g.compute_layers())
    head = [d for d in full.compute_layers() if d["name"].startswith("lm_head")]
    extracted = sorted(d["macs"] for d in full.compute_layers() if not d["name"].startswith("lm_head"))
    assert built == extracted  # every block layer's MACs, attention dense 8×8
    assert head[0]["macs"] == 8 * 64 * 100  # HF computes all positions; the phase model only the last
    assert sum(d["weight_elems"] for d in full.layers() if d["op"] == "embedding") == 8 * 64


def test_tiny_llama_end_to_end_cli(tiny_cfg, capsys):
    from archsim.cli import main

    assert main(["llm", "--model", f"hf:{tiny_cfg}", "--prompt", "16", "--generate", "4", "--hw", "default",
                 "--precision", "w=int4,a=int8,kv=int4", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for k in ("ttft_s", "tpot_s", "tokens_per_s", "energy_per_token_j", "dram_read_bytes_per_token",
              "kv_cache_bytes", "phases"):
        assert k in d
    assert d["phases"]["decode"]["steps"] == 3 and d["ttft_s"] > 0
    assert d["kv_cache_bytes"] == 1 * 19 * 2 * 2 * 2 * 16 * 4 / 8  # B·positions·blocks·(K,V)·Hk·d·4 bits


@pytest.mark.parametrize("bad, msg", [
    (["--generate", "0"], "generate"),
    (["--model", "hf:/nonexistent/config.json"], "nonexistent"),
])
def test_bad_inputs_one_line(bad, msg, tiny_cfg, capsys):
    from archsim.cli import main

    args = {"--model": f"hf:{tiny_cfg}", "--prompt": "4", "--generate": "2"}
    args.update(dict(zip(bad[::2], bad[1::2], strict=True)))
    assert main(["llm", *[x for kv in args.items() for x in kv]]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and msg in err


def test_bad_configs(tmp_path):
    from workloads.errors import WorkloadError
    from workloads.hf import read_config

    for cfg, msg in ((TINY | {"architectures": ["GPT2LMHeadModel"]}, "unknown HF architecture"),
                     ({k: v for k, v in TINY.items() if k != "hidden_size"}, "missing field 'hidden_size'"),
                     (TINY | {"architectures": ["MixtralForCausalLM"]}, "mixture-of-experts")):
        p = tmp_path / "c.json"
        p.write_text(json.dumps(cfg))
        with pytest.raises(WorkloadError, match=msg):
            read_config(f"hf:{p}")


def test_plan_naming_missing_layer_and_kv_without_attention():
    plan = PrecisionPlan.uniform("int8", SPEC.plan_layer_names()).with_layer("layers.9.mlp.up_proj", "int8")
    with pytest.raises(SimError, match="layers.9.mlp.up_proj"):
        llm(SPEC, 4, 2, plan=plan)
    mlp_only = TransformerSpec("mlp", hidden=64, layers=2, heads=0, kv_heads=0, head_dim=0, intermediate=128,
                               vocab=100)
    with pytest.raises(SimError, match="no attention"):
        llm(mlp_only, 4, 2, plan="w=int4,a=int8,kv=int4")
    assert llm(mlp_only, 4, 2, plan="w=int4,a=int8").summary()["kv_cache_bytes"] == 0


def test_steps_equal_hand_built_graph_of_all_blocks():
    """Prefill + decode totals (analytic) equal the whole-step graphs (every block + ends) simulated directly."""
    hw = load_hw("default")
    plan = PrecisionPlan.uniform("w=int4,a=int8,kv=int4", SPEC.plan_layer_names())
    r = llm(SPEC, 8, 3, hw=hw, plan=plan, engine="analytic")
    want_lat = want_rd = 0.0
    for new, ctx in ((8, 8), (1, 9), (1, 10)):
        g = LayerGraph(name="step")
        for i in range(SPEC.layers):
            block_graph(SPEC, i, 1, new, ctx, ("int4", "int4"), g=g)
        for part in (g, ends_graph(SPEC, 1, new, operand_cost("int4").storage_bits, "int8")):
            res = simulate(part, hw, _sim_plan(part, plan, ("int4", "int4")), "analytic")
            want_lat += res.total["latency_s"]
            want_rd += res.total["dram_read_bytes"]
    ph = r.phase_totals()
    assert ph["prefill"]["latency_s"] + ph["decode"]["latency_s"] == pytest.approx(want_lat, rel=1e-12)
    assert ph["prefill"]["dram_read_bytes"] + ph["decode"]["dram_read_bytes"] == pytest.approx(want_rd, rel=1e-12)


def test_kv_bytes_per_step_by_hand():
    """A decode step reads the whole cache (+ its per-position / per-channel scales) and appends one position."""
    hw = load_hw("default")
    r = llm(SPEC, 30, 3, hw=hw, plan="w=int8,a=int8,kv=int4", engine="analytic")
    cb = operand_cost("int4").channel_bits
    for step in r.decode:
        c, bk = step.context, SPEC.kv_heads  # batch 1
        k_read = bk * (c * 16 * 4 + c * cb) / 8  # K: d×C, a scale per position
        v_read = bk * (c * 16 * 4 + 16 * cb) / 8  # V: C×d, a scale per channel
        assert step.totals["kv_read_bytes"] == pytest.approx(SPEC.layers * (k_read + v_read))
        assert step.totals["kv_write_bytes"] == SPEC.layers * 2 * bk * 16 * 4 / 8
        qk = next(x for x in step.layers if x["name"].endswith("self_attn.qk"))
        assert qk["dram_bytes_by_operand"]["weight"] >= k_read  # the mapper reads the cache at least once


@pytest.mark.parametrize("hw", ["edge_llm", "datacenter_llm", "default"])
@pytest.mark.parametrize("engine", ["analytic", "des"])
def test_floors_never_beaten(hw, engine):
    r = llm(SPEC, 32, 4, batch=2, hw=hw, plan="w=int4,a=int8,kv=int4", engine=engine)
    for step in [r.prefill, *r.decode]:
        assert step.totals["latency_s"] >= step.floor_s(r.hw)["floor_s"] * (1 - 1e-9)
        assert step.totals["dram_read_bytes"] + step.totals["dram_write_bytes"] >= step.totals["dram_floor_bytes"]


def test_decode_sampling_error_is_small():
    every = llm(SPEC, 64, 33, hw="edge_llm", plan="int8")
    sampled = llm(SPEC, 64, 33, hw="edge_llm", plan="int8", decode_samples=4)
    a, b = every.phase_totals()["decode"], sampled.phase_totals()["decode"]
    assert abs(b["latency_s"] - a["latency_s"]) / a["latency_s"] < 0.01
    assert sum(s.simulated for s in sampled.decode) == 4


def test_decode_near_dram_floor_on_edge_llm():
    """Target: decode at batch 1 on a bandwidth-bound config within 15 % of its DRAM floor, never below."""
    spec = TransformerSpec("mid", hidden=1024, layers=2, heads=8, kv_heads=8, head_dim=128, intermediate=2816,
                           vocab=1000)
    r = llm(spec, 256, 3, hw="edge_llm", plan="w=int4,a=int8,kv=int4")
    for step in r.decode:
        f = step.floor_s(r.hw)
        assert f["dram_s"] > f["compute_s"]
        assert 1.0 <= step.totals["latency_s"] / f["dram_s"] < 1.15


def test_plan_kv_syntax_round_trip(tmp_path):
    from quant.errors import QuantError
    from quant.plan import parse_spec

    p = parse_spec("w=dybit4,a=int8,kv=int4")
    assert (p.weight, p.activation, p.kv, p.kv_format) == ("dybit4", "int8", "int4", "int4")
    assert parse_spec("w=int4,a=int8").kv_format == "int8"  # no kv: the cache at the activation format
    assert str(p) == "w=dybit4,a=int8,kv=int4"
    plan = PrecisionPlan({"a": p, "b": "int8"})
    plan.save(tmp_path / "p.yaml")
    assert PrecisionPlan.load(tmp_path / "p.yaml") == plan
    with pytest.raises(QuantError, match="kv-cache format"):
        parse_spec("w=int4,a=int8,kv=int99")


def test_cli_out_report_and_plan_file_errors(tiny_cfg, tmp_path, capsys):
    from archsim.cli import main

    out = tmp_path / "run"
    assert main(["llm", "--model", f"hf:{tiny_cfg}", "--prompt", "8", "--generate", "3", "--out", str(out)]) == 0
    md = (out / "llm.md").read_text()
    assert "## One prefill step" in md and "## One decode step" in md and "layers.0.self_attn.qk" in md
    assert (out / "time_per_token.png").stat().st_size > 0 and (out / "roofline.png").stat().st_size > 0
    capsys.readouterr()
    plan = tmp_path / "plan.yaml"
    plan.write_text("layers:\n  layers.7.mlp.up_proj: int8\n")
    assert main(["llm", "--model", f"hf:{tiny_cfg}", "--prompt", "8", "--generate", "3", "--plan", str(plan)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "layers.7.mlp.up_proj" in err
    bad = tmp_path / "gpt2.json"
    bad.write_text(json.dumps(TINY | {"architectures": ["GPT2LMHeadModel"]}))
    assert main(["llm", "--model", f"hf:{bad}", "--prompt", "8", "--generate", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unknown HF architecture 'GPT2LMHeadModel'" in err


def test_per_block_kv_formats_and_hf_load_workload(tiny_cfg):
    """Blocks with different cache formats are simulated separately; their sum is the step."""
    plan = PrecisionPlan.uniform("w=int4,a=int8,kv=int4", SPEC.plan_layer_names())
    plan = plan.with_layer("layers.1.self_attn.qk", "w=int4,a=int8,kv=int8")
    plan = plan.with_layer("layers.1.self_attn.av", "w=int4,a=int8,kv=int8")
    r = llm(SPEC, 8, 2, hw="default", plan=plan)
    assert r.summary()["kv_cache_bytes"] == 9 * 2 * 16 * (2 * 4 + 2 * 8) / 8  # positions·Hk·d·(block0 4b + block1 8b)
    hw = load_hw("default")
    want = 0.0
    for i, kv in ((0, ("int4", "int4")), (1, ("int8", "int8"))):
        g = block_graph(SPEC, i, 1, 1, 9, kv)
        want += simulate(g, hw, _sim_plan(g, plan, kv), "analytic").total["latency_s"]
    ends = ends_graph(SPEC, 1, 1, operand_cost("int4").storage_bits, "int8")
    want += simulate(ends, hw, _sim_plan(ends, plan, None), "analytic").total["latency_s"]
    assert r.decode[0].totals["latency_s"] == pytest.approx(want, rel=1e-12)

    from workloads import load_workload

    g = load_workload(f"hf:{tiny_cfg}", (8,))
    assert g.total_macs == 2 * (8 * 64 * (64 * 2 + 32 * 2) + 2 * 4 * 8 * 8 * 16 + 3 * 8 * 64 * 128) + 8 * 64 * 100
