"""Markdown and CSV tables of a study (rows = sizes, columns = checkpoints, one per modality)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .plan import label


def grid(report: dict, modality: str) -> tuple[list[str], list[list]]:
    """Header and rows of the Pythia-style table for ``modality``."""
    budgets = report["checkpoints"]
    head = ["size", "params", "non-embedding"] + [f"{label(b)} tokens" for b in budgets]
    by = {(p["size"], p["tokens"]): p["bits_per_byte"] for p in report["points"] if p["modality"] == modality}
    rows = []
    for s in report["sizes"]:
        rows.append([s["size"], s["params"], s["non_embedding_params"]] + [by.get((s["size"], b)) for b in budgets])
    return head, rows


def markdown(head: list[str], rows: list[list], digits: int = 3) -> str:
    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.{digits}f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" if i else "---" for i in range(len(head))) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def to_csv(head: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    w.writerows(rows)
    return buf.getvalue()


def _ci(v: dict | None, key: str) -> str:
    if not v or key not in v:
        return "-"
    x = v[key]
    ci = x.get("ci95")
    return f"{x['value']:.3g} [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else f"{x['value']:.3g}"


def _bound(f: dict) -> str:
    return f" (at bound: {', '.join(f['at_bound'])}: not pinned by the data)" if f.get("at_bound") else ""


def fits_markdown(report: dict) -> str:
    lines = ["| modality | form | parameters (95 % bootstrap interval) |", "|---|---|---|"]
    for m, f in report["fits"].items():
        if f.get("size"):
            lines.append(f"| {m} | (a) L(N) = E + A/N^alpha at {label(f['size']['tokens'])} tokens | "
                         f"alpha {_ci(f['size'], 'alpha')}, E {_ci(f['size'], 'E')}, A {_ci(f['size'], 'A')}"
                         f"{_bound(f['size'])} |")
        if f.get("joint"):
            lines.append(f"| {m} | (b) L = c + a N^-alpha + b D^-beta | alpha {_ci(f['joint'], 'alpha')}, "
                         f"beta {_ci(f['joint'], 'beta')}, c {_ci(f['joint'], 'c')}{_bound(f['joint'])} |")
        if f.get("chinchilla"):
            lines.append(f"| {m} | (c) E + A/N^alpha + B/D^beta (Huber, log L) | alpha {_ci(f['chinchilla'], 'alpha')}, "
                         f"beta {_ci(f['chinchilla'], 'beta')}, E {_ci(f['chinchilla'], 'E')}"
                         f"{_bound(f['chinchilla'])} |")
    falls = [m for m, f in report["fits"].items() if not f.get("falls_with_size_at_last_checkpoint")]
    if falls:
        lines.append(f"\nbits/byte does not fall with size at the last checkpoint on: {', '.join(falls)}")
    return "\n".join(lines)


def alpha_by_checkpoint(report: dict, modality: str = "text") -> str:
    lines = ["| tokens | alpha (95 % CI) | E (95 % CI) |", "|---:|---|---|"]
    for b, f in report["fits"][modality]["size_by_checkpoint"].items():
        lines.append(f"| {label(int(b))} | {_ci(f, 'alpha')} | {_ci(f, 'E')} |")
    return "\n".join(lines)


def adjusted_markdown(report: dict) -> str:
    adj = report.get("adjusted")
    if not adj:
        return ""
    sizes = [s["size"] for s in report["sizes"]]
    head = ["data", *sizes, "gzip", "xz", "PPMd", "best (fp32)", "best (bf16)", "best (int8)"]
    rows = []
    for r in adj:
        by = {m["size"]: m for m in r["models"]}
        cells = [label(r["data_bytes"]) + "B"]
        for s in sizes:
            m = by.get(s)
            cells.append("-" if m is None else f"{100 * m['adjusted_rate']['float32']:.1f}"
                         + ("" if m["source"] == "measured" else "*"))
        for c in ("gzip", "xz", "ppmd"):
            v = r["codecs"].get(c)
            cells.append("-" if v is None else f"{100 * v['rate']:.1f}" + ("" if v["measured"] else "\u2020"))
        for prec in ("float32", "bfloat16", "int8"):
            b = r["best"].get(prec)
            cells.append("-" if b is None else b["size"] + ("" if b["source"] == "measured" else "*"))
        rows.append(cells)
    note = ("\nadjusted rate % = 100 x (bits/byte / 8 + model bytes / data bytes), model at float32; "
            "* = rate from fit (c) (no checkpoint near that many tokens), \u2020 = codec rate measured on less data")
    return markdown(head, rows) + "\n" + note


def coded_markdown(report: dict) -> str:
    rows = []
    for p in report["points"]:
        c = p.get("coded")
        if c:
            rows.append([p["size"], p["modality"], c["chunks"], c["teacher_forced_bits_per_byte"], c["payload_bits_per_byte"],
                         c["bits_per_byte"], "yes" if c["all_verified"] else "NO"])
    if not rows:
        return ""
    return markdown(["size", "modality", "chunks", "teacher-forced", "range-coded payload", "whole .cg file", "round trip exact"], rows)


def icl_markdown(report: dict) -> str:
    icl = report.get("icl")
    if not icl:
        return ""
    c = icl["correlation_bits_per_byte_vs_accuracy"]
    r = "undefined (no spread)" if c["r"] is None else (
        f"{c['r']:.2f}" + (f" [{c['ci95'][0]:.2f}, {c['ci95'][1]:.2f}]" if c["ci95"] else ""))
    lo, hi = icl["mean_accuracy_ci95"]
    return (f"ICL ({icl['items_per_checkpoint']} items per checkpoint, {icl['shots']} shots): mean accuracy "
            f"{icl['mean_accuracy']:.3f} [{lo:.3f}, {hi:.3f}] vs chance {icl['chance']:.3f}"
            f"{' (at chance)' if icl['at_chance'] else ''}; Pearson r(text bits/byte, accuracy) over "
            f"{c['n']} checkpoints = {r}")


def write_tables(report: dict, out: Path, timings: dict | None = None) -> list[Path]:
    from ..fileio import write_atomic

    out = Path(out)
    parts = ["# Scaling study\n"]
    written = []
    for m in report["fits"]:
        head, rows = grid(report, m)
        write_atomic(out / f"table_{m}.csv", to_csv(head, rows).encode(), force=True)
        written.append(out / f"table_{m}.csv")
        parts.append(f"## {m}: bits/byte (teacher-forced, {report['evaluation'][m]['chunks']} chunks of "
                     f"{report['evaluation'][m]['chunk_bytes']} bytes)\n\n" + markdown(head, rows) + "\n")
    parts.append("## Fits\n\n" + fits_markdown(report) + "\n")
    if "text" in report["fits"]:
        parts.append("## text: alpha of (a) at each checkpoint\n\n" + alpha_by_checkpoint(report) + "\n")
    for title, text in (("Adjusted rate", adjusted_markdown(report)), ("Coded and verified chunks", coded_markdown(report)),
                        ("Compression vs ICL", icl_markdown(report))):
        if text:
            parts.append(f"## {title}\n\n{text}\n")
    if report.get("tokenization"):
        speed = {(t["tokenizer"], t["budget"]): t for t in (timings or {}).get("tok", [])}
        parts.append("## Tokenization\n\n" + tokenization_markdown(report["tokenization"], speed) + "\n")
    write_atomic(out / "tables.md", "\n".join(parts).encode(), force=True)
    written.append(out / "tables.md")
    return written


def tokenization_markdown(tok: dict, speed: dict | None = None) -> str:
    """The table; ``speed`` ({(tokenizer, budget): timing}) adds training time and scoring speed."""
    speed = speed or {}
    rows = []
    for r in tok["rows"]:
        t = speed.get((r["tokenizer"], r["budget"]))
        rows.append([r["tokenizer"], r["budget"], r["params"], r["bits_per_byte"], r["tokens_per_byte"],
                     r["bits_per_token"], r["perplexity_per_token"], label(r["train_bytes"]), label(r["train_tokens"]),
                     None if t is None else round(t["train_s"]), None if t is None else round(t["eval_bytes_per_s"])])
    return markdown(["tokenizer", "budget", "params", "bits/byte", "tokens/byte", "bits/token", "perplexity/token",
                     "train bytes", "train tokens", "train s", "scoring bytes/s"], rows) + \
        f"\n\n{tok['relation']} (size {tok['size']}; times and speeds depend on the load)"
