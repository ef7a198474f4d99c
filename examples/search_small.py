"""DSE example: a short co-search of per-layer precision and hardware for the Fashion-MNIST CNN.

    python examples/search_small.py [--out search_out]
"""
import argparse

from archsim.search import DEFAULT_FORMATS, EvalContext, SearchSpace, run_search, write_outputs
from quant.sensitivity import sensitivity_table
from workloads import load_workload
from workloads.train import load_trained


def main(out="search_out", generations=6, pop=16):
    g = load_workload("fashion_cnn")
    layers = [d["name"] for d in g.compute_layers()]
    sens = sensitivity_table(load_trained("fashion_cnn"), (1, 28, 28), DEFAULT_FORMATS)
    space = SearchSpace(layers)
    ctx = EvalContext(g.to_dict(), space, sens, ("latency", "energy"), max_error=0.01)
    res = run_search(ctx, generations=generations, pop=pop, seed=0)
    write_outputs(res, out, space=space)
    for f in res.front:
        print(f"{f['values']['latency'] * 1e6:8.2f} µs {f['values']['energy'] * 1e6:8.2f} µJ  {f['hw']}")
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="search_out")
    main(ap.parse_args().out)
