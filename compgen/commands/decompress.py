"""``cgz decompress``: .cg -> exact original bytes, or a one-line refusal.

The file is fully checked (magic, version, CRC, model fingerprint, decoded length and
CRC32) before a single byte is written; output goes through a temporary file.
"""

from __future__ import annotations

import sys

from ..errors import UsageError
from ..fileio import check_input, read_input
from ..progress import progress_bar
from .compress import SUFFIX, add_file_options, check_output, eta_note, finish, has_file, resolve_output


def add_parser(sub):
    p = sub.add_parser("decompress", help="decompress a .cg file (model named in the file)",
                       description="Decompress FILE.cg to FILE (stdin -> stdout without FILE); refuses "
                                   "corrupt, truncated or wrong-model files.")
    p.add_argument("-m", "--model", help="model spec to decode with (default: the one the file names)")
    add_file_options(p)
    return p


def run(args) -> int:
    from ..coding.container import decompress, read_header
    from ..registry import load, parse_spec

    if args.model:
        parse_spec(args.model)
    check_input(args.file)  # the input before the output
    default = None
    if has_file(args):
        if args.file.endswith(SUFFIX) and len(args.file) > len(SUFFIX):
            default = args.file[: -len(SUFFIX)]
        elif not (args.stdout or args.output):
            raise UsageError(f"{args.file}: unknown suffix (expected {SUFFIX}); use -o or -c")
    elif not args.force and sys.stdin is not None and sys.stdin.isatty():
        raise UsageError("compressed data not read from a terminal (give a file, or -f)")
    out_path = resolve_output(args, default)
    check_output(args, out_path, binary=False)
    model = load(args.model) if args.model else None
    blob = read_input(args.file)
    header = read_header(blob)  # refuses bad files before the file's model is loaded
    what = f"decompress {header.spec}"
    with progress_bar(what, header.length) as advance:
        data = decompress(blob, model=model, progress=eta_note(what, header.length, advance))
    finish(args, data, out_path)
    return 0
