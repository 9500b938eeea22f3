"""Bytes inputs: files -> units of bytes (whole files or fixed-size chunks).

Chunks never span two files. ``--max-bytes`` keeps a seeded random sample of chunks
(chunk mode) or equal-share prefixes of the files (whole mode), so every model in one
run sees exactly the same bytes.
"""

from __future__ import annotations

import heapq
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
    """One unit of input: ``data`` from ``file`` at ``offset`` (in the modality's bytes).

    ``modality`` is "bytes", "text", "image" or "audio"; ``meta`` holds what a codec or a
    viewer needs to see the bytes as a picture or a sound: ``shape`` (rows, columns) of
    an image patch or raster, ``rate`` (Hz) of audio samples.
    """

    file: str
    offset: int
    data: bytes
    modality: str = "bytes"
    meta: tuple = ()

    @property
    def info(self) -> dict:
        return dict(self.meta)

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
    ``cgz train --heldout`` never trains on).
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


def file_chunks(name: str, data: bytes, chunk: int, drop_tail: bool = False, modality: str = "bytes",
                meta: tuple = ()):
    """Yield the ``chunk``-byte pieces of one file's bytes (the last may be shorter)."""
    for off in range(0, len(data), chunk):
        part = data[off: off + chunk]
        if drop_tail and len(part) < chunk and off > 0:
            continue
        yield Piece(name, off, part, modality, meta)


def sample_pieces(stream, chunk: int, max_bytes: int | None = None, seed: int = 0) -> list[Piece]:
    """All pieces of ``stream``, or under ``max_bytes`` a seeded sample of its full-size pieces.

    Streams: memory stays within about ``max_bytes`` (a reservoir of the pieces with the
    smallest seeded random keys), so a folder of large files is never held at once.
    """
    if max_bytes is None:
        return list(stream)
    rng = random.Random(seed)
    k = max(1, max_bytes // chunk)
    kept: list[tuple[float, int, Piece]] = []
    total, overflow = 0, False
    full: list = []  # max-heaps (negated keys) of the k best full-size / short pieces
    short: list = []

    def offer(heap, key, i, piece):
        if len(heap) < k:
            heapq.heappush(heap, (-key, i, piece))
        elif -heap[0][0] > key:
            heapq.heapreplace(heap, (-key, i, piece))

    for i, piece in enumerate(stream):
        key = rng.random()
        if not overflow:
            kept.append((key, i, piece))
            total += len(piece.data)
            if total > max_bytes:
                overflow = True
                for item in kept:
                    offer(full if len(item[2].data) == chunk else short, *item)
                kept = []
            continue
        offer(full if len(piece.data) == chunk else short, key, i, piece)
    if not overflow:
        return [p for _, _, p in kept]
    if full and max_bytes >= chunk:  # a sample is made of full-size chunks, like the paper's
        return [p for _, _, p in sorted(full, key=lambda t: t[1])]
    picked, budget = [], 0
    for _negkey, i, p in sorted(full + short, key=lambda t: -t[0]):
        if budget + len(p.data) <= max_bytes or not picked:
            picked.append((i, p))
            budget += len(p.data)
    return [p for _, p in sorted(picked, key=lambda t: t[0])]


def chunk_pieces(files: list[tuple[str, bytes]], chunk: int, max_bytes: int | None = None,
                 seed: int = 0, drop_tail: bool = False) -> list[Piece]:
    """Every ``chunk``-byte piece of every file (a file's last piece may be shorter);
    under ``max_bytes`` a seeded sample of the full-size pieces."""
    if chunk <= 0:
        raise UsageError("--chunk must be > 0")
    stream = (p for name, data in files for p in file_chunks(name, data, chunk, drop_tail))
    return sample_pieces(stream, chunk, max_bytes, seed)


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
