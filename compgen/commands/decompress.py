"""``compgen decompress``: .cg -> exact original bytes, or a one-line refusal."""

from __future__ import annotations

import os

from ..errors import UsageError
from ..fileio import read_input
from ..progress import progress_bar
from .compress import SUFFIX, add_file_options, finish, resolve_output


def add_parser(sub):
    p = sub.add_parser("decompress", help="decompress a .cg file (model named in the file)",
                       description="Decompress FILE.cg to FILE; refuses corrupt, truncated or wrong-model files.")
    p.add_argument("-m", "--model", help="model spec to decode with (default: the one the file names)")
    add_file_options(p)
    return p


def run(args) -> int:
    from ..coding.container import decompress, read_header
    from ..registry import load

    default = None
    if args.file not in (None, "-"):
        if args.file.endswith(SUFFIX):
            default = args.file[: -len(SUFFIX)]
        elif not (args.stdout or args.output):
            raise UsageError(f"{args.file}: unknown suffix (expected {SUFFIX}); use -o or -c")
    out_path = resolve_output(args, default)
    if out_path and os.path.exists(out_path) and not args.force:
        raise UsageError(f"{out_path}: already exists (use -f to overwrite)")
    blob = read_input(args.file)
    header = read_header(blob)  # refuses bad files before any model is loaded
    model = load(args.model) if args.model else None
    with progress_bar(f"decompress {header.spec}", header.length) as advance:
        data = decompress(blob, model=model, progress=advance)
    finish(args, data, out_path)
    return 0
