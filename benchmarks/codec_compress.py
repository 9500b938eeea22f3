"""Codec models as compressors, before/after: output bytes, bits/byte, speed, round trip.

    .venv/bin/python benchmarks/codec_compress.py                 # after, six codecs
    .venv/bin/python benchmarks/codec_compress.py --before gzip,bz2   # + the old route

"After" is ``compgen.as_compressor(spec)`` (codec-mix-v1 coder, stored fallback).
"Before" codes the Model's own distribution 2^-8 len(C(ctx + b)) with 256 compressions
per byte and no floor (byte-range-v1, the route every codec model used before issue 10),
payload only, without the container's stored fallback so its bits show. "order-3 alone"
is the adaptive model inside codec-mix without any codec (the reference the codec's
contribution is measured against). Input:
the first N bytes of Canterbury alice29.txt (English). Prints a table, writes
benchmarks/results/codec_compress.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from compgen.coding.byte_coder import floored  # noqa: E402
from compgen.coding.range_coder import SymbolEncoder  # noqa: E402
from compgen.compressors.codec_coder import DEFAULT_ORDER, OrderK  # noqa: E402
from compgen.model import as_compressor  # noqa: E402
from compgen.registry import load  # noqa: E402

SPECS = ["gzip", "zstd", "bz2", "ppmd", "xz", "brotli"]
HEADER_ALLOWANCE = 48


def after(spec: str, data: bytes) -> dict:
    comp = as_compressor(load(spec))
    t0 = time.perf_counter()
    blob = comp.compress(data)
    t1 = time.perf_counter()
    ok = comp.decompress(blob) == data
    t2 = time.perf_counter()
    comp.model.close()
    return {"spec": comp.model.spec, "bytes": len(blob), "bits_per_byte": round(8 * len(blob) / len(data), 3),
            "compress_Bps": round(len(data) / (t1 - t0), 1), "decompress_Bps": round(len(data) / (t2 - t1), 1),
            "stored": comp.last_stats["stored"], "round_trip": ok,
            "within_48": len(blob) <= len(data) + HEADER_ALLOWANCE}


def before(spec: str, data: bytes) -> dict:
    model = load(spec)
    enc = SymbolEncoder()
    t0 = time.perf_counter()
    for i, b in enumerate(data):
        enc.encode(b, model.next_byte_probs(data[:i]))
    payload = enc.finish()
    t1 = time.perf_counter()
    model.close()
    return {"spec": model.spec, "payload_bytes": len(payload), "bits_per_byte": round(8 * len(payload) / len(data), 3),
            "ideal_bits_per_byte": round(enc.ideal_bits / len(data), 3),
            "compress_Bps": round(len(data) / (t1 - t0), 1)}


def orderk_alone(data: bytes) -> float:
    model = OrderK(DEFAULT_ORDER)
    hist = bytearray()
    bits = 0.0
    for b in data:
        bits -= float(np.log2(floored(model.probs(hist))[b]))
        model.update(hist, b)
        hist.append(b)
    return bits / len(data)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bytes", type=int, default=1500)
    ap.add_argument("--file", default=str(REPO.parent / "shared" / "data" / "canterbury" / "alice29.txt"))
    ap.add_argument("--specs", default=",".join(SPECS))
    ap.add_argument("--before", default="", help="comma list of specs to also measure the old route for")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "codec_compress.json"))
    args = ap.parse_args()
    data = Path(args.file).read_bytes()[: args.bytes]
    rows = []
    for spec in [s for s in args.specs.split(",") if s]:
        row = {"name": spec, "after": after(spec, data)}
        if spec in args.before.split(","):
            row["before"] = before(spec, data)
        rows.append(row)
        a, b = row["after"], row.get("before")
        print(f"{spec:8s} after {a['bytes']:6d} B {a['bits_per_byte']:6.3f} bpb {a['compress_Bps']:8.1f} B/s "
              f"(decode {a['decompress_Bps']:.1f} B/s) stored={a['stored']} ok={a['round_trip']}"
              + (f" | before {b['payload_bytes']} B {b['bits_per_byte']:.3f} bpb {b['compress_Bps']:.1f} B/s" if b else ""),
              flush=True)
    ref = orderk_alone(data)
    print(f"order-{DEFAULT_ORDER} alone (no codec): {ref:.3f} bits/byte (ideal)")
    result = {"input": f"{Path(args.file).name}[:{len(data)}]", "bytes": len(data), "rows": rows,
              "orderk_alone_bits_per_byte": round(ref, 3),
              "loadavg": os.getloadavg(), "cpus": os.cpu_count()}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
