"""LLM inference: prefill and decode phases with a KV cache of its own precision (``archsim.llm.llm``)."""
from archsim.llm.result import LLMResult
from archsim.llm.run import llm, simulate_step
from archsim.llm.spec import TransformerSpec, block_graph, ends_graph

__all__ = ["llm", "LLMResult", "TransformerSpec", "simulate_step", "block_graph", "ends_graph"]
