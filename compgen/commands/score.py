"""``cgz score``: bits per byte of files under several models, side by side."""

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
    p.add_argument("--verify", action="store_true",
                   help="also code every piece for real and decode it (LMs: range coder; codecs: native "
                        "decompress): the coded size column, next to the LMs' cross-entropy")
    p.add_argument("--lm-binary", action="store_true",
                   help="score binary files (NUL bytes or > 5%% control bytes) with token LMs too, through the "
                        "token codec's escapes (default: skipped, shown as '-')")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    from ..executors import add_arguments

    add_arguments(p, workers=True)
    return p


def score_unit(spec: str, data: bytes, modality: str = "bytes", info: dict | None = None,
               verify: bool = False) -> dict:
    """One (model, piece) unit: code length (LMs: teacher-forced cross-entropy) and native size;
    the model is built once per process. Image/audio pieces are compressed natively as media
    (PNG/FLAC need their shape/rate). ``verify``: LMs are also range coded and decoded (the
    coded size), codecs decompress their native output; ``verified`` says whether it matched."""
    from ..executors import cached_model

    model = cached_model(spec)[0]
    t = time.perf_counter()
    data = bytes(data)
    bits = float(model.code_length(data)) if data else 0.0
    native = coded = verified = None
    media = modality in ("image", "audio")
    if hasattr(model, "compressed_size"):
        blob = model.compress_media(data, info) if media else None
        native = len(blob) if media else model.compressed_size(data)
        if verify:
            from ..bench.unit import _decompress_native

            blob = blob if blob is not None else model.compress(data)
            coded, verified = len(blob), _decompress_native(model, blob, len(data)) == data
    elif verify:
        from ..model import as_compressor

        comp = as_compressor(model)
        blob = comp.compress(data)
        coded, verified = len(blob), as_compressor(model).decompress(blob) == data
    inner = getattr(model, "lm", model)  # 7bit: wraps a token LM
    bf16 = bool(getattr(inner, "scoring_bf16", lambda: False)())
    return {"model": model.spec, "bits": bits, "native_bytes": native, "coded_bytes": coded, "verified": verified,
            "seconds": time.perf_counter() - t, "bf16": bf16}


def is_token_lm(spec: str) -> bool:
    """A tokenizer-based LM (its byte codec escapes bytes the vocabulary lacks)."""
    from ..registry import parse_spec

    entry, _ = parse_spec(spec)
    return "transformers" in getattr(entry, "needs", ()) and entry.name not in ("byte-lm", "7bit")


