"""Scaling-law fits and their bootstrap intervals.

Three forms, as in the papers the study reproduces:

- ``size``        L(N) = E + A / N^alpha at one checkpoint (least squares on L);
- ``joint``       the Pythia study's L = c + a N^-alpha + b D^-beta (least squares on L);
- ``chinchilla``  Hoffmann et al. (2022): L(N, D) = E + A / N^alpha + B / D^beta fitted as
  log L = LSE(a - alpha log N, b - beta log D, e) with a Huber loss (delta 1e-3) on log L,
  L-BFGS from a grid of starts, E = e^e, A = e^a, B = e^b.

N is parameters, D tokens (bytes) seen. Intervals: every fit is redone on bootstrap
resamples of the evaluation chunks (the same chunk indices for every model and checkpoint,
so the models' shared chunk difficulty cancels as it should), and the 95 % interval is the
2.5 / 97.5 percentile of the refits.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Callable

import numpy as np

N0 = 1e6  # scale for the least-squares forms, so the optimiser sees numbers near 1
D0 = 1e6
HUBER_DELTA = 1e-3


# ------------------------------------------------------------------ (a) L(N) at one checkpoint
def _linear_given_alpha(x, y, alpha):
    """E, A >= 0 minimising the squared error of y ~ E + A x^-alpha (alpha fixed): nnls."""
    from scipy.optimize import nnls

    m = np.stack([np.ones_like(x), np.power(x, -alpha)], axis=1)
    coef, rnorm = nnls(m, y)
    return coef, rnorm * rnorm


def fit_size(n, loss) -> dict:
    """Least squares with alpha profiled out: for a fixed alpha, E and A (both >= 0) are a
    linear problem, so only alpha is searched (a log grid, then bounded Brent). Fast enough
    to refit hundreds of bootstrap resamples."""
    from scipy.optimize import minimize_scalar

    x = np.asarray(n, dtype=float) / N0
    y = np.asarray(loss, dtype=float)
    if len(set(x.tolist())) < 3:
        raise ValueError("a power-law fit needs at least 3 distinct model sizes")
    grid = np.geomspace(0.01, 4.0, 80)
    sse = [_linear_given_alpha(x, y, a)[1] for a in grid]
    i = int(np.argmin(sse))
    lo, hi = grid[max(0, i - 1)], grid[min(len(grid) - 1, i + 1)]
    res = minimize_scalar(lambda a: _linear_given_alpha(x, y, a)[1], bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-7})
    alpha = float(res.x) if res.fun <= sse[i] else float(grid[i])
    (e, a_s), _ = _linear_given_alpha(x, y, alpha)
    return {"E": float(e), "A": float(a_s) * N0 ** alpha, "alpha": alpha}


def size_curve(p: dict, n):
    return p["E"] + p["A"] / np.power(np.asarray(n, dtype=float), p["alpha"])


# ------------------------------------------------------------------ (b) Pythia's joint form
def _joint_linear(x, z, y, alpha, beta):
    """c, a, b >= 0 for fixed exponents (nnls); x = N/N0, z = D/D0."""
    from scipy.optimize import nnls

    m = np.stack([np.ones_like(x), np.power(x, -alpha), np.power(z, -beta)], axis=1)
    coef, rnorm = nnls(m, y)
    return coef, rnorm * rnorm


def fit_joint(n, d, loss, start: dict | None = None) -> dict:
    """Least squares on L with the linear coefficients (c, a, b >= 0) profiled out: a log grid
    over (alpha, beta), then bounded L-BFGS from the best cell (bootstrap refits: from ``start``)."""
    from scipy.optimize import minimize

    x, z, y = np.asarray(n, dtype=float) / N0, np.asarray(d, dtype=float) / D0, np.asarray(loss, dtype=float)
    if len(set(x.tolist())) < 2 or len(set(z.tolist())) < 2:
        raise ValueError("the joint fit needs >= 2 sizes and >= 2 token budgets")

    def sse(t):
        return _joint_linear(x, z, y, t[0], t[1])[1]

    if start is not None:
        t0 = np.array([start["alpha"], start["beta"]])
    else:
        grid = np.geomspace(0.02, 3.0, 24)
        vals = [(sse((a, b)), a, b) for a in grid for b in grid]
        _, a0, b0 = min(vals)
        t0 = np.array([a0, b0])
    res = minimize(sse, t0, method="L-BFGS-B", bounds=[(1e-3, 4.0), (1e-3, 4.0)])
    alpha, beta = (float(v) for v in (res.x if res.fun <= sse(t0) else t0))
    (c, a_s, b_s), _ = _joint_linear(x, z, y, alpha, beta)
    return {"c": float(c), "a": float(a_s) * N0 ** alpha, "alpha": alpha, "b": float(b_s) * D0 ** beta, "beta": beta}


def joint_curve(p: dict, n, d):
    n, d = np.asarray(n, dtype=float), np.asarray(d, dtype=float)
    return p["c"] + p["a"] * np.power(n, -p["alpha"]) + p["b"] * np.power(d, -p["beta"])


# ------------------------------------------------------------------ (c) Chinchilla, Huber on log L
def _huber_obj(theta, logn, logd, logl):
    a, b, e, alpha, beta = theta
    terms = np.stack([a - alpha * logn, b - beta * logd, np.full_like(logn, e)])
    m = terms.max(axis=0)
    w = np.exp(terms - m)
    s = w.sum(axis=0)
    lse = m + np.log(s)
    w = w / s
    r = lse - logl
    small = np.abs(r) <= HUBER_DELTA
    loss = np.where(small, 0.5 * r * r, HUBER_DELTA * (np.abs(r) - 0.5 * HUBER_DELTA)).sum()
    g = np.where(small, r, HUBER_DELTA * np.sign(r))
    grad = np.array([(g * w[0]).sum(), (g * w[1]).sum(), (g * w[2]).sum(),
                     (g * w[0] * -logn).sum(), (g * w[1] * -logd).sum()])
    return loss, grad


#: a coarse version of Hoffmann et al.'s grid of starting points (theirs has 4,500; each start
#: costs ~0.1-0.3 s here, and the least-squares joint fit adds one start that is usually best)
START_GRID = {"a": (4.0, 12.0), "b": (4.0, 12.0), "e": (-1.0, 0.5), "alpha": (0.5,), "beta": (0.5,)}


def _start(p: dict) -> tuple:
    return (np.log(max(p["A"], 1e-12)), np.log(max(p["B"], 1e-12)), np.log(max(p["E"], 1e-3)), p["alpha"], p["beta"])


def fit_chinchilla(n, d, loss, start: dict | None = None) -> dict:
    """Best of L-BFGS runs from :data:`START_GRID` and the joint least-squares fit (or from
    ``start`` alone: the bootstrap refits start at the full-data optimum)."""
    from scipy.optimize import minimize

    logn, logd, logl = (np.log(np.asarray(v, dtype=float)) for v in (n, d, loss))
    if start is not None:
        starts = [_start(start)]
    else:
        g = START_GRID
        starts = list(itertools.product(g["a"], g["b"], g["e"], g["alpha"], g["beta"]))
        try:
            j = fit_joint(n, d, loss)
            starts.insert(0, _start({"A": j["a"], "B": j["b"], "E": j["c"], "alpha": j["alpha"], "beta": j["beta"]}))
        except (ValueError, RuntimeError):
            pass
    best = None
    for s in starts:
        res = minimize(_huber_obj, np.array(s, dtype=float), args=(logn, logd, logl), jac=True, method="L-BFGS-B",
                       bounds=[(-10, 60), (-10, 60), (-10, 5), (0.0, 4.0), (0.0, 4.0)])
        if best is None or res.fun < best.fun - 1e-15:
            best = res
    a, b, e, alpha, beta = (float(v) for v in best.x)
    return {"E": float(np.exp(e)), "A": float(np.exp(a)), "alpha": alpha, "B": float(np.exp(b)), "beta": beta,
            "huber_loss": float(best.fun)}


def chinchilla_curve(p: dict, n, d):
    n, d = np.asarray(n, dtype=float), np.asarray(d, dtype=float)
    return p["E"] + p["A"] / np.power(n, p["alpha"]) + p["B"] / np.power(d, p["beta"])


# ------------------------------------------------------------------ bootstrap
def ci95(values) -> list[float] | None:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if len(v) < 10:
        return None
    lo, hi = np.percentile(v, [2.5, 97.5])
    return [float(lo), float(hi)]


#: where each form's parameters are held (a value there means the data did not pin it)
BOUNDS = {"size": {"E": (0.0, None), "A": (0.0, None), "alpha": (0.01, 4.0)},
          "joint": {"c": (0.0, None), "a": (0.0, None), "alpha": (1e-3, 4.0), "b": (0.0, None), "beta": (1e-3, 4.0)},
          "chinchilla": {"alpha": (0.0, 4.0), "beta": (0.0, 4.0), "E": (float(np.exp(-10)), float(np.exp(5))),
                         "A": (float(np.exp(-10)), None), "B": (float(np.exp(-10)), None)}}


def at_bound(form: str, p: dict) -> list[str]:
    """Names of the parameters of ``p`` that sit on a bound of their search range."""
    out = []
    for k, (lo, hi) in BOUNDS[form].items():
        v = p.get(k)
        if v is None:
            continue
        if (lo is not None and v <= lo + 1e-6 * max(1.0, abs(lo))) or (hi is not None and v >= hi * (1 - 1e-4)):
            out.append(k)
    return out


def with_intervals(point: dict, samples: list[dict], names) -> dict:
    """{name: {"value", "ci95"}} plus how many bootstrap refits succeeded."""
    out = {k: {"value": point[k], "ci95": ci95([s[k] for s in samples if s is not None])} for k in names}
    out["bootstrap_rounds"] = sum(s is not None for s in samples)
    return out


def bootstrap(n_chunks: int, rounds: int, seed: int, refit: Callable[[np.ndarray], dict | None]) -> list:
    """``refit(chunk_indices)`` on ``rounds`` resamples (with replacement); failures -> None."""
    rng = np.random.default_rng(seed)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(rounds):
            idx = rng.integers(0, n_chunks, n_chunks)
            try:
                out.append(refit(idx))
            except (ValueError, RuntimeError, FloatingPointError):
                out.append(None)
    return out


def pearson_ci(x, y, rounds: int = 2000, seed: int = 0) -> dict:
    """Pearson r and a 95 % bootstrap interval over the (x, y) pairs."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return {"r": None, "ci95": None, "n": int(len(x))}
    r = float(np.corrcoef(x, y)[0, 1])
    rng = np.random.default_rng(seed)
    rs = []
    for _ in range(rounds):
        i = rng.integers(0, len(x), len(x))
        if np.std(x[i]) > 0 and np.std(y[i]) > 0:
            rs.append(float(np.corrcoef(x[i], y[i])[0, 1]))
    return {"r": r, "ci95": ci95(rs), "n": int(len(x))}
