"""SmolLM2's 32-stream coding step under each OpenMP wait setting, and during the ring's fill.

    .venv/bin/python benchmarks/lm_wait.py                 # 3 interleaved rounds (idle machine!)
    .venv/bin/python benchmarks/lm_wait.py --rounds 1 --steps 30

Part 1: every round runs one fresh process per setting (the wait policy is read once, when
torch loads): PASSIVE, PASSIVE + GOMP_SPINCOUNT=10000 (what compgen.lm.openmp picks on an
idle machine), GOMP_SPINCOUNT=1000, ACTIVE, and one thread; each primes 500 tokens and times
``--steps`` full-ring steps (median). Part 2, in one process: mean step during the ring's
fill (positions 8..508) with the filled slots sliced (old files) and with the whole ring
masked (coder flag bit 5). Prints tables; writes benchmarks/results/lm_wait.json with the
load average before and after (the figures only mean something on an idle machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SETTINGS = {
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "passive + spin 10000": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "10000"},
    "passive + spin 1000": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "1000"},
    "active": {"OMP_WAIT_POLICY": "ACTIVE"},
    "one thread (passive)": {"OMP_WAIT_POLICY": "PASSIVE", "THREADS": "1"},
}


def child(kind: str, streams: int, steps: int, threads: int) -> dict:
    import numpy as np

    import compgen
    from compgen.lm.stepper import LlamaStepper

    model = compgen.load(f"smollm2:threads={threads}")
    model.set_threads()
    ids = np.random.default_rng(0).integers(0, 49152, streams)
    if kind == "full":  # a full ring, then timed steps
        st = LlamaStepper(model.net, streams, 512, 100_000, bf16=True, full_ring=True)
        st.prime(np.random.default_rng(1).integers(0, 49152, (streams, 500)))
        for _ in range(15):
            st.step(ids)
        times = []
        for _ in range(steps):
            t = time.perf_counter()
            st.step(ids)
            times.append(time.perf_counter() - t)
        return {"median_ms": 1e3 * float(np.median(times)), "mean_ms": 1e3 * float(np.mean(times))}
    out = {}
    for ring in (False, True):  # the fill: positions 8..508
        st = LlamaStepper(model.net, streams, 512, 100_000, bf16=True, full_ring=ring)
        st.prime(np.random.default_rng(1).integers(0, 49152, (streams, 8)))
        t = time.perf_counter()
        for _ in range(500):
            st.step(ids)
        out["whole ring, masked" if ring else "filled slots, sliced"] = 1e3 * (time.perf_counter() - t) / 500
    return out


def run_child(kind: str, env_extra: dict, args) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "COMPGEN_OMP_SPIN")}
    env.update({k: v for k, v in env_extra.items() if k != "THREADS"})
    threads = int(env_extra.get("THREADS", 2))
    cmd = [sys.executable, __file__, "--child", kind, "--streams", str(args.streams), "--steps", str(args.steps),
           "--threads", str(threads)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--streams", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", choices=["full", "fill"])
    ap.add_argument("--skip-fill", action="store_true")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "lm_wait.json"))
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.streams, args.steps, args.threads)))
        return 0
    load0 = os.getloadavg()
    rows: dict = {name: [] for name in SETTINGS}
    for r in range(args.rounds):
        for name, env in SETTINGS.items():
            rows[name].append(run_child("full", env, args)["median_ms"])
            print(f"round {r + 1}: {name:24s} {rows[name][-1]:7.1f} ms", flush=True)
    fill = None if args.skip_fill else run_child("fill", {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "10000"}, args)
    print(f"\n{args.streams}-stream full-ring step, median of {args.steps} (ms), {args.rounds} rounds interleaved")
    print("| wait | " + " | ".join(f"round {i + 1}" for i in range(args.rounds)) + " |")
    print("|---|" + "---:|" * args.rounds)
    for name, vals in rows.items():
        print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in vals) + " |")
    if fill:
        print("\nmean step during the fill (positions 8..508), spin 10000: "
              + ", ".join(f"{k} {v:.1f} ms" for k, v in fill.items()))
    doc = {"streams": args.streams, "steps": args.steps, "load_avg_before": load0, "load_avg_after": os.getloadavg(),
           "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "full_ring_median_ms": rows, "fill_mean_ms": fill}
    Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
