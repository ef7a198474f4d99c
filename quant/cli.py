"""``archsim quantize`` / ``archsim evaluate``: a precision plan applied to a trained model with real data —
PTQ calibration, optional QAT, accuracy and per-layer weight SQNR."""
from __future__ import annotations

import sys
from pathlib import Path

DATA_MODELS = {"fashion_cnn": "fashion", "fashion_resnet": "fashion", "lenet5": "mnist5k"}


def quantize_command(args) -> int:
    """archsim quantize / evaluate: apply a plan to a model with data, calibrate, optionally QAT, report."""
    import json

    import torch

    from quant import QuantError
    from quant.plan import PrecisionPlan
    from quant.qmodel import calibrate, evaluate, qat, quantize_model, sqnr_db
    from workloads import WorkloadError

    if args.model not in DATA_MODELS:
        print(f"archsim {args.command}: model {args.model!r} has no trained weights and data here; "
              f"choose one of {', '.join(DATA_MODELS)}", file=sys.stderr)
        return 2
    try:
        from workloads.data import load_fashion_mnist, load_mnist_5k

        if DATA_MODELS[args.model] == "fashion":
            from workloads.train import load_trained

            model = load_trained(args.model)
            x, y = load_fashion_mnist("test", limit=args.limit)
            xtr, ytr = load_fashion_mnist("train", limit=4096)
        else:
            from workloads.pretrained import lenet5

            model = lenet5()
            x, y = load_mnist_5k(limit=args.limit, normalize=False, part="eval")
            xtr, ytr = load_mnist_5k(normalize=False, part="tune")  # the other half: never scored
        plan = PrecisionPlan.load(args.plan) if args.plan else args.precision
        q = quantize_model(model, plan, (1, 28, 28), first_last=args.first_last, method=args.method)
        calibrate(q, [xtr[i:i + 128] for i in range(0, args.calib, 128)])
        fp32, ptq = evaluate(model, x, y), evaluate(q, x, y)
        result = {"model": args.model, "plan": {n: str(p) for n, p in q.quant_plan.items()}, "fp32": fp32,
                  "ptq": ptq, "test_images": len(x)}
        if getattr(args, "qat_steps", 0):
            qat(q, xtr, ytr, steps=args.qat_steps)
            result["qat"] = evaluate(q, x, y)
    except (QuantError, WorkloadError) as exc:
        print(f"archsim {args.command}: {exc}", file=sys.stderr)
        return 2
    print(f"{args.model}: FP32 {fp32:.2%}, PTQ {ptq:.2%}" + (f", QAT {result['qat']:.2%}" if "qat" in result else "")
          + f" on {len(x)} test images")
    print(f"{'layer':12s} {'format':22s} {'weight SQNR dB':>15s}")
    from quant.fakequant import FakeQuantize
    from quant.qmodel import QuantConv

    for name, mod in q.named_modules():
        if isinstance(mod, QuantConv) and isinstance(mod.wq, FakeQuantize):
            w = mod.conv.weight.detach()
            qw = mod.wq(w).detach()
            print(f"{name:12s} {mod.wq.fmt_name + '/' + mod.aq.fmt_name:22s} {sqnr_db(w.numpy(), qw.numpy()):15.2f}")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "quantize.json").write_text(json.dumps(result, indent=1))
        q.quant_plan.save(out / "plan.yaml")
        torch.save({k: v for k, v in q.state_dict().items()}, out / "quantized_state.pt")
        print(f"wrote {out / 'quantize.json'}, {out / 'plan.yaml'}")
    return 0
