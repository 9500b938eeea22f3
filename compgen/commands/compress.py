"""``compgen compress``: any Model -> .cg file (range coded, verified on decode)."""

from __future__ import annotations

import os

from ..errors import UsageError
from ..fileio import read_input, write_atomic, write_stdout
from ..progress import progress_bar

SUFFIX = ".cg"


def add_file_options(p) -> None:
    p.add_argument("file", nargs="?", help="input file (default: stdin)")
    p.add_argument("-c", "--stdout", action="store_true", help="write to stdout, keep the input")
    p.add_argument("-o", "--output", help="output file (keeps the input)")
    p.add_argument("-k", "--keep", action="store_true", help="keep the input file")
    p.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")


def add_parser(sub):
    p = sub.add_parser("compress", help="compress a file with any model (range coding)",
                       description="Compress FILE to FILE.cg with a model's range coder.")
    p.add_argument("-m", "--model", default="ppmd:window=4096",
                   help="model spec (default: ppmd:window=4096); see `compgen models`")
    add_file_options(p)
    return p


def resolve_output(args, default_name: str | None) -> str | None:
    """Output path, or None for stdout."""
    if args.stdout:
        return None
    if args.output:
        return None if args.output == "-" else args.output
    if args.file in (None, "-"):
        return None
    return default_name


def finish(args, data: bytes, out_path: str | None) -> None:
    if out_path is None:
        write_stdout(data)
        return
    write_atomic(out_path, data, force=args.force)
    removable = args.file not in (None, "-") and not (args.keep or args.output or args.stdout)
    if removable:
        os.unlink(args.file)


def run(args) -> int:
    from ..registry import load
    from ..model import as_compressor

    if args.file not in (None, "-") and args.file.endswith(SUFFIX) and not args.force:
        raise UsageError(f"{args.file}: already has {SUFFIX} suffix (use -f to compress anyway)")
    out_path = resolve_output(args, None if args.file in (None, "-") else args.file + SUFFIX)
    if out_path and os.path.exists(out_path) and not args.force:
        raise UsageError(f"{out_path}: already exists (use -f to overwrite)")
    data = read_input(args.file)
    compressor = as_compressor(load(args.model))
    with progress_bar(f"compress {compressor.model.spec}", len(data)) as advance:
        blob = compressor.compress(data, progress=advance)
    finish(args, blob, out_path)
    return 0
