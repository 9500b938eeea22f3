"""``cgz explain``: a self-contained HTML page (and optionally a PNG) of where each model
spends its bits, byte by byte (text), pixel by pixel (images), sample by sample (audio)."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def add_parser(sub):
    p = sub.add_parser("explain", help="HTML page of each model's bits per byte / pixel / sample",
                       description="Per-byte code lengths of one input under each model (-log2 p(byte | prefix); "
                                   "for codecs the growth of the compressed prefix, the paper's definition), written "
                                   "as one self-contained HTML page: every byte coloured by its bits, a difference "
                                   "view of two models, hover details (token LMs: the token and its top predictions), "
                                   "totals equal to what `cgz score` reports. image:PATH gives heat maps over the "
                                   "picture, audio:PATH bits per sample beside a spectrogram.")
    p.add_argument("input", help="a file (text or bytes), image:PATH, audio:PATH, or - for stdin")
    p.add_argument("-m", "--models", "--model", default="gzip,ppmd", help="comma-separated model specs (default gzip,ppmd)")
    p.add_argument("-o", "--output", help="the HTML page (default: INPUT-NAME.explain.html here)")
    p.add_argument("--png", metavar="FILE", help="also write a static PNG of the same view (matplotlib)")
    p.add_argument("--bytes", type=str, default=None,
                   help="explain at most this many bytes / pixels / samples (default: 32K of text, "
                        "256K pixels, 160K samples; the cut is stated on the page and on stderr)")
    p.add_argument("--png-offset", type=int, default=0, metavar="N",
                   help="text: the static PNG shows the lines from byte N on (default 0)")
    p.add_argument("--diff", metavar="A,B", help="the two models of the difference view (default: the first two)")
    p.add_argument("--smooth", type=int, default=1, help="average the colours over N bytes (images: N x N pixels; display only; default 1)")
    p.add_argument("--stride", type=int, default=None,
                   help="codecs without a fast exact route: compress the prefix every N bytes (default: chosen from "
                        "--budget; each step's bits are spread over its bytes)")
    p.add_argument("--budget", type=float, default=20.0,
                   help="seconds a codec without a fast exact route may spend (default 20)")
    p.add_argument("--patch", default="32x64", help="image patch ROWSxCOLS (default 32x64, as cgz score)")
    p.add_argument("--lm-binary", action="store_true",
                   help="let token LMs explain binary files through their escape tokens (default: refused)")
    p.add_argument("--no-cache", action="store_true",
                   help="recompute every model (default: a model finished by an earlier run on the same bytes "
                        "and settings is read back from ~/.cache/compgen/explain, so a killed run resumes)")
    p.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    return p


def _default_output(arg: str) -> str:
    from ..data import parse_data_spec

    if arg == "-":
        return "stdin.explain.html"
    return Path(parse_data_spec(arg).path).name + ".explain.html"


def run(args) -> int:
    from ..data.image import parse_patch
    from ..data.text import parse_size
    from ..errors import CompgenError, UsageError
    from ..fileio import write_atomic
    from ..registry import load, split_specs
    from ..explain.run import cache_key, check_specs, explain_model, load_cached, load_input, parse_diff, save_cached

    out = args.output or _default_output(args.input)
    outputs = [out] + ([args.png] if args.png else [])
    for path in outputs:  # refuse before any slow work
        if Path(path).exists() and not args.force:
            raise CompgenError(f"{path}: already exists (use -f to overwrite)")
        if Path(path).is_dir():
            raise CompgenError(f"{path}: is a directory")
    if args.smooth < 1:
        raise UsageError("--smooth must be >= 1")
    if args.stride is not None and args.stride < 1:
        raise UsageError("--stride must be >= 1")
    specs = split_specs(args.models)
    max_bytes = parse_size(args.bytes) if args.bytes else None
    from ..registry import parse_spec

    if not specs:
        raise UsageError("no model given (-m gzip,ppmd,...)")
    for s in specs:  # unknown models fail before the input is read
        parse_spec(s)
    report, pieces = load_input(args.input, max_bytes, parse_patch(args.patch))
    run_specs = check_specs(specs, report, args.lm_binary)
    if report.cut and not getattr(args, "quiet", False):
        print(f"explain: {report.cut}", file=sys.stderr)
    report.diff = parse_diff(args.diff, specs)
    report.smooth = args.smooth
    loading = computing = 0.0
    for spec in run_specs:
        t = time.perf_counter()
        model = load(spec)
        loading += time.perf_counter() - t
        try:
            key = cache_key(model, pieces, args.stride, args.budget)
            res = None if args.no_cache else load_cached(key)
            if res is None:
                res = explain_model(model, pieces, stride=args.stride, budget=args.budget, label=spec)
                save_cached(key, res)
            elif not getattr(args, "quiet", False):
                print(f"explain: {spec}: lengths of an earlier run on the same bytes read back (--no-cache "
                      "recomputes)", file=sys.stderr)
        finally:
            close = getattr(model, "close", None)
            if callable(close):
                close()
        computing += res.seconds
        res.label = spec  # as written (token LMs on images/audio: 7bit:SPEC)
        report.models.append(res)
    if any(m.resolution > 1 for m in report.models):
        report.notes.append("A model with a resolution above 1 byte had its prefixes compressed every N bytes "
                            "(no exact per-byte route): each step's bits are spread evenly over its bytes.")
    from ..explain.html import render
    from ..explain.media import page_images

    page = render(report, page_images(report)).encode()
    png = None
    if args.png:
        from ..explain.static import render_png

        png = render_png(report, offset=args.png_offset)
    write_atomic(out, page, force=args.force)
    if png is not None:
        write_atomic(args.png, png, force=args.force)
    if not getattr(args, "quiet", False):
        from rich.table import Table

        from .score import console

        table = Table(title=f"where the bits go: {report.source}")
        for col in ("model", "total bits", "bits/byte", "seconds"):
            table.add_column(col, justify="left" if col == "model" else "right")
        for m in report.models:
            table.add_row(m.name, f"{m.total:,.3f}", f"{m.bits_per_byte:.4f}", f"{m.seconds:.2f}")
        console().print(table)
        note = f" ({report.cut})" if report.cut else ""
        console().print(f"{len(report.data):,} bytes{note}; computed in {computing:.2f} s "
                        f"(+ {loading:.2f} s loading models); wrote {out}" + (f" and {args.png}" if args.png else ""))
    return 0
