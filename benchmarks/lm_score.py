"""Teacher-forced scoring speed and bits/byte of a token LM by window / overlap / batch.

    flock /tmp/compgen-cpu.lock .venv/bin/python benchmarks/lm_score.py            # speed + overlap sweep
    .venv/bin/python benchmarks/lm_score.py --speed-tokens 2048 --overlap-tokens 8000   # quick look

Speed rows score the first ``--speed-tokens`` tokens of alice29 (tokens/s, one process,
``--threads``); "old" is the previous path (one window of 512 per forward, overlap 1/4,
float64 log-softmax); the others use float32 exp with a float64 sum. Overlap rows score alice29's first ``--overlap-tokens`` tokens (0 =
whole file) and give bits/byte. Prints a table; writes benchmarks/results/lm_score.json
with ``uptime`` before and after.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# (label, window, overlap, batch, float64 log-softmax)
SPEED = [("old: 512, overlap 127, batch 1, f64 softmax", 512, 127, 1, True),
         ("1024, overlap 128, batch 1, f64 softmax", 1024, 128, 1, True),
         ("1024, overlap 128, batch 1", 1024, 128, 1, False),
         ("1024, overlap 128, batch 2", 1024, 128, 2, False),
         ("1024, overlap 128, batch 4", 1024, 128, 4, False),
         ("512, overlap 64, batch 4", 512, 64, 4, False),
         ("512, overlap 64, batch 8", 512, 64, 8, False),
         ("2048, overlap 128, batch 2", 2048, 128, 2, False)]
OVERLAP = [(1024, 0), (1024, 64), (1024, 128), (1024, 256)]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def bits(model, tokens, window, overlap, batch, float64=False):
    """token_bits with a choice of log-softmax precision (the library path: float32 exp, float64 sum)."""
    from compgen.lm.model import score_windows

    w, overlap, batch = model.score_settings(window, overlap, batch)
    spans = score_windows(len(tokens), 0, w, overlap)
    logps = model.windows_logprobs([np.concatenate([[model.codec.bos_id], tokens[lo:hi]]) for lo, hi, _ in spans],
                                   batch, float64=float64)
    return -sum(float(lp[s - lo:].sum()) for lp, (lo, _, s) in zip(logps, spans)) / np.log(2)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--speed-tokens", type=int, default=6144)
    ap.add_argument("--overlap-tokens", type=int, default=0, help="0: all of alice29")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-overlap", action="store_true")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "lm_score.json"))
    args = ap.parse_args(argv)
    from compgen.registry import load

    before = uptime()
    model = load(f"{args.model}:threads={args.threads}")
    data = (DATA / "canterbury" / "alice29.txt").read_bytes()
    tokens = np.asarray(model.codec.encode(data), dtype=np.int64)
    bpt = len(data) / len(tokens)
    rows = []
    if not args.skip_speed:
        part = tokens[: args.speed_tokens]
        bits(model, part[:600], 512, 64, 1)  # warm-up
        for label, window, overlap, batch, f64 in SPEED:
            t = time.perf_counter()
            b = bits(model, part, window, overlap, batch, f64)
            dt = time.perf_counter() - t
            rows.append({"kind": "speed", "label": label, "window": window, "overlap": overlap, "batch": batch,
                         "float64": f64, "tokens": len(part), "seconds": dt, "tokens_per_s": len(part) / dt,
                         "bits_per_token": b / len(part)})
            print(f"{label:42s} {len(part) / dt:7.1f} tok/s  {b / len(part):.5f} bits/token", flush=True)
    if not args.skip_overlap:
        part = tokens[: args.overlap_tokens] if args.overlap_tokens else tokens
        n_bytes = len(model.codec.decode(part)) if args.overlap_tokens else len(data)
        for window, overlap in OVERLAP:
            t = time.perf_counter()
            b = bits(model, part, window, overlap, 4)
            dt = time.perf_counter() - t
            rows.append({"kind": "overlap", "window": window, "overlap": overlap, "batch": 4, "tokens": len(part),
                         "bytes": n_bytes, "seconds": dt, "tokens_per_s": len(part) / dt,
                         "bits_per_byte": b / n_bytes})
            print(f"window {window:5d} overlap {overlap:4d}: {b / n_bytes:.4f} bits/byte  {len(part) / dt:7.1f} tok/s",
                  flush=True)
    after = uptime()
    print("\n| setting | tokens/s | bits/byte |\n|---|---|---|")
    for r in rows:
        label = r.get("label") or f"{r['window']}, overlap {r['overlap']}, batch 4 ({r['tokens']} tokens)"
        bpb = r.get("bits_per_byte", r.get("bits_per_token", 0) / bpt if "bits_per_token" in r else None)
        print(f"| {label} | {r['tokens_per_s']:.0f} | {bpb:.4f} |")
    print(f"uptime before: {before}\nuptime after:  {after}")
    out = {"model": model.spec, "file": "alice29.txt", "file_tokens": len(tokens), "bytes_per_token": bpt,
           "uptime_before": before, "uptime_after": after, "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
