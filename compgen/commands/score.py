"""``compgen score``: bits per byte of files under several models, side by side."""

from __future__ import annotations

import json
import time

from ..fileio import read_input
from ..registry import load, split_specs


def add_parser(sub):
    p = sub.add_parser("score", help="bits/byte of files under each model",
                       description="Code length of each FILE under each model (codecs: native compressed "
                                   "size; LMs: cross-entropy), as bits per byte.")
    p.add_argument("-m", "--models", default="gzip,zstd,brotli,xz,bz2,ppmd", help="comma-separated model specs")
    p.add_argument("files", nargs="*", help="files to score (default: stdin)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return p


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    files = args.files or ["-"]
    inputs = [(f, read_input(f)) for f in files]
    models = [load(s) for s in split_specs(args.models)]
    rows = []
    for name, data in inputs:
        for model in models:
            t = time.perf_counter()
            bits = model.code_length(data) if data else 0.0
            rows.append({"file": name, "model": model.spec, "bytes": len(data), "bits": bits,
                         "bits_per_byte": bits / len(data) if data else 0.0,
                         "seconds": time.perf_counter() - t})
    table = Table(title="code length (bits per byte, lower is better)")
    for col, kw in [("file", {}), ("model", {}), ("bytes", {"justify": "right"}),
                    ("bits/byte", {"justify": "right"}), ("seconds", {"justify": "right"})]:
        table.add_column(col, **kw)
    for r in rows:
        table.add_row(r["file"], r["model"], str(r["bytes"]), f"{r['bits_per_byte']:.3f}", f"{r['seconds']:.2f}")
    Console().print(table)
    if args.json:
        from ..fileio import write_atomic

        write_atomic(args.json, json.dumps(rows, indent=2).encode(), force=True)
    return 0
