"""Evolutionary multi-objective co-search of per-layer precision and accelerator parameters (pymoo)."""
from archsim.search.evaluate import OBJECTIVES, EvalContext, evaluate
from archsim.search.evaluator import Evaluator
from archsim.search.run import SearchResult, run_search, write_outputs
from archsim.search.space import DEFAULT_FORMATS, HW_GENES, SearchSpace, genome_hash
from archsim.search.store import EvalStore

__all__ = ["OBJECTIVES", "EvalContext", "evaluate", "Evaluator", "SearchResult", "run_search", "write_outputs",
           "DEFAULT_FORMATS", "HW_GENES", "SearchSpace", "genome_hash", "EvalStore"]
