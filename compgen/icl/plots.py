"""PNG plots (matplotlib, Agg): accuracy vs shots per task, and the compression curve."""

from __future__ import annotations

import math
import os
from collections import defaultdict


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> None:
    """Write atomically; a 256-colour palette keeps the PNG ~3x smaller (plots use few colours)."""
    tmp = f"{path}.part.png"
    fig.savefig(tmp, dpi=80, bbox_inches="tight")
    try:
        from PIL import Image

        with Image.open(tmp) as im:
            small = im.convert("RGB").quantize(colors=256)
        small.save(tmp, optimize=True)
    except Exception:  # pillow missing or odd image: keep the full-colour file
        pass
    os.replace(tmp, path)


def plot_accuracy(rows: list[dict], path, metric: str = "accuracy") -> str:
    """One panel per task, one line per model, x = shots (0 at the left), chance dashed."""
    plt = _plt()
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    shots = sorted({r["shots"] for r in rows})
    xpos = {k: i for i, k in enumerate(shots)}  # even spacing: 0,1,2,4,8,... read as a log axis
    ncol = min(5, len(tasks))
    nrow = math.ceil(len(tasks) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.0 * ncol, 2.5 * nrow), squeeze=False, sharey=True)
    colors = plt.get_cmap("tab10")
    by = defaultdict(list)
    for r in rows:
        by[(r["task"], r["model"])].append(r)
    for ax, task in zip(axes.flat, tasks):
        for j, model in enumerate(models):
            pts = sorted(by.get((task, model), []), key=lambda r: r["shots"])
            if metric == "em":
                pts = [p for p in pts if p["em"] is not None]
            if not pts:
                continue
            x = [xpos[p["shots"]] for p in pts]
            y = [p[metric] for p in pts]
            ax.plot(x, y, marker="o", ms=3, lw=1.4, color=colors(j % 10), label=model)
            if metric == "accuracy":
                ax.fill_between(x, [p["ci_low"] for p in pts], [p["ci_high"] for p in pts],
                                color=colors(j % 10), alpha=0.10, lw=0)
        chance = [r["chance"] for r in rows if r["task"] == task]
        if chance and metric == "accuracy":
            ax.axhline(sum(chance) / len(chance), ls="--", color="grey", lw=1)
        ax.set_title(task, fontsize=10)
        ax.set_xticks(range(len(shots)))
        ax.set_xticklabels([str(k) for k in shots], fontsize=8)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy" if metric == "accuracy" else "exact match")
    for ax in axes[-1, :]:
        ax.set_xlabel("shots")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(models), 7), fontsize=9,
               bbox_to_anchor=(0.5, -0.02 - 0.02 * nrow))
    fig.suptitle("few-shot accuracy by conditional code length (dashed: chance)" if metric == "accuracy"
                 else "greedy exact match", fontsize=11)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return str(path)


def plot_curve(curves: list[dict], path, title: str = "") -> str:
    """bits/byte of each position bucket given the preceding bytes of its chunk."""
    return plot_curve_panels([(title or "in-context compression curve", curves)], path)


def plot_curve_panels(panels: list[tuple[str, list[dict]]], path, title: str = "") -> str:
    """One curve panel per data stream (text / image / audio), side by side in one PNG."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4), squeeze=False)
    for ax, (name, curves) in zip(axes[0], panels):
        _curve_axes(ax, curves, name)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return str(path)


def _curve_axes(ax, curves: list[dict], title: str) -> None:
    for c in curves:
        x = [p + c["bucket"] / 2 for p in c["positions"]]
        ax.errorbar(x, c["bits_per_byte"], yerr=c["stderr"], marker="o", ms=3, lw=1.4, capsize=2,
                    label=f"{c['model']} ({c['overall_bits_per_byte']:.2f} overall)")
    ax.set_xlabel("position in chunk (bytes, bucket centre)")
    ax.set_ylabel("bits / byte")
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)


def plot_ncd(rows: list[dict], path) -> str:
    """Bar chart of NCD-kNN top-1 accuracy per model."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.2 * len(rows) + 2, 3.2))
    ax.bar([r["model"] for r in rows], [r["accuracy"] for r in rows],
           yerr=[[r["accuracy"] - r["ci_low"] for r in rows], [r["ci_high"] - r["accuracy"] for r in rows]],
           color="tab:blue", alpha=0.8, capsize=3)
    if rows:
        ax.axhline(rows[0]["chance"], ls="--", color="grey", lw=1)
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"top-1 accuracy (k={rows[0]['k'] if rows else '?'})")
    ax.set_title("NCD + kNN classification (dashed: chance)", fontsize=11)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return str(path)
