"""One exception type for everything a user can get wrong.

The CLI prints ``CompgenError`` as a single line and exits with its ``exit_code``;
anything else escaping is a bug in compgen.
"""


class CompgenError(Exception):
    """A user-facing failure: bad input, a refused file, a missing dependency."""

    exit_code = 1


class UsageError(CompgenError):
    """The command line or a spec string is malformed."""

    exit_code = 2


class RefusedError(CompgenError):
    """A compressed file was refused: corrupt, truncated, wrong model or format."""

    exit_code = 3


class MissingDependencyError(CompgenError):
    """An optional dependency (torch, transformers, ...) is not installed."""

    exit_code = 4


def run_script(main, name: str) -> None:
    """Exit with ``main()``'s code; a CompgenError becomes one line on stderr and its code."""
    import sys

    try:
        code = main()
    except CompgenError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        code = exc.exit_code
    sys.exit(code)
