"""``archsim llm``: TTFT, TPOT, tokens/s, energy and DRAM bytes per token of an LLM on an accelerator."""
from __future__ import annotations

import json
import sys


def _run(args) -> int:
    from archsim import ArchsimError, load_hw
    from archsim.config import parse_set
    from archsim.llm import llm
    from quant import QuantError
    from quant.plan import PrecisionPlan
    from workloads import WorkloadError

    try:
        hw = load_hw(args.hw, parse_set(args.set))
        plan = PrecisionPlan.load(args.plan) if args.plan else args.precision
        res = llm(args.model, args.prompt, args.generate, batch=args.batch, hw=hw, plan=plan, engine=args.engine,
                  decode_samples=args.decode_samples)
    except (ArchsimError, WorkloadError, QuantError) as exc:
        print(f"archsim llm: {exc}", file=sys.stderr)
        return 2
    if args.out:
        out = res.save(args.out)
        if not args.json:
            print(f"wrote {out}/llm.md, llm.json, time_per_token.png, roofline.png")
    if args.json:
        print(json.dumps(res.summary()))
    else:
        print(res.to_markdown().split("\n## One prefill")[0])
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("llm", help="LLM inference: prefill + decode with a KV cache (TTFT, TPOT, tokens/s)")
    p.add_argument("--model", required=True,
                   help="a shipped LLM config (llama-2-7b, llama-3.2-1b, qwen2.5-0.5b, mistral-7b) or "
                        "hf:PATH/config.json (no weights, no download)")
    p.add_argument("--prompt", type=int, required=True, help="prompt tokens P (prefill)")
    p.add_argument("--generate", type=int, required=True, help="generated tokens G (prefill gives the first)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--hw", default="edge_llm", help="shipped config (edge_llm, datacenter_llm, default, …) or YAML")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a hardware key")
    grp = p.add_mutually_exclusive_group()
    grp.add_argument("--precision", default="int8", help="uniform plan: int8, w=int4,a=int8,kv=int4, …")
    grp.add_argument("--plan", default=None, help="a precision plan file (YAML/JSON), names as in llm.md")
    p.add_argument("--engine", choices=("des", "analytic"), default="analytic")
    p.add_argument("--decode-samples", type=int, default=None,
                   help="simulate this many decode contexts and interpolate the rest (default: every step)")
    p.add_argument("--out", default=None, help="write llm.md, llm.json and plots here")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run)
