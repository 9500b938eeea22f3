"""From unit results to scaling.json, tables and figures.

Everything in scaling.json is a deterministic function of the unit results (no timings,
no absolute paths), so a resumed study or one run on another executor writes the same
file byte for byte. Timings go to timings.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import fits as F
from .adjusted import adjusted_view, codec_rates
from .frontier import frontier
from .plan import Study

SCHEMA = 1


def _r(x, nd: int = 6):
    """Round floats so tiny platform noise in a fit's last digits stays out of the file."""
    if isinstance(x, float):
        return float(f"{x:.{nd}g}")
    if isinstance(x, dict):
        return {k: _r(v, nd) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_r(v, nd) for v in x]
    return x


def _fit_modality(study: Study, sizes: list[dict], budgets: list[int], bits: np.ndarray, chunk: int, seed: int) -> dict:
    """bits[size, budget, chunk] -> the three forms with bootstrap intervals."""
    n = np.array([s["params"] for s in sizes], dtype=float)
    nn = np.repeat(n, len(budgets))
    dd = np.tile(np.array(budgets, dtype=float), len(n))
    n_chunks = bits.shape[2]

    def all_forms(idx, start=None, joint_start=None):
        loss = bits[:, :, idx].sum(axis=2) / (len(idx) * chunk)
        out = {}
        for j, b in enumerate(budgets):
            try:
                out[f"size@{b}"] = F.fit_size(n, loss[:, j]) if len(n) >= 3 else None
            except (ValueError, RuntimeError):
                out[f"size@{b}"] = None
        if len(n) >= 2 and len(budgets) >= 2:
            try:
                out["joint"] = F.fit_joint(nn, dd, loss.ravel(), start=joint_start)
            except (ValueError, RuntimeError):
                out["joint"] = None
            try:
                out["chinchilla"] = F.fit_chinchilla(nn, dd, loss.ravel(), start=start)
            except (ValueError, RuntimeError):
                out["chinchilla"] = None
        return out

    full = all_forms(np.arange(n_chunks))
    start, joint_start = full.get("chinchilla"), full.get("joint")
    boots = F.bootstrap(n_chunks, study.bootstrap, seed, lambda idx: all_forms(idx, start, joint_start))
    res: dict = {}

    def pack(key, names):
        if full.get(key) is None:
            return None
        out = F.with_intervals(full[key], [b.get(key) if b else None for b in boots], names)
        out["at_bound"] = F.at_bound(key.split("@")[0], full[key])
        return out

    last = budgets[-1]
    res["size"] = pack(f"size@{last}", ("E", "A", "alpha"))
    if res["size"] is not None:
        res["size"]["tokens"] = last
    res["size_by_checkpoint"] = {str(b): pack(f"size@{b}", ("E", "A", "alpha")) for b in budgets}
    res["joint"] = pack("joint", ("c", "a", "alpha", "b", "beta"))
    res["chinchilla"] = pack("chinchilla", ("E", "A", "alpha", "B", "beta"))
    last_col = bits[:, -1].sum(axis=1)
    res["falls_with_size_at_last_checkpoint"] = bool(np.all(np.diff(last_col) < 0))
    res["bootstrap"] = {"over": "evaluation chunks (same resample for every size and checkpoint)",
                        "rounds": study.bootstrap, "chunks": n_chunks, "seeds": 1}
    return res


def _text_bytes(spec: str) -> bytes:
    from ..data.sources import list_files, parse_data_spec

    return b"".join(p.read_bytes() for p in list_files(parse_data_spec(spec)))


