"""Fluency benchmark (``benchmarks/sampling.py --quality``): does a codec's sample read like its corpus?

Per corpus (tinyshakespeare / "MENENIUS:\\n", alice29 / "Alice ", lcet10 / "The "),
per codec and per ablation, ``seeds`` samples of ``n`` bytes are generated with the
whole corpus as prime and scored with :mod:`compgen.sampling.quality`: SmolLM2
bits/byte of the continuation given the prompt (``fluency``; the same definition as
``../shared/tools/lm_fluency.py``, checked on a few samples with ``--check-tool``),
``copied`` (>= 32-byte verbatim corpus runs), ``distinct4``, ``valid_words`` and bytes/s
(whole ``generate`` call, setup included). The reference row is real text: the ``n``
bytes that follow 20 random occurrences of the prompt in the corpus.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import compgen  # noqa: E402
from compgen.sampling import generate  # noqa: E402
from compgen.sampling.quality import Fluency, default_cache, text_quality  # noqa: E402

SHARED = ROOT.parent / "shared"
TOOL = SHARED / "tools" / "lm_fluency.py"
CORPORA = {"tinyshakespeare": (SHARED / "data" / "tinyshakespeare.txt", b"MENENIUS:\n"),
           "alice29": (SHARED / "data" / "canterbury" / "alice29.txt", b"Alice "),
           "lcet10": (SHARED / "data" / "canterbury" / "lcet10.txt", b"The ")}
REAL_SLICES = 20  # the reference row averages more texts than the generated rows: it is the yardstick
CODECS = ["gzip", "zstd", "brotli", "xz", "bz2", "ppmd"]


def real_slices(corpus: bytes, prompt: bytes, n: int, seeds: int) -> list[bytes]:
    """The ``n`` bytes after ``seeds`` random occurrences of the prompt (seeded)."""
    starts, i = [], corpus.find(prompt)
    while i >= 0:
        if i + len(prompt) + n <= len(corpus):
            starts.append(i + len(prompt))
        i = corpus.find(prompt, i + 1)
    pick = np.random.default_rng(0).choice(len(starts), size=min(seeds, len(starts)), replace=False)
    return [corpus[starts[k]:starts[k] + n] for k in sorted(pick)]


def random_slices(corpus: bytes, n: int, count: int) -> list[bytes]:
    """``n`` bytes from ``count`` random places of the corpus, each starting at a line."""
    rng = np.random.default_rng(1)
    out = []
    for p in rng.integers(0, len(corpus) - 2 * n, size=count):
        p = corpus.find(b"\n", int(p)) + 1
        out.append(corpus[p:p + n])
    return out


def run_row(row: dict, path: Path, corpus: bytes, prompt: bytes, n: int, seeds: int, fluency: Fluency, log,
            scorers: dict | None = None) -> dict:
    """Generate and score ``seeds`` samples for one row (``row['options']`` go to generate)."""
    runs = []
    if row.get("real"):
        pick = real_slices if row["real"] == "after prompt" else lambda c, _, n, k: random_slices(c, n, k)
        texts = [(s, None) for s in pick(corpus, prompt, n, max(seeds, REAL_SLICES))]
    else:
        texts = []
        model = compgen.load(row["model"])
        for seed in range(seeds):
            opts = dict(row.get("options", {}))
            sampler = opts.pop("sampler", None)
            if isinstance(opts.get("scorer"), str):  # an ablation scorer by name, built for this model
                opts["scorer"] = (scorers or {})[opts["scorer"]](model)
            t0 = time.perf_counter()
            r = generate(model, prompt, corpus, n, sampler, seed=seed, **opts)
            dt = time.perf_counter() - t0
            texts.append((r.text, {"bytes_per_s": round(len(r.text) / dt, 1), "seconds": round(dt, 2),
                                   "settings": r.settings}))
    for seed, (text, info) in enumerate(texts):
        q = text_quality(corpus, text)
        q["fluency"] = round(fluency.bpb(prompt, text), 3)
        q.update(seed=seed, sample=text.decode("utf-8", "replace"))
        if info:
            q.update(bytes_per_s=info["bytes_per_s"], seconds=info["seconds"])
        runs.append(q)
        log(f"  {row['label']} seed {seed}: fluency {q['fluency']:.3f} copied {q['copied']:.2f} "
            f"d4 {q['distinct4']:.2f} valid {q['valid_words']:.2f}"
            + (f" {info['bytes_per_s']:.0f} B/s" if info else ""))
    fluency.save()
    out = {"label": row["label"], "model": row.get("model", "real text"), "seeds": len(runs)}
    for k in ("fluency", "copied", "distinct4", "valid_words"):
        out[k] = round(statistics.mean(x[k] for x in runs), 3)
    out["copied_max"] = max(x["copied"] for x in runs)
    if not row.get("real"):
        out["bytes_per_s_median"] = round(statistics.median(x["bytes_per_s"] for x in runs), 1)
        out["settings"] = texts[0][1]["settings"]
    if row.get("process_timing"):
        out.update(process_timing(row["model"], path, prompt, n, seeds, [x["sample"] for x in runs]))
    out["runs"] = runs
    return out


def process_timing(spec: str, path: Path, prompt: bytes, n: int, seeds: int, samples: list[str]) -> dict:
    """bytes/s of whole ``cgz sample`` processes (start-up, load, priming, sampling)."""
    rates, same = [], 0
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for seed in range(seeds):
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "compgen", "-q", "sample", "-m", spec, "--prime", str(path),
                              "--prompt", prompt.decode(), "-n", str(n), "--seed", str(seed), "--no-prompt"],
                             capture_output=True, env=env, timeout=600)
        dt = time.perf_counter() - t0
        rates.append(n / dt)
        same += res.stdout.rstrip(b"\n").decode("utf-8", "replace") == samples[seed]
    return {"process_bytes_per_s_median": round(statistics.median(rates), 1), "process_same_text": same}


def check_tool(rows: list[dict], prompt: bytes, limit: int = 4) -> dict:
    """Score a few samples with ../shared/tools/lm_fluency.py too; the largest difference."""
    if not TOOL.exists():
        return {"skipped": f"{TOOL} not found"}
    picks = [(r, x) for r in rows for x in r["runs"]][:: max(1, sum(len(r["runs"]) for r in rows) // limit)][:limit]
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for k, (_, x) in enumerate(picks):
            p = Path(tmp) / f"s{k}.txt"
            p.write_bytes(prompt + x["sample"].encode("utf-8"))
            files.append(str(p))
        out = subprocess.run([sys.executable, str(TOOL), str(len(prompt)), *files], capture_output=True, text=True,
                             timeout=900)
    tool = [json.loads(line)["lm_bpb"] for line in out.stdout.splitlines() if line.startswith("{")]
    ours = [x["fluency"] for _, x in picks]
    if len(tool) != len(ours):
        return {"error": out.stderr.strip().splitlines()[-1:] or "no output"}
    return {"samples": len(ours), "tool": tool, "ours": ours,
            "max_abs_diff": round(max(abs(a - b) for a, b in zip(tool, ours)), 4)}


def rows_for(codecs: list[str], ablations: dict[str, dict], only: list[str] | None) -> list[dict]:
    rows = [{"label": "real text", "real": "after prompt"},
            {"label": "real text (random lines)", "real": "random lines"}]
    rows += [{"label": c, "model": c, "process_timing": c == "gzip"} for c in codecs]
    rows += [{"label": k, **v} for k, v in ablations.items()]
    if only:
        rows = [r for r in rows if r["label"] in only or r.get("real")]
    return rows


def table(doc: dict) -> str:
    """Markdown: one block per corpus, fluency gap to real text in its own column."""
    lines = []
    for name, block in doc["corpora"].items():
        real = next(r for r in block["rows"] if r["label"] == "real text")["fluency"]
        lines += [f"**{name}**, prompt `{block['prompt']!r}`, {doc['task']['seeds']} seeds x {doc['task']['n']} bytes:", "",
                  "| setting | fluency (bits/byte) | gap to real | copied (max) | distinct4 | valid_words | bytes/s |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for r in block["rows"]:
            bps = f"{r['bytes_per_s_median']:.0f}" if "bytes_per_s_median" in r else "-"
            if "process_bytes_per_s_median" in r:
                bps += f" ({r['process_bytes_per_s_median']:.0f} whole process)"
            lines.append(f"| {r['label']} | {r['fluency']:.2f} | {r['fluency'] - real:+.2f} | {r['copied']:.3f} "
                         f"({r['copied_max']:.2f}) | {r['distinct4']:.3f} | {r['valid_words']:.3f} | {bps} |")
        lines.append("")
    return "\n".join(lines)


def plot(doc: dict, path: Path) -> None:
    """Fluency gap to real text per codec row and corpus (grouped bars), as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corpora = list(doc["corpora"])
    labels = [r["label"] for r in doc["corpora"][corpora[0]]["rows"] if r["label"] != "real text"]
    fig, ax = plt.subplots(figsize=(max(8, 0.6 * len(labels) + 3), 4.5))
    width = 0.8 / len(corpora)
    for k, name in enumerate(corpora):
        rows = {r["label"]: r for r in doc["corpora"][name]["rows"]}
        real = rows["real text"]["fluency"]
        gaps = [rows[lab]["fluency"] - real if lab in rows else np.nan for lab in labels]
        ax.bar(np.arange(len(labels)) + (k - (len(corpora) - 1) / 2) * width, gaps, width, label=name)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("SmolLM2 bits/byte above real text")
    ax.set_title(f"Sample fluency gap to real text ({doc['task']['seeds']} seeds x {doc['task']['n']} bytes)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save(doc: dict, args, out: Path, t0: float) -> None:
    doc["task"] = {"n": args.n, "seeds": args.seeds, "reference": args.reference, "prime": "the whole corpus",
                   "real_slices": REAL_SLICES}
    doc["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                      "load_avg_at_end": os.getloadavg(), "wall_seconds": round(time.time() - t0, 1)}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, out)


def main(args, ablations: dict[str, dict], scorers: dict | None = None) -> int:
    missing = [str(p) for p, _ in CORPORA.values() if not p.exists()]
    if missing:
        print(f"needs {', '.join(missing)}", file=sys.stderr)
        return 1
    codecs = [c for c in args.codecs.split(",") if c]
    only = [x for x in (args.rows or "").split(",") if x] or None
    corpora = [c for c in (args.corpora or ",".join(CORPORA)).split(",") if c]
    fluency = Fluency(args.reference, cache_path=args.fluency_cache or default_cache())
    out = Path(args.json)
    doc = json.loads(out.read_text()) if args.update and out.exists() else {"corpora": {}}
    t0 = time.time()
    order = ["real text", "real text (random lines)", *codecs, *ablations]
    data = {name: CORPORA[name][0].read_bytes() for name in corpora}
    for row in rows_for(codecs, ablations, only):  # row-major: a run cut short has whole rows
        for name in corpora:
            path, prompt = CORPORA[name]
            block = doc["corpora"].setdefault(name, {"prompt": prompt.decode(), "rows": []})
            result = run_row(row, path, data[name], prompt, args.n, args.seeds, fluency,
                             lambda s, name=name: print(f"{name}: {s}", file=sys.stderr), scorers)
            block["rows"] = [r for r in block["rows"] if r["label"] != row["label"]] + [result]
            block["rows"].sort(key=lambda r: order.index(r["label"]) if r["label"] in order else len(order))
            save(doc, args, out, t0)  # after every row: a run cut short keeps what it measured
    if args.check_tool:
        for name in corpora:
            block = doc["corpora"][name]
            block["tool_check"] = check_tool(block["rows"], CORPORA[name][1])
            print(f"{name}: tool check: {block['tool_check']}", file=sys.stderr)
    save(doc, args, out, t0)
    print(table(doc))
    png = out.with_suffix(".png")
    plot(doc, png)
    print(f"wrote {out} and {png}", file=sys.stderr)
    return 0
