"""A whole benchmark job: measure, check against the CLIs, optional scaling analysis, write files.

Shared by ``cgz bench`` and ``benchmarks/*.py`` so both produce the same artefacts.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UsageError
from .machine import describe, machine_info
from .runner import BenchConfig, run_bench


def run_job(cfg: BenchConfig, cli_check: bool = True, scaling: str | None = None) -> dict:
    """Run ``cfg``; add machine info, library-vs-CLI sizes (whole mode) and, with ``scaling``
    ("payload" | "container" | "xent"), the power-law fit and adjusted-rate view."""
    from .report import add_labels

    machine = machine_info()
    result = run_bench(cfg)
    result["machine"] = machine
    result["machine_line"] = describe(machine)
    add_labels(result["summary"])
    add_labels(result["per_file"])
    if cli_check and "whole" in cfg.modes:
        from .clicheck import compare
        from ..data import Options, load_units, parse_data_spec

        wholes = load_units([parse_data_spec(d) for d in cfg.data], "whole",
                            Options(chunk=cfg.chunk, patch=tuple(cfg.patch), tail=cfg.tail), cfg.max_bytes)
        result["cli_check"] = compare(cfg.specs, wholes)
    if scaling:
        from .scaling import scaling_analysis

        mode = "chunked" if "chunked" in cfg.modes else cfg.modes[0]
        sc = scaling_analysis([r for r in result["summary"] if r["mode"] == mode], scaling)
        sc["mode"] = mode
        from .scaling import bootstrap_fit

        n_params = {r["spec"]: r["n_params"] for r in result["summary"] if r["mode"] == mode and r.get("n_params")}
        sc["bootstrap"] = bootstrap_fit([u for u in result["units"] if u["mode"] == mode], {}, n_params, scaling)
        if len(sc["points"]) < 3:
            raise UsageError(f"scaling needs at least 3 models with a parameter count (got {len(sc['points'])})")
        result["scaling"] = sc
    return result


def fit_line(sc: dict) -> str:
    fit = sc.get("fit")
    if not fit:
        return f"fit failed: {sc.get('fit_error')}"
    bs = sc.get("bootstrap")
    boot = "" if not bs else (
        f"\npaired bootstrap over {bs['chunks']} chunks ({bs['rounds']} rounds), 16-84%: "
        f"E {bs['E_p16']:.3f}..{bs['E_p84']:.3f}, alpha {bs['alpha_p16']:.3g}..{bs['alpha_p84']:.3g}; "
        "paired differences (bits/byte): " + ", ".join(
            f"{k}: {v:+.3f} ± {bs['paired_diff_sem'][k]:.3f}" for k, v in bs["paired_diff_bpb"].items()))
    return (f"L(N) = {fit['E']:.4f} ± {fit['E_err']:.2g} + {fit['A']:.4g} ± {fit['A_err']:.2g} / "
            f"N^({fit['alpha']:.4f} ± {fit['alpha_err']:.2g})  [{sc['value_key']}, {sc['mode']}; {fit['uncertainty']}; "
            f"rms residual {fit['rms_residual']:.2g}" + (f"; at bound: {', '.join(fit['at_bound'])}" if fit["at_bound"] else "")
            + "]" + boot)


def adjusted_markdown(sc: dict) -> str:
    from .report import fmt_rate

    models = sc["models"]
    lines = ["| data size | " + " | ".join(m["label"] for m in models) + " | best |",
             "|---:|" + "---:|" * len(models) + "---|"]
    for row in sc["adjusted_view"]["rows"]:
        d = row["data_bytes"]
        size = f"{d / 1e9:.3g} GB" if d >= 1e9 else f"{d / 1e6:.3g} MB"
        lines.append(f"| {size} | " + " | ".join(fmt_rate(row["adjusted_rate"][m["label"]]) for m in models)
                     + f" | {row['best']} |")
    return "\n".join(lines) + "\n"


def points_markdown(sc: dict) -> str:
    lines = ["| model | parameters | weights (bytes) | " + sc["value_key"].replace("_", " ") + " | ± (s.e.m.) |",
             "|---|---:|---:|---:|---:|"]
    for p in sc["points"]:
        sem = "-" if p.get("sem") is None else f"{p['sem']:.3f}"
        lines.append(f"| {p['label']} | {p['n_params']:,} | {p['model_size_bytes']:,} | {p['value']:.3f} | {sem} |")
    return "\n".join(lines) + "\n"


def write_job(result: dict, out_dir: Path, plots: bool = True) -> list[Path]:
    from ..fileio import write_atomic
    from .report import write_outputs

    written = write_outputs(result, out_dir, plots=plots)
    sc = result.get("scaling")
    if sc:
        md = ["# cgz bench scaling\n", f"Machine: {result['machine_line']}\n", fit_line(sc) + "\n",
              points_markdown(sc), "\nAdjusted rate % (rate + model size / data size):\n", adjusted_markdown(sc),
              f"\n```json\n{json.dumps(sc['fit'], indent=1)}\n```\n"]
        write_atomic(out_dir / "scaling.md", "\n".join(md).encode(), force=True)
        written.append(out_dir / "scaling.md")
        if plots:
            from .scaling import plot_adjusted, plot_fit

            plot_fit(sc["points"], sc["fit"], out_dir / "scaling_fit.png", ylabel=sc["value_key"].replace("_", " "))
            plot_adjusted(sc["adjusted_view"], sc["models"], out_dir / "scaling_adjusted.png")
            written += [out_dir / "scaling_fit.png", out_dir / "scaling_adjusted.png"]
    return written
