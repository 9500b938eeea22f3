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
    p.add_argument("files", nargs="*", help="files to score (default: stdin); image:PATH / audio:PATH score "
                                            "the picture's 32x64 grayscale patches / the sound's 2048-byte "
                                            "8-bit chunks, each on its own (files or folders)")
    p.add_argument("--patch", default="32x64", help="image patch ROWSxCOLS (default 32x64)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return p


class _Whole:
    """A whole file as one piece (score's plain-bytes path)."""

    def __init__(self, data: bytes):
        self.data = data
        self.info: dict = {}


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
    from ..data import Options, parse_data_spec, read_modal
    from ..data.image import parse_patch
    from ..lm.seven_bit import spec_for_modality

    opt = Options(patch=parse_patch(args.patch))
    files = args.files or ["-"]
    inputs = []  # (name, modality, pieces): media are scored piece by piece, as the paper's chunks
    for f in files:
        spec = parse_data_spec(f) if f != "-" else None
        if spec is not None and spec.modality in ("image", "audio"):
            _, pieces = read_modal(f, opt)
            inputs.append((f, spec.modality, pieces))
        else:
            path = spec.path if spec is not None else f
            inputs.append((path if f != "-" else "<stdin>", "bytes", [_Whole(read_input(path))]))
    loaded: dict = {}

    def model_for(spec: str, modality: str):
        real = spec_for_modality(spec, modality)
        if real not in loaded:
            loaded[real] = load(real)
        return loaded[real]

    rows = []
    with progress_bar("score", len(inputs) * len(specs), unit="runs") as advance:
        for name, modality, pieces in inputs:
            for spec in specs:
                model = model_for(spec, modality)
                t = time.perf_counter()
                data = b"".join(p.data for p in pieces)
                bits = float(sum(model.code_length(p.data) for p in pieces if p.data))
                native = (sum(len(model.compress_media(p.data, p.info)) if modality != "bytes" else
                              model.compressed_size(p.data) for p in pieces)
                          if hasattr(model, "compressed_size") else None)
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
    if any(m != "bytes" for _, m, _ in inputs):
        console().print("[dim]image/audio: each patch/chunk scored on its own; token LMs through the exact "
                        "7-bit scheme (7bit:)[/dim]")
    if args.json:
        from ..fileio import write_atomic

        write_atomic(args.json, json.dumps(rows, indent=2).encode(), force=True)
    return 0
