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
    p.add_argument("files", nargs="*", help="files to score (default: stdin); image:PATH / audio:PATH score "
                                            "the picture's 32x64 grayscale patches / the sound's 2048-byte "
                                            "8-bit chunks, each on its own (files or folders)")
    p.add_argument("--patch", default="32x64", help="image patch ROWSxCOLS (default 32x64)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    from ..executors import add_arguments

    add_arguments(p, workers=True)
    return p


def score_unit(spec: str, data: bytes, modality: str = "bytes", info: dict | None = None) -> dict:
    """One (model, piece) unit: code length and native size; the model is built once per process.
    Image/audio pieces are compressed natively as media (PNG/FLAC need their shape/rate)."""
    from ..executors import cached_model

    model = cached_model(spec)[0]
    t = time.perf_counter()
    bits = float(model.code_length(data)) if data else 0.0
    native = None
    if hasattr(model, "compressed_size"):
        native = (len(model.compress_media(data, info)) if modality in ("image", "audio")
                  else model.compressed_size(data))
    return {"model": model.spec, "bits": bits, "native_bytes": native, "seconds": time.perf_counter() - t}


def _inputs(files: list[str], opt) -> list[tuple[str, str, list]]:
    """(row name, modality, [(Data, info)]) per row. image:/audio: arguments (files or folders)
    are one row of patches/chunks, each scored on its own (decoded samples: sent as bytes);
    a bytes/text file is one whole piece workers may read from disk; a folder of bytes/text
    stands for each file directly inside it."""
    import os
    from pathlib import Path

    from ..data import expand_paths, parse_data_spec, read_modal
    from ..executors import Data

    out = []
    for f in files:
        if f == "-":
            out.append(("<stdin>", "bytes", [(Data(read_input(f)), {})]))
            continue
        spec = parse_data_spec(f)
        if spec.modality in ("image", "audio"):
            _, pieces = read_modal(f, opt)
            out.append((f, spec.modality, [(Data(p.data), p.info) for p in pieces]))
        elif Path(spec.path).is_dir():
            out += [(str(q), "bytes", [(Data(read_input(str(q)), os.path.abspath(q)), {})])
                    for q in expand_paths([spec.path])]
        else:
            out.append((spec.path, "bytes", [(Data(read_input(spec.path), os.path.abspath(spec.path)), {})]))
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
    from ..data import Options
    from ..data.image import parse_patch
    from ..executors import from_args, map_units, open_backend
    from ..lm.seven_bit import spec_for_modality

    executor = from_args(args)
    inputs = _inputs(args.files or ["-"], Options(patch=parse_patch(args.patch)))
    # one unit per (model, piece), grouped by model so each loads once per worker
    units = [(spec, row, k, data, info) for spec in specs for row, (_, _, pieces) in enumerate(inputs)
             for k, (data, info) in enumerate(pieces)]
    with open_backend(executor, ship_data=args.ship_data) as backend:
        results = map_units(
            backend, score_unit,
            [(spec_for_modality(spec, inputs[row][1]), data, inputs[row][1], info) for spec, row, _, data, info in units],
            labels=[f"{spec} on {inputs[row][0]}" + (f" piece {k}" if len(inputs[row][2]) > 1 else "")
                    for spec, row, k, _, _ in units],
            weights=[len(data.data) for *_, data, _ in units], desc="score", unit="B")
    totals: dict = {}  # (spec, row) -> summed result
    for (spec, row, *_), res in zip(units, results):
        t = totals.setdefault((spec, row), {"model": res["model"], "bits": 0.0, "native_bytes": 0, "seconds": 0.0})
        t["bits"] += res["bits"]
        t["seconds"] += res["seconds"]
        t["native_bytes"] = None if res["native_bytes"] is None or t["native_bytes"] is None \
            else t["native_bytes"] + res["native_bytes"]
    rows = []
    for row, (name, _, pieces) in enumerate(inputs):
        n = sum(len(d.data) for d, _ in pieces)
        for spec in specs:
            res = totals.get((spec, row)) or {"model": spec_for_modality(spec, inputs[row][1]), "bits": 0.0,
                                              "native_bytes": 0, "seconds": 0.0}  # an input with no pieces
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
    if any(m != "bytes" for _, m, _ in inputs):
        console().print("[dim]image/audio: each patch/chunk scored on its own; token LMs through the exact "
                        "7-bit scheme (7bit:)[/dim]")
    if args.json:
        from ..fileio import write_atomic

        write_atomic(args.json, json.dumps(rows, indent=2).encode(), force=True)
    return 0
