"""The compute frontier: for budgets C = 6 N D, the best measured (N, D) and the fit's optimum."""

from __future__ import annotations

import math

import numpy as np

from .fits import chinchilla_curve


def fit_optimum(p: dict, compute: float) -> dict:
    """argmin over N of L(N, C / 6N) for L = E + A/N^alpha + B/D^beta (closed form)."""
    a, b = p["alpha"], p["beta"]
    if a <= 0 or b <= 0:
        return {"params": None, "tokens": None, "bits_per_byte": None}
    if p["A"] <= 0 or p["B"] <= 0:
        return {"params": None, "tokens": None, "bits_per_byte": None}
    # in logs: a degenerate fit (an exponent near 0) would overflow the power
    log_n = (math.log(a * p["A"]) - math.log(b * p["B"])) / (a + b) + b / (a + b) * math.log(compute / 6.0)
    if not -1 < log_n < math.log(compute / 6.0) + 1:  # the optimum leaves the range where D >= 1 and N >= 1
        return {"params": None, "tokens": None, "bits_per_byte": None}
    n = math.exp(log_n)
    d = compute / (6.0 * n)
    return {"params": float(n), "tokens": float(d), "bits_per_byte": float(chinchilla_curve(p, n, d))}


def frontier(points: list[dict], chin: dict | None, per_decade: int = 4) -> list[dict]:
    """``points``: dicts with params, tokens, bits_per_byte (one modality)."""
    if not points:
        return []
    flops = np.array([6.0 * p["params"] * p["tokens"] for p in points])
    lo, hi = np.log10(flops.min()), np.log10(flops.max())
    budgets = np.logspace(lo, hi, max(2, int(round((hi - lo) * per_decade)) + 1))
    rows = []
    for c in budgets:
        ok = [p for p, f in zip(points, flops, strict=True) if f <= c * (1 + 1e-9)]
        best = min(ok, key=lambda p: p["bits_per_byte"])
        row = {"compute": float(c), "measured": {"size": best["size"], "params": best["params"],
                                                 "tokens": best["tokens"], "bits_per_byte": best["bits_per_byte"]}}
        row["fit"] = fit_optimum(chin, float(c)) if chin else None
        rows.append(row)
    return rows
