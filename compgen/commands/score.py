"""``compgen score``: bits per byte of files under several models, side by side."""

from __future__ import annotations

import json
import time

from ..fileio import read_input
from ..registry import load, parse_spec, split_specs


def add_parser(sub):
    p = sub.add_parser("score", help="bits/byte of files under each model",
                       description="Code length of each FILE under each model as bits per byte (codecs: "
                                   "compressed size minus that of an empty input, i.e. without container "
                                   "headers; LMs: cross-entropy). Codecs also show their native file size.")
    p.add_argument("-m", "--models", "--model", default="gzip,zstd,brotli,xz,bz2,ppmd",
                   help="comma-separated model specs (default: gzip,zstd,brotli,xz,bz2,ppmd)")
    p.add_argument("files", nargs="*", help="files to score (default: stdin)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return p


def console():
    """A rich console that does not squeeze tables to 80 columns when piped."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)


def run(args) -> int:
    from rich.table import Table

    from ..progress import progress_bar

    specs = split_specs(args.models)
    if not specs:
        from ..errors import UsageError

        raise UsageError("no model given (-m gzip,zstd,...)")
    for spec in specs:  # every spec is checked before any slow loading or reading
        parse_spec(spec)
    files = args.files or ["-"]
    inputs = [(f if f != "-" else "<stdin>", read_input(f)) for f in files]
    models = [load(s) for s in specs]
    rows = []
    with progress_bar("score", len(inputs) * len(models), unit="runs") as advance:
        for name, data in inputs:
            for model in models:
                t = time.perf_counter()
                bits = float(model.code_length(data)) if data else 0.0
                native = model.compressed_size(data) if hasattr(model, "compressed_size") else None
                rows.append({"file": name, "model": model.spec, "bytes": len(data), "bits": bits,
                             "bits_per_byte": bits / len(data) if data else 0.0,
                             "native_bytes": native, "seconds": time.perf_counter() - t})
                advance(1)
    table = Table(title="code length (bits per byte, lower is better)")
    right = {"justify": "right"}
    for col, kw in [("file", {}), ("model", {}), ("bytes", right), ("bits/byte", right),
                    ("native file bytes", right), ("seconds", right)]:
        table.add_column(col, **kw)
    for r in rows:
        native = "-" if r["native_bytes"] is None else str(r["native_bytes"])
        table.add_row(r["file"], r["model"], str(r["bytes"]), f"{r['bits_per_byte']:.3f}", native,
                      f"{r['seconds']:.2f}")
    console().print(table)
    if args.json:
        from ..fileio import write_atomic

        write_atomic(args.json, json.dumps(rows, indent=2).encode(), force=True)
    return 0
