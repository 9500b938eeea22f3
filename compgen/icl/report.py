"""Aggregate item results into rows; print them (rich) and write JSON / CSV."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict

import numpy as np

from ..fileio import write_atomic
from .scoring import wilson


def aggregate(items, models: list[str], results: dict) -> list[dict]:
    """One row per (task, model, shots): accuracy + 95% CI, chance, exact match, spread over seeds."""
    cells: dict = defaultdict(list)
    for it in items:
        for spec in models:
            r = results.get((spec, it.key()))
            if r is not None:
                cells[(it.task, spec, it.shots)].append((it, r))
    rows = []
    for (task, spec, shots), pairs in cells.items():
        scores = np.array([r["score"] for _, r in pairs])
        acc = float(scores.mean())
        lo, hi = wilson(acc, len(scores))
        ems = [r["em"] for _, r in pairs if r.get("em") is not None]
        per_seed = defaultdict(list)
        for it, r in pairs:
            per_seed[it.seed].append(r["score"])
        rows.append({
            "task": task, "model": spec, "shots": shots, "n": len(scores),
            "accuracy": acc, "ci_low": lo, "ci_high": hi,
            "chance": float(np.mean([it.chance for it, _ in pairs])),
            "tie_rate": float(np.mean([r["tied"] > 1 for _, r in pairs])),
            "em_n": len(ems), "em": float(np.mean(ems)) if ems else None,
            "seed_accuracy": {str(s): float(np.mean(v)) for s, v in sorted(per_seed.items())},
            "seconds": float(sum(r.get("seconds", 0.0) for _, r in pairs)),
            "em_seconds": float(sum(r.get("em_seconds", 0.0) for _, r in pairs)),
        })
    order = {t: i for i, t in enumerate(dict.fromkeys(it.task for it in items))}
    morder = {m: i for i, m in enumerate(models)}
    rows.sort(key=lambda r: (order[r["task"]], morder.get(r["model"], 99), r["shots"]))
    return rows


def print_table(rows: list[dict], console=None, metric: str = "accuracy") -> None:
    """Task x model rows, one column per shot count: ``acc [lo-hi]``; then chance."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    shots = sorted({r["shots"] for r in rows})
    title = ("multiple choice accuracy by code length (95% CI), ties count 1/k" if metric == "accuracy"
             else "greedy exact match (expected, ties at random)")
    table = Table(title=title)
    table.add_column("task")
    table.add_column("model")
    for k in shots:
        table.add_column(f"{k}-shot", justify="right")
    if metric == "accuracy":
        table.add_column("chance", justify="right")
    by = defaultdict(dict)
    for r in rows:
        by[(r["task"], r["model"])][r["shots"]] = r
    last_task = None
    for (task, model), cells in by.items():
        if metric == "em" and all(c["em"] is None for c in cells.values()):
            continue
        out = []
        for k in shots:
            c = cells.get(k)
            if c is None or (metric == "em" and c["em"] is None):
                out.append("")
            elif metric == "em":
                out.append(f"{c['em']:.2f} (n={c['em_n']})")
            else:
                text = f"{c['accuracy']:.2f} [{c['ci_low']:.2f}-{c['ci_high']:.2f}]"
                good = c["ci_low"] > c["chance"]
                out.append(f"[green]{text}[/]" if good else text)
        chance = next(iter(cells.values()))["chance"]
        tail = [f"{chance:.2f}"] if metric == "accuracy" else []
        table.add_row(task if task != last_task else "", model, *out, *tail)
        last_task = task
    console.print(table)


CSV_FIELDS = ["task", "model", "shots", "n", "accuracy", "ci_low", "ci_high", "chance", "tie_rate",
              "em_n", "em", "seconds", "em_seconds"]


def to_csv(rows: list[dict], fields=CSV_FIELDS) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else (f"{r[k]:.6g}" if isinstance(r.get(k), float) else r[k]))
                    for k in fields})
    return buf.getvalue().encode()


def write_outputs(outdir, name: str, payload: dict, rows: list[dict], fields=CSV_FIELDS) -> list[str]:
    """``<name>.json`` (config + rows) and ``<name>.csv`` (rows), written atomically."""
    from pathlib import Path

    outdir = Path(outdir)
    write_atomic(outdir / f"{name}.json", json.dumps(payload, indent=2).encode(), force=True)
    write_atomic(outdir / f"{name}.csv", to_csv(rows, fields), force=True)
    return [str(outdir / f"{name}.json"), str(outdir / f"{name}.csv")]
