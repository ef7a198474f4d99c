"""The LLM report generator on a reduced grid (the committed report runs the full one)."""
from archsim import llm_report


def test_report_on_a_small_grid(tmp_path, monkeypatch):
    monkeypatch.setattr(llm_report, "MODELS", ("qwen2.5-0.5b",))
    monkeypatch.setattr(llm_report, "HWS", ("edge_llm",))
    monkeypatch.setattr(llm_report, "PROMPT", 16)
    monkeypatch.setattr(llm_report, "GENERATE", 5)
    monkeypatch.setattr(llm_report, "BATCHES", (1,))
    monkeypatch.setattr(llm_report, "SAMPLES", (2,))
    monkeypatch.setattr(llm_report, "plans", lambda: [("INT8", "int8"), ("W4A8-KV4 int4", "w=int4,a=int8,kv=int4")])
    text = llm_report.build(tmp_path).read_text()
    assert "python -m archsim.llm_report --out reports" in text
    rows = [r for r in text.splitlines() if r.startswith("| qwen2.5-0.5b | edge_llm |")]
    assert len(rows) == 2 + 1  # two precisions + the targets row
    assert "| edge_llm | fusion | systolic | WS |" in text and "| edge_llm | binary | bitfusion | WS |" in text
    assert "2 of 4" in text
    assert (tmp_path / "llm_tpot_edge_llm.png").stat().st_size > 0
