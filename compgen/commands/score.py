"""``compgen score``: bits per byte of files under several models, side by side."""

from __future__ import annotations

import json
import time

from ..fileio import read_input
from ..registry import parse_spec, split_specs


def add_parser(sub):
    p = sub.add_parser("score", help="bits/byte of files under each model",
                       description="Code length of each FILE under each model as bits per byte (codecs: "
                                   "compressed size minus that of an empty input, i.e. without container "
                                   "headers; LMs: cross-entropy). Codecs also show their native file size.")
    p.add_argument("-m", "--models", "--model", default="gzip,zstd,brotli,xz,bz2,ppmd",
                   help="comma-separated model specs (default: gzip,zstd,brotli,xz,bz2,ppmd)")
    p.add_argument("files", nargs="*", help="files to score (default: stdin)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    from ..executors import add_arguments

    add_arguments(p, workers=True)
    return p


def score_unit(spec: str, data: bytes) -> dict:
    """One (model, file) unit: code length and native size; the model is built once per process."""
    from ..executors import cached_model

    model = cached_model(spec)[0]
    t = time.perf_counter()
    bits = float(model.code_length(data)) if data else 0.0
    native = model.compressed_size(data) if hasattr(model, "compressed_size") else None
    return {"model": model.spec, "bits": bits, "native_bytes": native, "seconds": time.perf_counter() - t}


def _inputs(files: list[str]):
    """(name, Data) per input; a directory stands for the files directly inside it."""
    import os
    from pathlib import Path

    from ..bench.data import expand_paths
    from ..executors import Data

    out = []
    for f in files:
        if f != "-" and Path(f).is_dir():
            out += [(str(p), Data(read_input(str(p)), os.path.abspath(p))) for p in expand_paths([f])]
        else:
            out.append((f if f != "-" else "<stdin>", Data(read_input(f), None if f == "-" else os.path.abspath(f))))
    return out


def console():
    """A rich console that does not squeeze tables to 80 columns when piped."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)


def run(args) -> int:
    from rich.table import Table

    specs = split_specs(args.models)
    if not specs:
        from ..errors import UsageError

        raise UsageError("no model given (-m gzip,zstd,...)")
    for spec in specs:  # every spec is checked before any slow loading or reading
        parse_spec(spec)
    from ..executors import from_args, map_units, open_backend

    executor = from_args(args)
    inputs = _inputs(args.files or ["-"])
    pairs = [(spec, name, data) for spec in specs for name, data in inputs]  # grouped by model: each loads once
    with open_backend(executor, ship_data=args.ship_data) as backend:
        results = map_units(backend, score_unit, [(spec, data) for spec, _, data in pairs],
                            labels=[f"{spec} on {name}" for spec, name, _ in pairs], desc="score", unit="runs")
    by_pair = {(spec, name): res for (spec, name, _), res in zip(pairs, results)}
    rows = []
    for name, data in inputs:
        for spec in specs:
            res, n = by_pair[spec, name], len(data.data)
            rows.append({"file": name, "model": res["model"], "bytes": n, "bits": res["bits"],
                         "bits_per_byte": res["bits"] / n if n else 0.0, "native_bytes": res["native_bytes"],
                         "seconds": res["seconds"]})
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
