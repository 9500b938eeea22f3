"""Scaling: L(N) = E + A / N^alpha over model sizes, and the adjusted-rate view.

The fit runs on N / N0 (N0 = 1e6 parameters) so the optimiser sees numbers near 1;
A is reported in the original units. Uncertainties come from ``curve_fit``'s
covariance with each point's standard error over chunks (``absolute_sigma``), which
stays defined when there are exactly as many models as parameters.
"""

from __future__ import annotations

import math

import numpy as np

N0 = 1e6


def power_law(n, e, a, alpha):
    """L(N) = E + A / N^alpha."""
    return e + a / np.power(n, alpha)


def fit_power_law(n_params, values, sigma=None) -> dict:
    """Fit E, A, alpha; returns values, standard errors and the covariance (may be inf)."""
    from scipy.optimize import curve_fit

    n = np.asarray(n_params, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if len(n) < 3:
        raise ValueError("a power-law fit needs at least 3 model sizes")
    if len(set(n.tolist())) < 3:
        raise ValueError("a power-law fit needs at least 3 distinct model sizes")
    x = n / N0
    absolute = sigma is not None and all(s and s > 0 for s in sigma)
    sig = np.asarray(sigma, dtype=np.float64) if absolute else None
    e0 = max(0.0, float(y.min()) * 0.8)
    alpha0 = 0.5
    a0 = max(1e-6, float(y.max() - e0)) * float(x.min()) ** alpha0
    bounds = ([0.0, 0.0, 1e-3], [float(y.max()) * 2 + 1, np.inf, 5.0])
    import warnings

    from scipy.optimize import OptimizeWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        popt, pcov = curve_fit(lambda xx, e, a, al: e + a / np.power(xx, al), x, y, p0=[e0, a0, alpha0],
                               sigma=sig, absolute_sigma=absolute, bounds=bounds, maxfev=20000)
    e, a_scaled, alpha = (float(v) for v in popt)
    a = a_scaled * N0 ** alpha
    perr = np.sqrt(np.clip(np.diag(pcov), 0, None)) if np.all(np.isfinite(pcov)) else np.full(3, np.inf)
    # d(A)/d(a_scaled) = N0^alpha, d(A)/d(alpha) = A ln N0
    var_a = (N0 ** alpha) ** 2 * pcov[1, 1] + (a * math.log(N0)) ** 2 * pcov[2, 2] \
        + 2 * (N0 ** alpha) * a * math.log(N0) * pcov[1, 2] if np.all(np.isfinite(pcov)) else math.inf
    resid = y - power_law(n, e, a, alpha)
    at_bound = [name for name, v, lo, hi in zip(("E", "A", "alpha"), popt, bounds[0], bounds[1])
                if np.isclose(v, lo) or (np.isfinite(hi) and np.isclose(v, hi))]
    return {"E": e, "A": a, "alpha": alpha,
            "E_err": float(perr[0]), "A_err": float(math.sqrt(max(var_a, 0.0))) if math.isfinite(var_a) else math.inf,
            "alpha_err": float(perr[2]), "dof": int(len(n) - 3),
            "uncertainty": "from per-point standard errors (absolute_sigma)" if absolute
            else "from residual scatter" if len(n) > 3 else "undetermined (3 points, no standard errors)",
            "rms_residual": float(np.sqrt(np.mean(resid ** 2))), "n_points": int(len(n)),
            "at_bound": at_bound, "formula": "L(N) = E + A / N^alpha"}


def data_sizes(lo: float = 1e6, hi: float = 1e9, per_decade: int = 4) -> np.ndarray:
    decades = math.log10(hi) - math.log10(lo)
    return np.logspace(math.log10(lo), math.log10(hi), int(round(decades * per_decade)) + 1)


def adjusted_view(models: list[dict], sizes) -> dict:
    """Adjusted rate = rate + model_size / data_size for each model at each data size; best model per size.

    ``models``: dicts with label, raw_rate (fraction), model_size_bytes.
    """
    table = []
    for d in sizes:
        rates = {m["label"]: m["raw_rate"] + m["model_size_bytes"] / d for m in models}
        best = min(rates, key=rates.get)
        table.append({"data_bytes": float(d), "adjusted_rate": rates, "best": best})
    return {"data_bytes": [float(d) for d in sizes], "rows": table}


def plot_fit(points: list[dict], fit: dict | None, path, ylabel: str = "bits/byte") -> None:
    """Points (n_params, value, sem, label) with error bars and the fitted curve, log x."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    n = np.array([p["n_params"] for p in points], dtype=float)
    y = np.array([p["value"] for p in points])
    err = np.array([p.get("sem") or 0.0 for p in points])
    ax.errorbar(n, y, yerr=err, fmt="o", color="tab:blue", capsize=3, label="measured")
    for p in points:
        ax.annotate(p["label"], (p["n_params"], p["value"]), textcoords="offset points", xytext=(5, 5), fontsize=8)
    if fit is not None:
        xs = np.logspace(math.log10(n.min()) - 0.1, math.log10(n.max()) + 0.3, 200)
        bound = f" (at bound: {', '.join(fit['at_bound'])})" if fit.get("at_bound") else ""
        ax.plot(xs, power_law(xs, fit["E"], fit["A"], fit["alpha"]), color="tab:red",
                label=f"fit: E={fit['E']:.3f}±{fit['E_err']:.2g}, alpha={fit['alpha']:.3g}±{fit['alpha_err']:.2g}{bound}")
        ax.axhline(fit["E"], color="tab:red", ls=":", lw=0.8)
        span = max(float(y.max() - y.min()), float(err.max()) * 2, 0.05)
        ax.set_ylim(float(y.min()) - span, float(y.max()) + span)
    ax.set_xscale("log")
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("parameters N")
    ax.set_ylabel(ylabel)
    ax.set_title("L(N) = E + A / N^alpha")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def plot_adjusted(view: dict, models: list[dict], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    d = np.array(view["data_bytes"])
    dense = np.logspace(math.log10(d.min()), math.log10(d.max()), 200)
    for m in models:
        ax.plot(dense, 100 * (m["raw_rate"] + m["model_size_bytes"] / dense),
                ls="--" if not m["model_size_bytes"] else "-", label=m["label"])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("data size (bytes)")
    ax.set_ylabel("adjusted rate % = (output + model size) / data")
    ax.set_title("a bigger model only pays off on more data")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    _save(fig, path)


def _save(fig, path) -> None:
    import io

    import matplotlib.pyplot as plt

    from ..fileio import write_atomic

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    write_atomic(path, buf.getvalue(), force=True)


def scaling_analysis(summary: list[dict], fit_on: str = "payload", sizes=None) -> dict:
    """From bench summary rows (one mode): fit over models with n_params, adjusted view over all."""
    key = {"payload": "payload_bits_per_byte", "container": "bits_per_byte", "xent": "xent_bits_per_byte"}[fit_on]
    sem_key = {"payload": "payload_bits_per_byte_sem", "container": "bits_per_byte_sem", "xent": None}[fit_on]
    points = [{"label": r["label"], "n_params": r["n_params"], "value": r[key],
               "sem": r.get(sem_key) if sem_key else None, "model_size_bytes": r["model_size_bytes"]}
              for r in summary if r.get("n_params") and r.get(key) is not None]
    points.sort(key=lambda p: p["n_params"])
    fit, fit_error = None, None
    try:
        sig = [p["sem"] for p in points]
        fit = fit_power_law([p["n_params"] for p in points], [p["value"] for p in points],
                            sigma=sig if all(sig) else None)
    except (ValueError, RuntimeError) as exc:
        fit_error = str(exc)
    # the adjusted view uses the same measure as the fit (payload: range-coder output without the header)
    models = [{"label": r["label"], "raw_rate": r[key] / 8, "model_size_bytes": r["model_size_bytes"]}
              for r in summary if r.get(key) is not None]
    view = adjusted_view(models, data_sizes() if sizes is None else sizes)
    return {"fit_on": fit_on, "value_key": key, "points": points, "fit": fit, "fit_error": fit_error,
            "models": models, "adjusted_view": view}


def bootstrap_fit(units: list[dict], labels_by_spec: dict, n_params: dict, fit_on: str = "payload",
                  rounds: int = 200, seed: int = 0) -> dict | None:
    """Paired bootstrap over chunks: resample the same chunk indices for every model, refit.

    Chunks differ far more in difficulty than models differ from each other, and every
    model sees the same chunks, so resampling them jointly gives honest (correlated)
    uncertainties for the fit parameters. Returns std and 16/84 percentiles.
    """
    import warnings

    key = {"payload": "payload_bytes", "container": "output_bytes", "xent": "xent_bits"}[fit_on]
    scale = 1.0 if fit_on == "xent" else 8.0
    by_model: dict[str, dict] = {}
    for u in units:
        if u["spec"] in n_params and u.get(key) is not None:
            by_model.setdefault(u["spec"], {})[(u["file"], u["offset"])] = (scale * u[key], u["input_bytes"])
    specs = sorted(by_model, key=lambda s: n_params[s])
    if len(specs) < 3:
        return None
    common = sorted(set.intersection(*(set(by_model[s]) for s in specs)))
    if len(common) < 2:
        return None
    bits = np.array([[by_model[s][c][0] for c in common] for s in specs])
    size = np.array([[by_model[s][c][1] for c in common] for s in specs], dtype=float)
    ns = [n_params[s] for s in specs]
    rng = np.random.default_rng(seed)
    samples = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(rounds):
            idx = rng.integers(0, len(common), len(common))
            y = bits[:, idx].sum(axis=1) / size[:, idx].sum(axis=1)
            try:
                f = fit_power_law(ns, y)
            except (ValueError, RuntimeError):
                continue
            samples.append((f["E"], f["A"], f["alpha"]))
    if not samples:
        return None
    arr = np.array(samples)
    out = {"rounds": len(samples), "chunks": len(common)}
    for i, name in enumerate(("E", "A", "alpha")):
        out[f"{name}_std"] = float(arr[:, i].std(ddof=1))
        out[f"{name}_p16"], out[f"{name}_p84"] = (float(v) for v in np.percentile(arr[:, i], [16, 84]))
    # how often the biggest model beats the smallest / the middle one on the same chunks
    per = bits.sum(axis=1) / size.sum(axis=1)
    out["paired_diff_bpb"] = {f"{specs[i]} - {specs[i + 1]}": float(per[i] - per[i + 1]) for i in range(len(specs) - 1)}
    diffs = {}
    for i in range(len(specs) - 1):
        d = bits[i] / size[i] - bits[i + 1] / size[i + 1]
        diffs[f"{specs[i]} - {specs[i + 1]}"] = float(d.std(ddof=1) / np.sqrt(len(d)))
    out["paired_diff_sem"] = diffs
    return out