def looks_binary(data: bytes) -> bool:
    """NUL bytes, or more than 5 % control bytes (other than tab, newlines, form feed, escape),
    in the first 64 KB; Latin-1 or UTF-8 text is text."""
    head = bytes(data[:65536])
    if not head:
        return False
    if b"\0" in head:
        return True
    control = sum(head.count(bytes([b])) for b in range(32) if b not in (8, 9, 10, 12, 13, 27)) + head.count(b"\x7f")
    return control > 0.05 * len(head)


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
    skipped = set()  # (spec, row): binary files are not given to token LMs unless --lm-binary
    if not args.lm_binary:
        skipped = {(spec, row) for spec in specs if is_token_lm(spec) for row, (_, modality, pieces) in enumerate(inputs)
                   if modality == "bytes" and any(looks_binary(d.data) for d, _ in pieces)}
    units = [(spec, row, k, data, info) for spec in specs for row, (_, _, pieces) in enumerate(inputs)
             for k, (data, info) in enumerate(pieces) if (spec, row) not in skipped]
    with open_backend(executor, ship_data=args.ship_data) as backend:
        results = map_units(
            backend, score_unit,
            [(spec_for_modality(spec, inputs[row][1]), data, inputs[row][1], info, args.verify)
             for spec, row, _, data, info in units],
            labels=[f"{spec} on {inputs[row][0]}" + (f" piece {k}" if len(inputs[row][2]) > 1 else "")
                    for spec, row, k, _, _ in units],
            weights=[len(data.data) for *_, data, _ in units], desc="score", unit="B")
    totals: dict = {}  # (spec, row) -> summed result
    for (spec, row, *_), res in zip(units, results):
        t = totals.setdefault((spec, row), {"model": res["model"], "bits": 0.0, "native_bytes": 0, "coded_bytes": 0,
                                            "verified": True, "seconds": 0.0, "bf16": res.get("bf16", False)})
        t["bits"] += res["bits"]
        t["seconds"] += res["seconds"]
        for key in ("native_bytes", "coded_bytes"):
            t[key] = None if res[key] is None or t[key] is None else t[key] + res[key]
        t["verified"] = None if res["verified"] is None or t["verified"] is None else t["verified"] and res["verified"]
    rows = []
    for row, (name, _, pieces) in enumerate(inputs):
        n = sum(len(d.data) for d, _ in pieces)
        for spec in specs:
            lm = not is_codec(spec)
            if (spec, row) in skipped:
                rows.append({"file": name, "model": spec, "bytes": n, "measure": "skipped (binary)", "bits": None,
                             "bits_per_byte": None, "native_bytes": None, "coded_bytes": None,
                             "coded_bits_per_byte": None, "verified": None, "seconds": 0.0})
                continue
            res = totals.get((spec, row)) or {"model": spec_for_modality(spec, inputs[row][1]), "bits": 0.0,
                                              "native_bytes": 0, "coded_bytes": 0, "verified": None,
                                              "seconds": 0.0}  # an input with no pieces
            coded = res["coded_bytes"] if args.verify else None
            rows.append({"file": name, "model": res["model"], "bytes": n,
                         "measure": ("cross-entropy (teacher-forced" + (", bf16 matmuls)" if res.get("bf16") else ")"))
                         if lm else "compressed size",
                         "bits": res["bits"], "bits_per_byte": res["bits"] / n if n else 0.0,
                         "native_bytes": res["native_bytes"], "coded_bytes": coded,
                         "coded_bits_per_byte": 8 * coded / n if coded is not None and n else None,
                         "verified": res["verified"] if args.verify else None, "seconds": res["seconds"]})
    table = Table(title="code length (bits per byte, lower is better)")
    right = {"justify": "right"}
    cols = [("file", {}), ("model", {}), ("bytes", right), ("bits/byte", right), ("measure", {}),
            ("native file bytes", right)]
    if args.verify:
        cols += [("coded bits/byte (verified)", right)]
    for col, kw in cols + [("seconds", right)]:
        table.add_column(col, **kw)
    for r in rows:
        native = "-" if r["native_bytes"] is None else str(r["native_bytes"])
        bpb = "-" if r["bits_per_byte"] is None else f"{r['bits_per_byte']:.3f}"
        cells = [r["file"], r["model"], str(r["bytes"]), bpb, r["measure"], native]
        if args.verify:
            cells.append("-" if r["coded_bits_per_byte"] is None else
                         f"{r['coded_bits_per_byte']:.3f}" + ("" if r["verified"] else " FAILED"))
        table.add_row(*cells, f"{r['seconds']:.2f}")
    console().print(table)
    if skipped:
        console().print("[dim]token LMs skip binary files (NUL bytes / > 5% control bytes): '-'; --lm-binary scores "
                        "them through the token codec's escapes[/dim]")
    if any(m != "bytes" for _, m, _ in inputs):
        console().print("[dim]image/audio: each patch/chunk scored on its own; token LMs through the exact "
                        "7-bit scheme (7bit:)[/dim]")
    if args.json:
        from ..fileio import write_atomic

        write_atomic(args.json, json.dumps(rows, indent=2).encode(), force=True)
    if args.verify and any(r["verified"] is False for r in rows):
        from ..errors import CompgenError

        raise CompgenError("a round trip failed (see the table)")
    return 0


def is_codec(spec: str) -> bool:
    from ..bench.unit import is_codec_spec

    return is_codec_spec(spec)
