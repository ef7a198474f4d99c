"""Plots of an LLM run: time per token against context length (with its DRAM floor), and the roofline with
each phase's position."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def time_per_token_plot(results, path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for r in results:
        if not r.decode:
            continue
        ctx = [s.context for s in r.decode]
        label = f"{r.spec.name} {r.summary()['plan']} B={r.batch}"
        line, = ax.plot(ctx, [s.totals["latency_s"] * 1e3 for s in r.decode], label=label)
        ax.plot(ctx, [s.floor_s(r.hw)["floor_s"] * 1e3 for s in r.decode], ls=":", color=line.get_color())
    ax.set_xlabel("context length (positions in the KV cache)")
    ax.set_ylabel("decode step latency (ms); dotted: physical floor")
    ax.set_title(f"Time per output token on {results[0].hw.name}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def roofline_plot(r, path) -> None:
    """Attained MAC/s against MACs per DRAM byte, per phase, under the machine's roofline at the plan's
    precision (peak = rows·cols·fusion·clock of the widest-fusion layer of the step)."""
    hw = r.hw
    clock = hw.clock_mhz * 1e6
    bw = hw.dram_bytes_per_cycle * clock
    fusion = max((x.get("fusion", 1) or 1) for x in r.prefill.layers)
    peak = hw.array.rows * hw.array.cols * fusion * clock
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [10 ** (i / 10) for i in range(-20, 51)]
    ax.loglog(xs, [min(peak, x * bw) for x in xs], color="k", lw=1, label="roofline")
    for name, t in r.phase_totals().items():
        if not t["steps"]:
            continue
        inten = t["macs"] / max(t["dram_read_bytes"] + t["dram_write_bytes"], 1)
        ax.loglog([inten], [t["macs"] / t["latency_s"]], "o", label=f"{name}")
    ax.set_xlabel("arithmetic intensity (MAC per DRAM byte)")
    ax.set_ylabel("MAC/s")
    ax.set_title(f"{r.spec.name} on {hw.name}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
