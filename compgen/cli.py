"""The `cgz` command line (also `python -m compgen`): dispatches to ``compgen.commands.<name>``.

Errors a user can cause surface as one line on stderr and a non-zero exit code
(2 usage, 3 refused file, 4 missing dependency, 1 anything else expected);
tracebacks are reserved for bugs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .commands import COMMANDS
from .errors import CompgenError
from .progress import set_quiet


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like argparse but without the usage dump
        self.exit(2, f"cgz: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cgz", description="prediction = compression, both ways")
    parser.add_argument("--version", action="version", version=f"cgz (compgen) {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notes")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"compgen.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"compgen.commands.{name}":
                continue  # command not built yet
            raise
        p = module.add_parser(sub)
        p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars or notes")
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return 2
    set_quiet(getattr(args, "quiet", False))
    try:
        return int(args._run(args) or 0)
    except CompgenError as exc:
        print(f"cgz: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cgz: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141


if __name__ == "__main__":
    sys.exit(main())
