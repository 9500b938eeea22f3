"""ms per 256-way next-byte distribution, per codec and context length: the exact fast
route the library uses (``next_byte_probs``) against naive recompression of ctx + b for
every b (``naive_next_byte_probs``), checking the two arrays are identical.

    .venv/bin/python benchmarks/distributions.py                  # all codecs, 1/8/32 KB
    .venv/bin/python benchmarks/distributions.py --codecs gzip --contexts 32768 --repeat 5

Prints a table and writes benchmarks/results/distributions.json. Times are the best of
``--repeat`` runs (the machine is shared; the minimum is the least disturbed figure).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import compgen  # noqa: E402
from compgen.data.corpus import default_corpus  # noqa: E402

CODECS = ["gzip", "zlib", "deflate", "zstd", "brotli", "xz", "bz2", "ppmd"]
CONTEXTS = [1024, 8192, 32768]


def best_time(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall time and best CPU time (all threads of this process) over ``repeat`` runs.

    On a shared machine wall time is stretched by other jobs; CPU time is not, but it
    charges the threaded route for every thread, so its speedup is a lower bound."""
    wall, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.process_time() - c)
    return wall, cpu, out


def measure(spec: str, n: int, repeat: int, naive_repeat: int, offset: int = 100_000) -> dict:
    model = compgen.load(spec)
    text = default_corpus()
    ctx = text[offset: offset + n]
    model.next_byte_probs(ctx[:100])  # warm the thread pool
    fast_s, fast_cpu, fast = best_time(lambda: model.next_byte_probs(ctx), repeat)
    naive_s, naive_cpu, naive = best_time(lambda: model.naive_next_byte_probs(ctx), naive_repeat)
    if model.name in ("gzip", "zlib", "deflate"):
        from compgen.compressors.deflate import COPY_MIN_CONTEXT

        route = "state copy" if n >= COPY_MIN_CONTEXT else "recompress, threads"
    else:
        route = "recompress, threads" if model.releases_gil else "recompress (holds the GIL)"
    return {"codec": model.spec, "context": n, "route": route, "fast_ms": 1e3 * fast_s, "naive_ms": 1e3 * naive_s,
            "speedup": naive_s / fast_s, "fast_cpu_ms": 1e3 * fast_cpu, "naive_cpu_ms": 1e3 * naive_cpu,
            "cpu_speedup": naive_cpu / fast_cpu, "identical": bool(np.array_equal(fast, naive)),
            "threads": model.threads}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--codecs", default=",".join(CODECS), help="comma-separated specs")
    ap.add_argument("--contexts", default=",".join(map(str, CONTEXTS)), help="context lengths in bytes")
    ap.add_argument("--repeat", type=int, default=5, help="runs of the fast route (best kept)")
    ap.add_argument("--naive-repeat", type=int, default=2, help="runs of the naive route (best kept)")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "distributions.json"))
    args = ap.parse_args(argv)
    rows = []
    print(f"{'codec':38} {'context':>8} {'fast ms':>9} {'naive ms':>9} {'speedup':>8} {'cpu speedup':>11} "
          f"identical  route")
    for spec in compgen.registry.split_specs(args.codecs):
        for n in map(int, args.contexts.split(",")):
            r = measure(spec, n, args.repeat, args.naive_repeat)
            rows.append(r)
            print(f"{r['codec']:38} {n:>8} {r['fast_ms']:>9.1f} {r['naive_ms']:>9.1f} {r['speedup']:>7.2f}x "
                  f"{r['cpu_speedup']:>10.2f}x {str(r['identical']):9}  {r['route']}", flush=True)
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
            "loadavg_at_end": os.getloadavg(), "corpus": "pydoc_data.topics (compgen.data.corpus.default_corpus)",
            "note": "best of --repeat runs (wall and CPU time); machine shared with other jobs"}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"load average {meta['loadavg_at_end']}; wrote {args.json}")
    return 0 if all(r["identical"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
