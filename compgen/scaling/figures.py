"""PNG figures of a study (matplotlib, Agg)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from . import fits as F
from .plan import label


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    from ..fileio import write_atomic

    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    write_atomic(path, buf.getvalue(), force=True)
    return path


def _vals(d: dict | None) -> dict | None:
    return {k: v["value"] for k, v in d.items() if isinstance(v, dict) and "value" in v} if d else None


def _plain_minor(ax) -> None:
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())


def _pts(report, m):
    return [p for p in report["points"] if p["modality"] == m]


def bits_vs_params(report: dict, path: Path) -> Path:
    plt = _plt()
    mods = list(report["fits"])
    fig, axes = plt.subplots(1, len(mods), figsize=(5 * len(mods), 4), squeeze=False)
    budgets = report["checkpoints"]
    cmap = plt.get_cmap("viridis")
    for ax, m in zip(axes[0], mods, strict=False):
        pts = _pts(report, m)
        for j, b in enumerate(budgets):
            c = cmap(j / max(1, len(budgets) - 1))
            sel = sorted((p for p in pts if p["tokens"] == b), key=lambda p: p["params"])
            n = np.array([p["params"] for p in sel], dtype=float)
            ax.plot(n, [p["bits_per_byte"] for p in sel], "o", color=c, label=f"{label(b)} tokens")
            f = _vals(report["fits"][m]["size_by_checkpoint"].get(str(b)))
            if f:
                xs = np.geomspace(n.min() / 1.3, n.max() * 1.3, 100)
                ax.plot(xs, F.size_curve(f, xs), "-", color=c, lw=1,
                        label=f"  fit alpha={f['alpha']:.2f}")
        ax.set_xscale("log")
        _plain_minor(ax)
        ax.set_xlabel("parameters N")
        ax.set_ylabel("bits/byte (held-out, 2048-byte chunks)")
        ax.set_title(f"{m}: L(N) = E + A/N^alpha per checkpoint")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _save(fig, path)


def loss_vs_tokens(report: dict, path: Path) -> Path:
    plt = _plt()
    mods = list(report["fits"])
    fig, axes = plt.subplots(1, len(mods), figsize=(5 * len(mods), 4), squeeze=False)
    cmap = plt.get_cmap("plasma")
    sizes = report["sizes"]
    for ax, m in zip(axes[0], mods, strict=False):
        chin = _vals(report["fits"][m].get("chinchilla"))
        for i, s in enumerate(sizes):
            c = cmap(i / max(1, len(sizes) - 1) * 0.9)
            sel = sorted((p for p in _pts(report, m) if p["size"] == s["size"]), key=lambda p: p["tokens"])
            d = np.array([p["tokens"] for p in sel], dtype=float)
            ax.plot(d, [p["bits_per_byte"] for p in sel], "o-", color=c, label=f"{s['size']} ({s['params']:,})", lw=1)
            if chin:
                xs = np.geomspace(d.min(), d.max(), 60)
                ax.plot(xs, F.chinchilla_curve(chin, s["params"], xs), ":", color=c, lw=1)
        ax.set_xscale("log")
        _plain_minor(ax)
        ax.set_xlabel("tokens (bytes) seen D")
        ax.set_ylabel("bits/byte")
        ax.set_title(f"{m}: loss vs tokens (dotted: fit (c))")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def compute_frontier(report: dict, path: Path) -> Path:
    plt = _plt()
    m = "text" if "text" in report["frontier"] else next(iter(report["frontier"]))
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    pts = _pts(report, m)
    c = np.array([6.0 * p["params"] * p["tokens"] for p in pts])
    sc = ax.scatter(c, [p["bits_per_byte"] for p in pts], c=np.log10([p["params"] for p in pts]), cmap="viridis", s=18)
    fig.colorbar(sc, ax=ax, label="log10 parameters")
    rows = report["frontier"][m]
    ax.plot([r["compute"] for r in rows], [r["measured"]["bits_per_byte"] for r in rows], "k-", lw=1.5,
            label="best measured at <= C")
    fitted = [r for r in rows if r.get("fit") and r["fit"]["bits_per_byte"] is not None]
    if fitted:
        ax.plot([r["compute"] for r in fitted], [r["fit"]["bits_per_byte"] for r in fitted], "r--", lw=1.2,
                label="fit (c) optimum L(N*, C/6N*)")
    ax.set_xscale("log")
    ax.set_xlabel("training compute C = 6 N D (FLOPs)")
    ax.set_ylabel("bits/byte")
    ax.set_title(f"{m}: compute frontier")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def adjusted_curves(report: dict, path: Path) -> Path | None:
    adj = report.get("adjusted")
    if not adj:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(adj), figsize=(4 * len(adj), 3.8), squeeze=False, sharey=False)
    for ax, row in zip(axes[0], adj, strict=False):
        ms = sorted(row["models"], key=lambda m: m["params"])
        if not ms:  # no checkpoint near this many tokens and no fit (c) to extrapolate from
            ax.set_axis_off()
            ax.text(0.5, 0.5, f"data {label(row['data_bytes'])}B:\nno measurement, no fit", ha="center",
                    transform=ax.transAxes)
            continue
        n = [m["params"] for m in ms]
        for prec, style in (("float32", "o-"), ("bfloat16", "s--"), ("int8", "^:")):
            ax.plot(n, [100 * m["adjusted_rate"][prec] for m in ms], style, ms=4, lw=1, label=prec)
        ex = [m for m in ms if m["source"] != "measured"]
        if ex:
            ax.plot([m["params"] for m in ex], [100 * m["adjusted_rate"]["float32"] for m in ex], "o", mfc="none",
                    mec="red", ms=9, label="extrapolated (fit c)")
        ax.plot(n, [100 * m["raw_rate"] for m in ms], "k-", lw=0.8, alpha=0.5, label="raw rate")
        for (name, v), col in zip(sorted(row["codecs"].items()), ("tab:gray", "tab:brown", "tab:olive"), strict=False):
            ax.axhline(100 * v["rate"], color=col, ls="-." if v["measured"] else ":", lw=1, label=name)
        ax.set_xscale("log")
        _plain_minor(ax)
        ax.set_title(f"data {label(row['data_bytes'])}B: best {row['best'].get('float32', {}).get('size', '-')}", fontsize=9)
        ax.set_xlabel("parameters")
        ax.set_ylabel("adjusted rate %")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    return _save(fig, path)


def icl_vs_bits(report: dict, path: Path) -> Path | None:
    icl = report.get("icl")
    if not icl:
        return None
    plt = _plt()
    pts = [p for p in _pts(report, "text") if "icl_accuracy" in p]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    sc = ax.scatter([p["bits_per_byte"] for p in pts], [p["icl_accuracy"] for p in pts],
                    c=np.log10([p["params"] for p in pts]), cmap="viridis")
    fig.colorbar(sc, ax=ax, label="log10 parameters")
    ax.axhline(icl["chance"], color="red", ls=":", label=f"chance {icl['chance']:.2f}")
    c = icl["correlation_bits_per_byte_vs_accuracy"]
    r = "n/a" if c["r"] is None else f"{c['r']:.2f}" + (f" [{c['ci95'][0]:.2f}, {c['ci95'][1]:.2f}]" if c["ci95"] else "")
    ax.set_title(f"ICL accuracy vs text bits/byte: Pearson r = {r}", fontsize=9)
    ax.set_xlabel("text bits/byte")
    ax.set_ylabel(f"few-shot accuracy ({icl['shots']} shots)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def tokenization_figure(tok: dict, path: Path):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for budget, mk in (("equal-bytes", "o"), ("equal-compute", "s")):
        rows = [r for r in tok["rows"] if r["budget"] == budget]
        ax.plot([r["tokens_per_byte"] for r in rows], [r["bits_per_byte"] for r in rows], mk, label=budget)
        for r in rows:
            ax.annotate(r["tokenizer"], (r["tokens_per_byte"], r["bits_per_byte"]), fontsize=8,
                        textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel("tokens per byte")
    ax.set_ylabel("bits/byte")
    ax.set_title("tokenization: bits/byte vs tokens/byte")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def write_figures(report: dict, out: Path) -> list[Path]:
    out = Path(out)
    done = [bits_vs_params(report, out / "bits_vs_params.png"), loss_vs_tokens(report, out / "loss_vs_tokens.png"),
            compute_frontier(report, out / "compute_frontier.png"), adjusted_curves(report, out / "adjusted_rate.png"),
            icl_vs_bits(report, out / "icl_vs_bits.png")]
    if report.get("tokenization"):
        done.append(tokenization_figure(report["tokenization"], out / "tokenization.png"))
    return [p for p in done if p is not None]