def build_report(study: Study, out: Path, evals: dict, results: dict, plots: bool = True) -> dict:
    out = Path(out)
    budgets = study.budgets()
    trains = {u["size"]: r for u, r in results["train"]}
    shapes = study.shapes()
    sizes = []
    for label, shape in shapes:
        r = trains[label]
        cks = {c["tokens"]: c for c in r["checkpoints"]}
        sizes.append({"size": label, "params": r["params"], "non_embedding_params": cks[budgets[-1]]["non_embedding_params"],
                      "shape": {"layers": shape.layers, "width": shape.width, "heads": shape.heads, "ffn": shape.ffn,
                                "context": shape.context}, "lr": study.lr(shape),
                      "train_heldout": {str(t): c["heldout_bits_per_byte"] for t, c in cks.items()}})
    index = {s["size"]: i for i, s in enumerate(sizes)}
    bidx = {b: j for j, b in enumerate(budgets)}
    modalities = [m for m in ("text", "image", "audio") if m in evals]
    bits = {m: np.zeros((len(sizes), len(budgets), evals[m]["chunks"])) for m in modalities}
    for u, r in results["eval"]:
        bits[u["modality"]][index[u["size"]], bidx[u["tokens"]]] = r["bits"]
    icl = {(u["size"], u["tokens"]): r for u, r in results.get("icl", [])}
    coded = {(u["size"], u["modality"]): r for u, r in results.get("code", [])}

    points = []
    for m in modalities:
        for s in sizes:
            for b in budgets:
                row = bits[m][index[s["size"]], bidx[b]]
                p = {"size": s["size"], "params": s["params"], "non_embedding_params": s["non_embedding_params"],
                     "tokens": b, "flops_6nd": 6 * s["params"] * b, "modality": m, "tokenizer": "bytes",
                     "bits_per_byte": float(row.sum() / (len(row) * study.chunk)),
                     "sem": float(np.std(row / study.chunk, ddof=1) / np.sqrt(len(row))) if len(row) > 1 else None,
                     "train_heldout_bits_per_byte": s["train_heldout"][str(b)]}
                if m == "text" and (s["size"], b) in icl:
                    p["icl_accuracy"] = icl[(s["size"], b)]["accuracy"]
                if b == budgets[-1] and (s["size"], m) in coded:
                    rows = coded[(s["size"], m)]["chunks"]
                    inp = sum(c["input_bytes"] for c in rows)
                    p["coded"] = {"chunks": len(rows), "all_verified": all(c["verified"] for c in rows),
                                  "bits_per_byte": 8 * sum(c["output_bytes"] or 0 for c in rows) / max(1, inp),
                                  "payload_bits_per_byte": 8 * sum(c["payload_bytes"] or 0 for c in rows) / max(1, inp),
                                  "teacher_forced_bits_per_byte": float(sum(
                                      bits[m][index[s["size"]], bidx[b], c["index"]] for c in rows) / max(1, inp))}
                points.append(p)

    fits = {m: _fit_modality(study, sizes, budgets, bits[m], study.chunk, study.seed) for m in modalities}

    text_pts = [p for p in points if p["modality"] == "text"]
    chin_text = fits.get("text", {}).get("chinchilla")
    chin_vals = {k: v["value"] for k, v in chin_text.items() if isinstance(v, dict)} if chin_text else None
    front = {m: frontier([p for p in points if p["modality"] == m],
                         {k: v["value"] for k, v in fits[m]["chinchilla"].items() if isinstance(v, dict)}
                         if fits[m].get("chinchilla") else None) for m in modalities}

    adjusted = None
    if "text" in evals:
        measured = [{"size": s["size"], "params": s["params"],
                     "measured": {b: p["bits_per_byte"] for p in text_pts if p["size"] == s["size"] for b in [p["tokens"]]}}
                    for s in sizes]
        codecs = codec_rates(_text_bytes(evals["text"]["spec"]))
        adjusted = adjusted_view(measured, chin_vals, codecs)

    icl_summary = None
    if icl:
        pairs = [(p["bits_per_byte"], p["icl_accuracy"]) for p in text_pts if "icl_accuracy" in p]
        any_icl = next(iter(icl.values()))
        all_scores = [s for r in icl.values() for s in r["scores"]]
        corr = F.pearson_ci([a for a, _ in pairs], [b for _, b in pairs], seed=study.seed)
        chance = any_icl["chance"]
        mean = float(np.mean(all_scores))
        sem = float(np.std(all_scores, ddof=1) / np.sqrt(len(all_scores))) if len(all_scores) > 1 else 0.0
        icl_summary = {"correlation_bits_per_byte_vs_accuracy": corr, "chance": chance, "mean_accuracy": mean,
                       "mean_accuracy_ci95": [mean - 1.96 * sem, mean + 1.96 * sem],
                       "at_chance": bool(abs(mean - chance) <= 1.96 * sem),
                       "items_per_checkpoint": any_icl["n"], "shots": study.icl_shots,
                       "per_checkpoint": [{"size": s, "tokens": t, "accuracy": r["accuracy"],
                                           "per_task": r["per_task"]} for (s, t), r in sorted(
                                               icl.items(), key=lambda kv: (index[kv[0][0]], kv[0][1]))]}

    tok = None
    if results.get("tok"):
        from .tokenize import summarise

        tok = summarise(study, [(u, r) for u, r in results["tok"]])

    report = {"schema": SCHEMA, "study": _study_json(study),
              "evaluation": {m: {"spec": _short(evals[m]["spec"]), "chunks": evals[m]["chunks"], "chunk_bytes": study.chunk,
                                 "files": evals[m]["files"]} for m in modalities},
              "sizes": sizes, "checkpoints": budgets, "points": points, "fits": fits,
              "frontier": front, "adjusted": adjusted, "icl": icl_summary, "tokenization": tok}
    report = _r(report)
    from ..fileio import write_atomic

    write_atomic(out / "scaling.json", (json.dumps(report, indent=1, sort_keys=False) + "\n").encode(), force=True)
    timings = {"train": {u["size"]: [c["timing"] for c in r["checkpoints"]] for u, r in results["train"]},
               "eval": [{"size": u["size"], "tokens": u["tokens"], "modality": u["modality"], **r["timing"]}
                        for u, r in results["eval"]],
               "code": [{"size": u["size"], "modality": u["modality"], "chunks": [c["timing"] for c in r["chunks"]]}
                        for u, r in results.get("code", [])],
               "tok": [{"tokenizer": r["tokenizer"], "budget": r["budget"], **r["timing"]}
                       for u, r in results.get("tok", []) if r is not None]}
    write_atomic(out / "timings.json", (json.dumps(timings, indent=1) + "\n").encode(), force=True)
    from .tables import write_tables

    write_tables(report, out, timings)
    if plots:
        from .figures import write_figures

        write_figures(report, out)
    return report


def _short(spec: str) -> str:
    """'text:/a/b/next.txt' -> 'text:next.txt' (no absolute paths in scaling.json)."""
    from ..data.sources import parse_data_spec

    ds = parse_data_spec(spec)
    return f"{ds.modality}:{Path(ds.path).name}"


def _study_json(study: Study) -> dict:
    d = study.to_json()
    d["corpus"] = Path(study.corpus).name
    d["evals"] = [_short(e) for e in study.evals]
    return d
