"""File conventions shared by the commands, after gzip/xz: stdin/stdout, -c, -o, -k, -f.

Output is written to a temporary file in the target's directory and renamed into
place only when complete, so a failure never leaves a half-written file.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from .errors import CompgenError, UsageError


def _input_error(path: str, exc: OSError) -> CompgenError:
    if isinstance(exc, FileNotFoundError):
        return CompgenError(f"{path}: no such file")
    if isinstance(exc, PermissionError):
        return CompgenError(f"{path}: permission denied")
    return CompgenError(f"{path}: {exc.strerror or exc}")


def check_input(path: str | None) -> None:
    """Refuse a missing, unreadable or non-regular input before anything else is looked at."""
    if path in (None, "-"):
        return
    try:
        os.stat(path)
    except OSError as exc:
        raise _input_error(path, exc) from None
    if os.path.isdir(path):
        raise CompgenError(f"{path}: is a directory")
    if not os.access(path, os.R_OK):
        raise CompgenError(f"{path}: permission denied")


def read_input(path: str | None) -> bytes:
    """Bytes of ``path``, or of stdin for None / '-'."""
    if path in (None, "-"):
        if sys.stdin is None or sys.stdin.closed:
            raise UsageError("no input: give a file or pipe data on stdin")
        return sys.stdin.buffer.read()
    check_input(path)
    try:
        return Path(path).read_bytes()
    except OSError as exc:  # gone or changed since the check
        raise _input_error(path, exc) from None


def _default_mode() -> int:
    """What ``open(path, "w")`` would give: 0o666 minus the umask (mkstemp uses 0o600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str | os.PathLike, data: bytes, force: bool = False, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` via temp file + rename; refuse to overwrite unless forced.

    ``mode`` sets the permission bits (default: as a plain ``open`` would create them).
    """
    target = Path(path)
    if target.exists() and not force:
        raise CompgenError(f"{target}: already exists (use -f to overwrite)")
    if target.is_dir():
        raise CompgenError(f"{target}: is a directory")
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
            os.fchmod(fh.fileno(), _default_mode() if mode is None else mode)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise CompgenError(f"{target}: cannot write ({exc.strerror or exc})") from None
        raise


def copy_metadata(source: str, target: str) -> None:
    """Give ``target`` the permission bits and times of ``source``, as gzip does (best effort)."""
    try:
        shutil.copystat(source, target)
    except OSError:
        pass


def write_stdout(data: bytes) -> None:
    """Write to stdout; a reader that went away (``| head``) ends us quietly, like gzip."""
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        try:  # keep the interpreter's final flush from printing a second error
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        raise
