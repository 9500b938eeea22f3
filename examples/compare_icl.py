"""Which models learn in context, how fast, and at what? All three probes from Python.

    .venv/bin/python examples/compare_icl.py                      # codecs, quick
    .venv/bin/python examples/compare_icl.py --models gzip,ppmd,smollm2 --items 4

Writes results and PNGs to ``icl-example/`` (few-shot accuracy, compression curve,
NCD kNN) and prints the tables. The same as ``cgz icl``/``icl curve``/``icl ncd``,
spelled out with the library API so each step can be changed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import compgen
from compgen.data.corpus import default_corpus
from compgen.icl import curve, ncd, plots, report
from compgen.icl.runner import Cache, run_jobs
from compgen.icl.tasks import PromptFormat, load_sources, make_items


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="gzip,zstd,xz,ppmd")
    ap.add_argument("--tasks", default="copy,induction,kv_recall,caesar,periodic,classify")
    ap.add_argument("--shots", default="0,1,2,4,8,16")
    ap.add_argument("--items", type=int, default=12, help="items per (task, shots, seed)")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--data", help="stream for the compression curve (default: built-in corpus)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("-o", "--output", default="icl-example")
    args = ap.parse_args()

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    models = [compgen.load(s) for s in compgen.registry.split_specs(args.models)]
    specs = [m.spec for m in models]
    cache = Cache(out / "cache.jsonl")  # rerunning the script only computes new items

    # Probe 2: few-shot tasks, multiple choice by code_length(candidate | prompt)
    items = make_items(args.tasks.split(","), [int(k) for k in args.shots.split(",")], args.seeds,
                       args.items, PromptFormat("{input} -> {output}\n"), em_items=0)
    rows = report.aggregate(items, specs, run_jobs(models, items, cache, workers=args.workers))
    report.print_table(rows)
    plots.plot_accuracy(rows, out / "icl_accuracy.png")

    # Probe 1: bits/byte by position inside 2048-byte chunks
    data = Path(args.data).read_bytes() if args.data else default_corpus()
    chunks = curve.make_chunks(data, 2048, 256, 8)
    res = run_jobs(models, chunks, cache, workers=args.workers, batch=1)
    curves = [curve.summarise(s, chunks, res) for s in specs]
    for c in curves:
        first, last = c["bits_per_byte"][0], c["bits_per_byte"][-1]
        print(f"curve {c['model']:40s} bytes 0-255: {first:.2f} bits/byte -> last bucket: {last:.2f}")
    plots.plot_curve(curves, out / "curve.png")

    # Probe 3: NCD + 1-NN on the built-in code / text / data classes
    sources, _ = load_sources(None)
    train, test = ncd.split_snippets(sources, 6, 8, 256)
    texts = tuple(t for _, t in train)
    jobs = [ncd.SelfLengths(texts)] + [ncd.NcdQuery(t, texts) for _, t in test]
    res = run_jobs(models, jobs, cache, workers=args.workers)
    for s in specs:
        r = ncd.classify([res[(s, j.key())] for j in jobs[1:]], res[(s, jobs[0].key())], train, test, k=1)
        print(f"ncd   {s:40s} top-1 {r['accuracy']:.2f} (chance {r['chance']:.2f}, n={r['n']})")
    cache.close()
    print(f"plots and cache in {out}/")


if __name__ == "__main__":  # required: the process pool re-imports this file
    main()
