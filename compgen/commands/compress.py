"""``cgz compress``: any Model -> .cg file (range coded, verified on decode).

File conventions follow gzip/xz: ``FILE`` -> ``FILE.cg`` and the input is removed
once the output is safely in place; ``-k`` keeps it, ``-c`` writes to stdout (and
keeps it), ``-o`` names the output, ``-f`` overwrites; no file (or ``-``) means
stdin -> stdout. Compressed data is not written to a terminal unless forced.
"""

from __future__ import annotations

import os
import sys

from ..errors import CompgenError, UsageError
from ..fileio import check_input, copy_metadata, read_input, write_atomic, write_stdout
from ..progress import progress_bar

SUFFIX = ".cg"


def add_file_options(p) -> None:
    p.add_argument("file", nargs="?", help="input file (default: stdin)")
    p.add_argument("-c", "--stdout", action="store_true", help="write to stdout, keep the input")
    p.add_argument("-o", "--output", help="output file ('-' for stdout); keeps the input")
    p.add_argument("-k", "--keep", action="store_true", help="keep the input file")
    p.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")


def add_parser(sub):
    p = sub.add_parser("compress", help="compress a file with any model (range coding)",
                       description="Compress FILE to FILE.cg with a model's range coder "
                                   "(stdin -> stdout without FILE).")
    p.add_argument("-m", "--model", default="ppmd:window=4096",
                   help="model spec (default: ppmd:window=4096); see `cgz models`")
    add_file_options(p)
    return p


def has_file(args) -> bool:
    return args.file not in (None, "-")


def resolve_output(args, default_name: str | None) -> str | None:
    """Output path, or None for stdout."""
    if args.stdout:
        return None
    if args.output:
        return None if args.output == "-" else args.output
    if not has_file(args):
        return None
    return default_name


def check_output(args, out_path: str | None, binary: bool) -> None:
    """Refuse before any work: an existing output without -f, binary data to a terminal."""
    if out_path is None:
        if binary and not args.force and sys.stdout.isatty():
            raise UsageError("compressed data not written to a terminal (use -c with a redirect, or -f)")
        return
    if os.path.isdir(out_path):
        raise CompgenError(f"{out_path}: is a directory")
    if has_file(args) and _same_file(args.file, out_path):
        raise CompgenError(f"{out_path}: output would overwrite the input")
    if os.path.lexists(out_path) and not args.force:
        raise CompgenError(f"{out_path}: already exists (use -f to overwrite)")
    parent = os.path.dirname(out_path) or "."
    if not os.path.isdir(parent):
        raise CompgenError(f"{out_path}: no such directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CompgenError(f"{out_path}: permission denied")


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # either side missing or unreadable: not the same file
        return False


def finish(args, data: bytes, out_path: str | None) -> None:
    """Write the result, then (gzip-style) drop the input unless told to keep it."""
    if out_path is None:
        write_stdout(data)
        return
    write_atomic(out_path, data, force=args.force)
    if has_file(args):
        copy_metadata(args.file, out_path)
        if not (args.keep or args.output or args.stdout):
            os.unlink(args.file)


def eta_note(what: str, total: int, advance, after: float = 2.0, threshold: float = 30.0):
    """Wrap ``advance`` so a run that will take long says so (once, early) on stderr."""
    import time

    from ..progress import _QUIET

    start = time.monotonic()
    state = {"done": 0, "said": _QUIET or total <= 0}

    def tick(n: int = 1) -> None:
        state["done"] += n
        advance(n)
        if state["said"]:
            return
        elapsed = time.monotonic() - start
        if elapsed >= after:
            state["said"] = True
            rate = state["done"] / elapsed
            left = (total - state["done"]) / rate if rate > 0 else float("inf")
            if left >= threshold:
                print(f"cgz: {what} of {total:,} bytes at ~{rate:,.0f} B/s: about {_duration(left)} left "
                      "(estimated)", file=sys.stderr, flush=True)

    return tick


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def run(args) -> int:
    from ..model import as_compressor
    from ..registry import load, parse_spec

    parse_spec(args.model)  # an unknown or malformed spec is a usage error, reported first
    check_input(args.file)  # the input before the output: a missing input is the first thing to say
    if has_file(args) and args.file.endswith(SUFFIX) and not (args.force or args.stdout or args.output):
        raise UsageError(f"{args.file}: already has {SUFFIX} suffix (use -f to compress anyway)")
    out_path = resolve_output(args, args.file + SUFFIX if has_file(args) else None)
    check_output(args, out_path, binary=True)
    compressor = as_compressor(load(args.model))
    data = read_input(args.file)
    what = f"compress {compressor.model.spec}"
    with progress_bar(what, len(data)) as advance:
        blob = compressor.compress(data, progress=eta_note(what, len(data), advance))
    finish(args, blob, out_path)
    return 0
