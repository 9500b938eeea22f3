"""Benchmark inputs: files -> units of bytes (whole files or fixed-size chunks).

Chunks never span two files. ``--max-bytes`` keeps a seeded random sample of chunks
(chunk mode) or equal-share prefixes of the files (whole mode), so every model in one
run sees exactly the same bytes.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CompgenError, UsageError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text) -> int:
    """'1M' -> 1_000_000, '500k' -> 500_000, '64KiB' -> 65536, '2048' -> 2048."""
    if isinstance(text, int):
        return text
    m = _SIZE.match(str(text))
    if not m:
        raise UsageError(f"bad size {text!r}: expected e.g. 2048, 500k, 1M")
    value, unit, suffix = float(m.group(1)), m.group(2).lower(), m.group(3).lower()
    base = 1024 if suffix.startswith("i") else 1000
    n = int(value * {"": 1, "k": base, "m": base ** 2, "g": base ** 3}[unit])
    if n <= 0:
        raise UsageError(f"bad size {text!r}: must be > 0")
    return n


@dataclass(frozen=True)
class Piece:
    """One unit of input: ``data`` from ``file`` at ``offset``."""

    file: str
    offset: int
    data: bytes

    @property
    def label(self) -> str:
        return f"{self.file}@{self.offset}"


def expand_paths(paths: list[str]) -> list[Path]:
    """Files named directly, plus the regular files directly inside named directories (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith(".")))
        elif p.is_file():
            out.append(p)
        else:
            raise CompgenError(f"{p}: no such file or directory")
    if not out:
        raise UsageError("no input files found")
    return out


def read_files(paths: list[str], tail: float | None = None) -> list[tuple[str, bytes]]:
    """(name, bytes) per non-empty file; names are basenames unless two files share one.

    ``tail``: keep only the last fraction of each file (the held-out part that
    ``compgen train --heldout`` never trains on).
    """
    if tail is not None and not 0 < tail <= 1:
        raise UsageError("--tail must be in (0, 1]")
    files = []
    for name, p in named_paths(paths):
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise CompgenError(f"{p}: {exc.strerror or exc}") from None
        data = data[tail_start(len(data), tail):]
        if data:
            files.append((name, data))
    if not files:
        raise UsageError("all input files are empty")
    return files


def named_paths(paths: list[str]) -> list[tuple[str, Path]]:
    """(name, path) per input file; names are basenames unless two files share one."""
    found = expand_paths(paths)
    unique = len({p.name for p in found}) == len(found)
    return [(p.name if unique else str(p), p) for p in found]


def tail_start(size: int, tail: float | None) -> int:
    """Offset where the last ``tail`` fraction of a ``size``-byte file starts (0 without a tail)."""
    return 0 if tail is None or not size else size - max(1, int(round(size * tail)))


def file_sources(paths: list[str], tail: float | None = None) -> dict[str, tuple[str, int]]:
    """name -> (absolute path, offset of the kept bytes): where a worker can read a piece itself
    (the executor checks the bytes there before it sends a reference instead of the bytes)."""
    import os

    out = {}
    for name, p in named_paths(paths):
        try:
            out[name] = (os.path.abspath(p), tail_start(p.stat().st_size, tail))
        except OSError:
            continue
    return out


def chunk_pieces(files: list[tuple[str, bytes]], chunk: int, max_bytes: int | None = None,
                 seed: int = 0, drop_tail: bool = False) -> list[Piece]:
    """Every ``chunk``-byte piece of every file (a file's last piece may be shorter);
    under ``max_bytes`` a seeded sample of the full-size pieces."""
    if chunk <= 0:
        raise UsageError("--chunk must be > 0")
    pieces = []
    for name, data in files:
        for off in range(0, len(data), chunk):
            part = data[off: off + chunk]
            if drop_tail and len(part) < chunk and off > 0:
                continue
            pieces.append(Piece(name, off, part))
    if max_bytes is not None and sum(len(p.data) for p in pieces) > max_bytes:
        full = [p for p in pieces if len(p.data) == chunk]
        if full and max_bytes >= chunk:  # a sample is made of full-size chunks, like the paper's
            pieces = full
        order = list(range(len(pieces)))
        random.Random(seed).shuffle(order)
        keep, total = [], 0
        for i in order:
            n = len(pieces[i].data)
            if total + n <= max_bytes or not keep:
                keep.append(i)
                total += n
            if total >= max_bytes:
                break
        pieces = [pieces[i] for i in sorted(keep)]
    return pieces


def whole_pieces(files: list[tuple[str, bytes]], max_bytes: int | None = None) -> list[Piece]:
    """Each file as one piece; under ``max_bytes`` each file keeps a prefix of an equal share
    (shares unused by short files go to the others)."""
    if max_bytes is None or sum(len(d) for _, d in files) <= max_bytes:
        return [Piece(name, 0, data) for name, data in files]
    caps = {}
    remaining, todo = max_bytes, sorted(files, key=lambda f: len(f[1]))
    for i, (name, data) in enumerate(todo):
        share = remaining // (len(todo) - i)
        caps[name] = min(len(data), share)
        remaining -= caps[name]
    return [Piece(name, 0, data[: caps[name]]) for name, data in files if caps[name] > 0]
