"""Train the project's Fashion-MNIST models on the CPU and write their weights (committed to the repo).

    python -m workloads.train --model fashion_cnn --epochs 3
    python -m workloads.train --model fashion_resnet --epochs 3

Deterministic for a seed. Writes workloads/weights/<model>.pt and <model>.json (test accuracy, command).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from workloads.data import load_fashion_mnist
from workloads.zoo import get_model

WEIGHTS_DIR = Path(__file__).parent / "weights"


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out = model(torch.from_numpy(x[i:i + batch]))
            correct += int((out.argmax(1).numpy() == y[i:i + batch]).sum())
    return correct / len(x)


def train(name: str, epochs: int = 3, seed: int = 0, batch: int = 128, lr: float = 2e-3, threads: int = 2,
          out_dir: Path = WEIGHTS_DIR) -> dict:
    from tqdm import tqdm

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    model, _ = get_model(name)
    xtr, ytr = load_fashion_mnist("train")
    xte, yte = load_fashion_mnist("test")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * (len(xtr) // batch))
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for ep in range(epochs):
        model.train()
        order = rng.permutation(len(xtr))
        bar = tqdm(range(len(xtr) // batch), desc=f"{name} epoch {ep + 1}/{epochs}", file=sys.stderr)
        for b in bar:
            idx = order[b * batch:(b + 1) * batch]
            xb, yb = torch.from_numpy(xtr[idx]), torch.from_numpy(ytr[idx])
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if b % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}")
    acc = evaluate(model, xte, yte)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out_dir / f"{name}.pt")
    meta = {"model": name, "test_accuracy": acc, "epochs": epochs, "seed": seed, "batch": batch, "lr": lr,
            "train_seconds": round(time.perf_counter() - t0, 1),
            "command": f"python -m workloads.train --model {name} --epochs {epochs} --seed {seed}"}
    (out_dir / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def load_trained(name: str) -> nn.Module:
    """A zoo model with the committed trained weights."""
    from workloads.errors import WorkloadError

    path = WEIGHTS_DIR / f"{name}.pt"
    if not path.exists():
        raise WorkloadError(f"no trained weights for {name!r} at {path}; train with "
                            f"`python -m workloads.train --model {name}`")
    model, _ = get_model(name)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="fashion_cnn", choices=["fashion_cnn", "fashion_resnet"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    meta = train(args.model, args.epochs, args.seed, threads=args.threads)
    print(json.dumps(meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
