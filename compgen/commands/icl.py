"""``cgz icl``: in-context learning probes (few-shot tasks, compression curve, NCD kNN).

    cgz icl [run] --models gzip,ppmd --tasks all --shots 0,1,2,4,8,16 --seeds 3 -o icl-out/
    cgz icl --list-tasks
    cgz icl curve --models gzip,ppmd --data FILE --chunk 2048
    cgz icl --models gzip,ppmd,smollm2 --executor dask://scheduler-host:8786 -o icl-out/
    cgz icl ncd --models gzip,ppmd --class-data DIR
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import CompgenError, UsageError

DEFAULT_MODELS = "gzip,zstd,brotli,xz,bz2,ppmd"


def add_parser(sub):
    p = sub.add_parser(
        "icl", help="in-context learning probes: few-shot tasks, compression curve, NCD",
        description="Which models learn in context, how fast, and at what? `run` (default): few-shot "
                    "tasks scored by code_length(candidate | prompt); `curve`: bits/byte by position "
                    "in a chunk; `ncd`: compression-distance kNN classification.")
    p.add_argument("action", nargs="?", default="run", choices=["run", "curve", "ncd"],
                   help="probe to run (default: run = few-shot tasks)")
    p.add_argument("--list-tasks", action="store_true", help="list the few-shot tasks and exit")
    p.add_argument("-m", "--models", default=DEFAULT_MODELS, help="comma-separated model specs")
    p.add_argument("-o", "--output", default="icl-out", help="output directory (results, plots, cache)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: min(2, cores) for codec models; with --executor "
                        "process/dask: all cores)")
    from ..executors import add_arguments

    add_arguments(p)
    p.add_argument("--no-cache", action="store_true", help="ignore and do not write the per-item cache")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    g = p.add_argument_group("few-shot tasks (run)")
    g.add_argument("--tasks", default="all", help="comma-separated task names or 'all'")
    g.add_argument("--shots", default="0,1,2,4,8,16", help="comma-separated shot counts")
    g.add_argument("--seeds", type=int, default=3, help="number of seeds (episodes) per task")
    g.add_argument("--max-items", type=int, default=24, help="items per (task, shots, seed) cell")
    g.add_argument("--em-items", type=int, default=1,
                   help="first N items of each task/shots cell of the first seed also get greedy exact "
                        "match (0: off; costly for codecs)")
    g.add_argument("--em-tasks", default="all", help="tasks that get exact match (default all)")
    g.add_argument("--format", default="{input} -> {output}\\n", help="prompt format of a demonstration")
    g.add_argument("--class-data", metavar="DIR",
                   help="classify/ncd classes: one per sub-directory, else one per file (default: built-in)")
    c = p.add_argument_group("compression curve (curve)")
    c.add_argument("--data", metavar="SPEC", nargs="+",
                   help="data streams, one panel each: PATH (bytes), text:PATH, image:PATH (grayscale patches), "
                        "audio:PATH (8-bit 16 kHz samples); default: the built-in corpus")
    c.add_argument("--chunk", type=int, default=2048, help="chunk size in bytes")
    c.add_argument("--bucket", type=int, default=128, help="position bucket size in bytes")
    c.add_argument("--max-chunks", type=int, default=16, help="chunks spread over the data")
    n = p.add_argument_group("NCD classification (ncd)")
    n.add_argument("--train-per-class", type=int, default=8)
    n.add_argument("--test-per-class", type=int, default=12)
    n.add_argument("--snippet", type=int, default=256, help="snippet size in bytes")
    n.add_argument("--knn", default="1,2", help="comma-separated k values")
    return p


def _ints(text: str, what: str) -> list[int]:
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--{what}: expected comma-separated integers, got {text!r}") from None
    if not vals or min(vals) < 0:
        raise UsageError(f"--{what}: expected non-negative integers")
    return vals


def _load_models(text: str):
    from ..registry import load, split_specs

    specs = split_specs(text)
    if not specs:
        raise UsageError("--models: no model given")
    return [load(s) for s in specs]


def _outdir(path: str) -> Path:
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CompgenError(f"{path}: cannot create output directory ({exc.strerror or exc})") from None
    if not out.is_dir():
        raise CompgenError(f"{path}: not a directory")
    return out


def _cache(args, out: Path):
    from ..icl.runner import Cache

    return Cache(None if args.no_cache else out / "cache.jsonl")


def _executor(args) -> dict:
    from ..executors import parse_executor

    workers = args.workers
    if workers is None and args.executor is None:
        workers = min(2, os.cpu_count() or 1)  # the default: codecs on a small pool
    return {"workers": workers or 1, "executor": parse_executor(args.executor, workers),
            "ship_data": args.ship_data}


def _note(console, args, text: str) -> None:
    if not getattr(args, "quiet", False):
        console.print(text, style="dim", highlight=False)


def list_tasks(console) -> None:
    from rich.table import Table

    from ..icl.tasks import TASKS

    t = Table(title="few-shot tasks (cgz icl --tasks NAME,...)")
    t.add_column("task")
    t.add_column("what")
    t.add_column("needs")
    for task in TASKS.values():
        t.add_row(task.name, task.description, task.needs)
    console.print(t)


def run(args) -> int:
    from rich.console import Console

    console = Console()
    if args.list_tasks:
        list_tasks(console)
        return 0
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be >= 1")
    return {"run": run_tasks, "curve": run_curve, "ncd": run_ncd}[args.action](args, console)


# --------------------------------------------------------------------- run
def run_tasks(args, console) -> int:
    from ..icl import plots, report
    from ..icl.runner import run_jobs
    from ..icl.tasks import PromptFormat, TaskContext, make_items, resolve_tasks

    tasks = resolve_tasks(args.tasks)
    em_tasks = None if args.em_tasks.strip() == "all" else resolve_tasks(args.em_tasks)
    shots = _ints(args.shots, "shots")
    if args.seeds < 1 or args.max_items < 1 or args.em_items < 0:
        raise UsageError("--seeds and --max-items must be >= 1, --em-items >= 0")
    fmt = PromptFormat.parse(args.format)
    ctx = TaskContext(args.class_data)
    if "classify" in tasks:
        ctx.sources()  # fail early on a bad directory
    models = _load_models(args.models)
    out = _outdir(args.output)
    items = make_items(tasks, shots, args.seeds, args.max_items, fmt, args.em_items, em_tasks, ctx)
    for note in ctx.notes:
        _note(console, args, f"note: {note}")
    cache = _cache(args, out)
    t0 = time.perf_counter()
    try:
        results = run_jobs(models, items, cache, desc="icl tasks", **_executor(args))
    finally:
        cache.close()
    wall = time.perf_counter() - t0
    specs = [m.spec for m in models]
    rows = report.aggregate(items, specs, results)
    report.print_table(rows, console)
    if any(r["em"] is not None for r in rows):
        report.print_table(rows, console, metric="em")
    payload = {"probe": "few-shot", "models": specs, "tasks": tasks, "shots": sorted(set(shots)),
               "seeds": args.seeds, "items_per_cell": args.max_items, "em_items": args.em_items,
               "format": fmt.template, "class_data": args.class_data, "wall_seconds": wall,
               "workers": _executor(args)["workers"], "executor": str(_executor(args)["executor"]), "rows": rows}
    written = report.write_outputs(out, "results", payload, rows)
    if not args.no_plots:
        written.append(plots.plot_accuracy(rows, out / "icl_accuracy.png"))
        if any(r["em"] is not None for r in rows):
            written.append(plots.plot_accuracy(rows, out / "icl_exact_match.png", metric="em"))
    reused = "" if args.no_cache else " (items already in the cache were reused)"
    _note(console, args, f"{len(items)} items x {len(models)} models in {wall:.1f} s{reused}; "
                         f"wrote {', '.join(written)}")
    return 0


# --------------------------------------------------------------------- curve
def run_curve(args, console) -> int:
    from rich.table import Table

    from ..data import parse_data_spec, read_modal
    from ..data.corpus import default_corpus
    from ..executors import open_backend
    from ..icl import plots, report
    from ..icl.curve import make_chunks, summarise
    from ..icl.runner import run_jobs
    from ..lm.seven_bit import spec_for_modality
    from ..registry import load, split_specs

    if args.max_chunks < 1:
        raise UsageError("--max-chunks must be >= 1")
    specs = split_specs(args.models)
    if not specs:
        raise UsageError("--models: no model given")
    streams = []  # (panel name, modality, bytes): each spec read once, streamed file by file
    for text in (args.data or [None]):
        if text is None:
            streams.append(("built-in corpus", "text", default_corpus()))
            continue
        spec = parse_data_spec(text)
        data, _ = read_modal(text)
        if not data:
            raise UsageError(f"{text}: no bytes")
        streams.append((f"{spec.modality if spec.modality != 'bytes' else 'bytes'}: {Path(spec.path).name}",
                        spec.modality, data))
    loaded: dict = {}
    out = _outdir(args.output)
    cache = _cache(args, out)
    t0 = time.perf_counter()
    panels, payload_panels, rows, n_chunks = [], [], [], 0
    ex = _executor(args)
    try:
        with open_backend(ex["executor"], ex["workers"] if ex["workers"] > 1 else None, ex["ship_data"]) \
                as backend:  # one pool / cluster for every panel
            for name, modality, data in streams:
                chunks = make_chunks(data, args.chunk, args.bucket, args.max_chunks)
                models = []
                for s in specs:
                    real = spec_for_modality(s, modality)
                    if real not in loaded:
                        loaded[real] = load(real)
                    models.append(loaded[real])
                results = run_jobs(models, chunks, cache, batch=1, desc=f"icl curve {name}", executor=backend)
                curves = [summarise(m.spec, chunks, results) for m in models]
                n_chunks += len(chunks)
                table = Table(title=f"bits/byte by position ({len(chunks)} chunks of {args.chunk} B, {name})")
                table.add_column("position")
                for c in curves:
                    table.add_column(c["model"], justify="right")
                for i, pos in enumerate(curves[0]["positions"]):
                    table.add_row(f"{pos}-{pos + args.bucket - 1}", *[f"{c['bits_per_byte'][i]:.3f}" for c in curves])
                table.add_row("overall", *[f"{c['overall_bits_per_byte']:.3f}" for c in curves], end_section=True)
                console.print(table)
                rows += [{"data": name, "model": c["model"], "position": pos, "bits_per_byte": c["bits_per_byte"][i],
                          "stderr": c["stderr"][i], "chunks": c["chunks"]}
                         for c in curves for i, pos in enumerate(c["positions"])]
                panels.append((name, curves))
                payload_panels.append({"data": name, "modality": modality, "chunks": len(chunks), "curves": curves})
    finally:
        cache.close()
    wall = time.perf_counter() - t0
    payload = {"probe": "curve", "data": args.data, "chunk": args.chunk, "bucket": args.bucket,
               "chunks": n_chunks, "wall_seconds": wall, "panels": payload_panels,
               "curves": [c for p in payload_panels for c in p["curves"]]}
    written = report.write_outputs(out, "curve", payload, rows,
                                   ["data", "model", "position", "bits_per_byte", "stderr", "chunks"])
    if not args.no_plots:
        written.append(plots.plot_curve_panels(
            panels, out / "curve.png", f"in-context compression curve: bits/byte by position in {args.chunk}-byte chunks"))
    _note(console, args, f"{n_chunks} chunks x {len(specs)} models in {wall:.1f} s; wrote {', '.join(written)}")
    return 0


# --------------------------------------------------------------------- ncd
def run_ncd(args, console) -> int:
    from rich.table import Table

    from ..icl import plots, report
    from ..icl.ncd import NcdQuery, SelfLengths, classify, split_snippets
    from ..icl.runner import run_jobs
    from ..icl.scoring import wilson
    from ..icl.tasks import load_sources

    ks = _ints(args.knn, "knn")
    if min(ks) < 1 or args.train_per_class < 1 or args.test_per_class < 1 or args.snippet < 8:
        raise UsageError("--knn, --train-per-class, --test-per-class must be >= 1, --snippet >= 8")
    sources, notes = load_sources(args.class_data, min_chars=4 * args.snippet)
    for note in notes:
        _note(console, args, f"note: {note}")
    train, test = split_snippets(sources, args.train_per_class, args.test_per_class, args.snippet)
    texts = tuple(t for _, t in train)
    selfjob = SelfLengths(texts)
    queries = [NcdQuery(t, texts) for _, t in test]
    models = _load_models(args.models)
    out = _outdir(args.output)
    cache = _cache(args, out)
    t0 = time.perf_counter()
    try:
        results = run_jobs(models, [selfjob, *queries], cache, batch=2, desc="icl ncd", **_executor(args))
    finally:
        cache.close()
    wall = time.perf_counter() - t0
    rows = []
    for m in models:
        for k in ks:
            r = classify([results[(m.spec, q.key())] for q in queries], results[(m.spec, selfjob.key())],
                         train, test, k)
            lo, hi = wilson(r["accuracy"], r["n"])
            rows.append({"model": m.spec, **r, "ci_low": lo, "ci_high": hi})
    table = Table(title=f"NCD + kNN top-1 accuracy ({len(sources)} classes, {args.train_per_class} train / "
                        f"{args.test_per_class} test per class, {args.snippet}-byte snippets; ties at random)")
    for col in ("model", "k", "accuracy [95% CI]", "chance"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        table.add_row(r["model"], str(r["k"]), f"{r['accuracy']:.3f} [{r['ci_low']:.2f}-{r['ci_high']:.2f}]",
                      f"{r['chance']:.3f}")
    console.print(table)
    payload = {"probe": "ncd", "classes": [lab for lab, _ in sources], "class_data": args.class_data,
               "train_per_class": args.train_per_class, "test_per_class": args.test_per_class,
               "snippet": args.snippet, "wall_seconds": wall, "rows": rows}
    written = report.write_outputs(out, "ncd", payload, rows,
                                   ["model", "k", "n", "accuracy", "ci_low", "ci_high", "chance"])
    if not args.no_plots:
        written.append(plots.plot_ncd([r for r in rows if r["k"] == ks[0]], out / "ncd.png"))
    _note(console, args, f"{len(queries)} test texts x {len(models)} models in {wall:.1f} s; wrote {', '.join(written)}")
    return 0
