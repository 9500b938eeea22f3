"""SmolLM2 as a compressor next to xz / zstd / brotli / PPMd.

    .venv/bin/python benchmarks/lm.py                        # alice29 (whole) + enwik8_head (100 KB)
    .venv/bin/python benchmarks/lm.py --max-bytes 4000 --files alice29   # quick look
    .venv/bin/python benchmarks/lm.py --model smollm2,smollm2:quant=int8   # several models
    .venv/bin/python benchmarks/lm.py --files random64k      # 64 KiB of seeded random bytes

Per file: bits/byte of the coded .cg file (container included), the model's own
cross-entropy under the same segment plan (sum of -log2 p over the coded tokens), the
coder overhead (payload over cross-entropy), compress and decompress bytes/s, and an
exact round-trip check. Codecs are whole-file native sizes. Prints a table and writes
benchmarks/results/lm.json after every file (partial results survive an interruption).
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

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = {"alice29": ("canterbury/alice29.txt", None), "enwik8_head": ("enwik8_head.txt", 100_000),
         "random64k": (None, 65536)}  # generated: binary input through the token codec's escapes
CODECS = ["xz:level=9:extreme=1", "zstd:level=22", "brotli:level=11:lgwin=24", "ppmd:order=6"]


def load_avg() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def measure_lm(model, data: bytes, save=None) -> dict:
    """Compress (result saved via ``save(partial_row)``), then decompress and verify."""
    import compgen

    comp = compgen.as_compressor(model)
    load0, t = load_avg(), time.perf_counter()
    blob = comp.compress(data)
    t_c = time.perf_counter() - t
    stats = comp.last_stats
    header = compgen.coding.container.read_header(blob)
    n = len(data)
    row = {"model": model.spec, "bytes": n, "container_bytes": len(blob), "bits_per_byte": 8 * len(blob) / n,
           "cross_entropy_bpb": stats["ideal_bits"] / n, "payload_bpb": stats["payload_bits"] / n,
           "coder_overhead": stats["payload_bits"] / stats["ideal_bits"] - 1,
           "tokens": header.coder["tokens"], "streams": header.coder["streams"], "segment": header.coder["segment"],
           "window": header.coder["window"], "threads": header.coder["threads"],
           "compress_Bps": n / t_c, "compress_s": t_c, "decompress_Bps": None, "decompress_s": None,
           "roundtrip_ok": None, "load_avg_start": load0, "load_avg_end": load_avg()}
    if save:
        save(row)
    t = time.perf_counter()
    out = compgen.as_compressor(model).decompress(blob)
    t_d = time.perf_counter() - t
    row.update(decompress_Bps=n / t_d, decompress_s=t_d, roundtrip_ok=out == data, load_avg_end=load_avg())
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2", help="comma list of model specs")
    ap.add_argument("--files", default="alice29,enwik8_head", help="comma list of: " + ", ".join(FILES))
    ap.add_argument("--max-bytes", type=int, default=None, help="cut every file to this many bytes")
    ap.add_argument("--no-lm", action="store_true", help="codecs only")
    ap.add_argument("--json", default=str(Path(__file__).resolve().parent / "results" / "lm.json"))
    args = ap.parse_args(argv)
    unknown = [k for k in args.files.split(",") if k not in FILES]
    if unknown:
        ap.error(f"unknown --files {', '.join(unknown)} (choose from {', '.join(FILES)})")

    import compgen

    from compgen.registry import split_specs

    models = [] if args.no_lm else [compgen.load(spec) for spec in split_specs(args.model)]
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
               "note": "speeds measured on a shared 2-core machine; see load_avg fields", "files": []}
    for key in args.files.split(","):
        rel, cut = FILES[key]
        if rel is None:
            data = np.random.default_rng(0).bytes(cut)
        elif (DATA / rel).exists():
            data = (DATA / rel).read_bytes()
        else:
            print(f"skip {key}: {DATA / rel} missing")
            continue
        limit = min(x for x in (cut, args.max_bytes, len(data)) if x)
        data = data[:limit]
        row = {"file": key, "bytes": len(data), "codecs": {}, "lms": []}
        for spec in CODECS:
            m = compgen.load(spec)
            t = time.perf_counter()
            size = len(m.compress(data))
            row["codecs"][spec] = {"bits_per_byte": 8 * size / len(data), "seconds": time.perf_counter() - t}
        results["files"].append(row)

        def save():
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(results, indent=2))

        def add(lm_row):  # the compress half, saved before decompressing (same dict, updated later)
            row["lms"].append(lm_row)
            save()

        save()
        for model in models:
            measure_lm(model, data, add)
            save()
        print_row(row)
    print(f"wrote {args.json}")
    return 0


def print_row(row: dict) -> None:
    print(f"\n{row['file']} ({row['bytes']} bytes)")
    print(f"  {'model':34s} {'bits/byte':>9s} {'x-ent':>7s} {'overhead':>9s} {'comp B/s':>9s} {'dec B/s':>9s} ok")
    for lm in row["lms"]:
        print(f"  {lm['model']:34s} {lm['bits_per_byte']:9.4f} {lm['cross_entropy_bpb']:7.4f} "
              f"{100 * lm['coder_overhead']:8.3f}% {lm['compress_Bps']:9.0f} {lm['decompress_Bps'] or 0:9.0f} "
              f"{lm['roundtrip_ok']}  (load {lm['load_avg_start']:.1f}->{lm['load_avg_end']:.1f})")
    for spec, r in row["codecs"].items():
        print(f"  {spec:34s} {r['bits_per_byte']:9.4f}")


if __name__ == "__main__":
    sys.exit(main())
