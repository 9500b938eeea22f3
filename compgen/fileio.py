"""File conventions shared by the commands, after gzip/xz: stdin/stdout, -c, -o, -k, -f.

Output is written to a temporary file in the target's directory and renamed into
place only when complete, so a failure never leaves a half-written file.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from .errors import CompgenError, UsageError


def read_input(path: str | None) -> bytes:
    """Bytes of ``path``, or of stdin for None / '-'."""
    if path in (None, "-"):
        if sys.stdin is None or sys.stdin.closed:
            raise UsageError("no input: give a file or pipe data on stdin")
        return sys.stdin.buffer.read()
    p = Path(path)
    if p.is_dir():
        raise CompgenError(f"{path}: is a directory")
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise CompgenError(f"{path}: no such file") from None
    except PermissionError:
        raise CompgenError(f"{path}: permission denied") from None
    except OSError as exc:
        raise CompgenError(f"{path}: {exc.strerror or exc}") from None


def write_atomic(path: str | os.PathLike, data: bytes, force: bool = False) -> None:
    """Write ``data`` to ``path`` via temp file + rename; refuse to overwrite unless forced."""
    target = Path(path)
    if target.exists() and not force:
        raise CompgenError(f"{target}: already exists (use -f to overwrite)")
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=directory)
    except OSError as exc:
        raise CompgenError(f"{target}: cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise CompgenError(f"{target}: cannot write ({exc.strerror or exc})") from None
        raise


def write_stdout(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
