"""Speed-up of the codec bench on a local Dask cluster: 2 workers against 1, same results.

    flock /tmp/compgen-cpu.lock .venv/bin/python benchmarks/cluster.py       # ~2.5 minutes on an idle box
    .venv/bin/python benchmarks/cluster.py --data DIR --models gzip,xz --rounds 1 --local

Runs ``compgen.bench.run(cfg, executor=client)`` (chunked + whole, the default codecs) on a
LocalCluster of 1 and of 2 worker processes (1 thread each, loopback), alternating
1, 2, 1, 2, ... so a change in machine load hits both; the speed-up is the median of the
per-round ratios. Every run's units (sizes, bits, routes; not times) must equal the first
run's (with ``--local``: the local executor's). Prints a table, writes benchmarks/results/cluster.json with
``uptime`` before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compgen.bench import BenchConfig, run  # noqa: E402
from compgen.bench.machine import describe, machine_info  # noqa: E402
from compgen.errors import run_script  # noqa: E402

TIMING = ("compress_s", "decompress_s", "load_s")


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def comparable(result: dict) -> list[dict]:
    """Everything a unit measured except how long it took."""
    return [{k: v for k, v in u.items() if k not in TIMING} for u in result["units"]]


def start(n: int):
    from compgen.executors import local_cluster

    t = time.perf_counter()
    cluster, client = local_cluster(n, dashboard=False)
    client.run(lambda: __import__("compgen.bench.unit"))  # imports done before the clock starts
    return cluster, client, time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "canterbury"))
    ap.add_argument("--models", default="gzip,xz,zstd,brotli,bz2,ppmd")
    ap.add_argument("--rounds", type=int, default=3, help="pairs of (1 worker, 2 workers) runs (default 3)")
    ap.add_argument("--local", action="store_true",
                    help="also run the local executor once and compare every run with it (+30 s)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cluster.json"))
    args = ap.parse_args(argv)
    if not Path(args.data).exists():
        print(f"cluster: {args.data} not found", file=sys.stderr)
        return 1
    cfg = BenchConfig(specs=[m for m in args.models.split(",") if m], data=[args.data])
    before = uptime()
    runs, reference = [], None
    if args.local:
        res = run(cfg, executor="local")
        reference = comparable(res)
        runs.append({"executor": "local", "workers": 1, "round": 0, "wall_s": res["wall_s"], "identical": True})
    clusters = {n: start(n) for n in (1, 2)}
    try:
        for r in range(1, args.rounds + 1):
            for n in (1, 2):
                load, cpu = os.getloadavg()[0], time.process_time()
                res = run(cfg, executor=clusters[n][1])
                units = comparable(res)
                reference = units if reference is None else reference
                runs.append({"executor": "dask", "workers": n, "round": r, "wall_s": res["wall_s"],
                             "identical": units == reference, "load_1min_before": load,
                             "client_and_scheduler_cpu_s": time.process_time() - cpu})
    finally:
        for cluster, client, _ in clusters.values():
            client.close()
            cluster.close()
    after = uptime()
    one = {x["round"]: x["wall_s"] for x in runs if x["executor"] == "dask" and x["workers"] == 1}
    two = {x["round"]: x["wall_s"] for x in runs if x["executor"] == "dask" and x["workers"] == 2}
    ratios = [one[r] / two[r] for r in sorted(one)]
    speedup = statistics.median(ratios)
    identical = all(x["identical"] for x in runs)
    print(f"codec bench ({', '.join(cfg.specs)}; chunked 2048 B + whole files) on {args.data}, "
          f"{len(reference)} units per run")
    print("| executor | workers | round | wall s | speed-up vs 1 worker (same round) | results identical "
          "| load before | client+scheduler CPU s |")
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    for x in runs:
        ratio = f"{one[x['round']] / x['wall_s']:.2f}x" if x["executor"] == "dask" else "-"
        extra = (f"{x['load_1min_before']:.2f} | {x['client_and_scheduler_cpu_s']:.1f}" if x["executor"] == "dask"
                 else "- | -")
        print(f"| {x['executor']} | {x['workers']} | {x['round']} | {x['wall_s']:.1f} | {ratio} | "
              f"{'yes' if x['identical'] else 'NO'} | {extra} |")
    print(f"median speed-up 2 workers vs 1: {speedup:.2f}x; identical: {identical}")
    print(f"uptime before: {before}\nuptime after:  {after}")
    info = machine_info()
    out = {"benchmark": "codec bench on a local Dask cluster, 2 workers vs 1", "data": args.data,
           "models": cfg.specs, "units_per_run": len(reference), "runs": runs, "ratios": ratios,
           "median_speedup": speedup, "identical": identical,
           "cluster_start_s": {str(n): c[2] for n, c in clusters.items()},
           "uptime_before": before, "uptime_after": after, "machine": info, "machine_line": describe(info)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")
    return 0 if identical else 1


if __name__ == "__main__":
    run_script(main, "cluster")
