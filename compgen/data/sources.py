"""``text:PATH`` / ``image:PATH`` / ``audio:PATH`` / bare ``PATH`` -> streams of Pieces.

The one place every command turns a user's data argument into bytes. A PATH is a file
or a folder (its files, sorted, not recursive). A bare path means raw bytes, as
before. Folders are streamed: one file is decoded at a time and only its pieces are
passed on. Inside a folder, files of another kind (a transcript next to the WAVs) are
skipped; a file named directly must be readable as its modality.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import CompgenError, UsageError
from .text import Piece, file_chunks, sample_pieces, tail_start

MODALITIES = ("bytes", "text", "image", "audio")
#: modalities whose pieces are verbatim byte ranges of their file (image/audio pieces are decoded samples)
FILE_SLICES = ("bytes", "text")


@dataclass(frozen=True)
class DataSpec:
    """Which transform to apply to which path."""

    modality: str
    path: str

    @property
    def label(self) -> str:
        return self.path if self.modality == "bytes" else f"{self.modality}:{self.path}"


def parse_data_spec(text: str) -> DataSpec:
    """'image:photos/' -> DataSpec('image', 'photos/'); a bare path is bytes."""
    text = str(text)
    head, sep, rest = text.partition(":")
    if sep and head.lower() in MODALITIES:
        if not rest:
            raise UsageError(f"{text!r}: no path after {head}:")
        return DataSpec(head.lower(), rest)
    return DataSpec("bytes", text)


def _suffixes(modality: str) -> set[str] | None:
    if modality == "image":
        from .image import image_extensions

        return image_extensions()
    if modality == "audio":
        from .audio import audio_extensions

        return audio_extensions()
    return None


def list_files(spec: DataSpec) -> list[Path]:
    """The files a spec names (a folder's regular files of the right kind, sorted)."""
    p = Path(spec.path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise CompgenError(f"{p}: no such file or directory")
    suffixes = _suffixes(spec.modality)
    files = sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith("."))
    if suffixes is not None:
        files = [q for q in files if q.suffix.lower() in suffixes]
    if not files:
        what = "" if suffixes is None else f" {spec.modality}"
        raise UsageError(f"{p}: no{what} files found")
    return files


def _names(specs: list[DataSpec]) -> list[tuple[DataSpec, Path, str]]:
    """(spec, file, display name): basenames unless two files share one."""
    found = [(s, f) for s in specs for f in list_files(s)]
    unique = len({f.name for _, f in found}) == len(found)
    return [(s, f, f.name if unique else str(f)) for s, f in found]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CompgenError(f"{path}: {exc.strerror or exc}") from None


@dataclass
class Options:
    """Transform settings shared by the modalities."""

    chunk: int = 2048
    patch: tuple[int, int] = (32, 64)
    rate: int = 16000
    tail: float | None = None


def file_units(spec: DataSpec, path: Path, name: str, mode: str, opt: Options) -> Iterator[Piece]:
    """The pieces of one file: chunks (``mode="chunked"``) or the whole modality stream."""
    if spec.modality == "image":
        from .image import grid, load_gray, patches

        gray = load_gray(path)
        if mode == "whole":
            yield Piece(name, 0, gray.tobytes(), "image", (("shape", tuple(gray.shape)),))
            return
        g = grid(gray.shape, opt.patch)
        size = opt.patch[0] * opt.patch[1]
        for k, cell, blob in patches(gray, opt.patch):
            yield Piece(name, k * size, blob, "image",
                        (("shape", opt.patch), ("cell", cell), ("grid", g), ("image", tuple(gray.shape))))
        return
    if spec.modality == "audio":
        from .audio import load_u8

        data, info = load_u8(path, opt.rate)
        meta = (("rate", opt.rate), *sorted(info.items()))
        if mode == "whole":
            if data:
                yield Piece(name, 0, data, "audio", meta)
            return
        yield from file_chunks(name, data, opt.chunk, modality="audio", meta=meta)
        return
    data = _read(path)
    data = data[tail_start(len(data), opt.tail):]
    if not data:
        return
    if mode == "whole":
        yield Piece(name, 0, data, spec.modality)
    else:
        yield from file_chunks(name, data, opt.chunk, modality=spec.modality)


def iter_units(specs: list[DataSpec], mode: str, opt: Options) -> Iterator[Piece]:
    """Stream the pieces of every file of every spec, one decoded file at a time."""
    if opt.chunk <= 0:
        raise UsageError("--chunk must be > 0")
    if opt.tail is not None and not 0 < opt.tail <= 1:
        raise UsageError("--tail must be in (0, 1]")
    for spec, path, name in _names(specs):
        yield from file_units(spec, path, name, mode, opt)


def file_sources(specs: list, tail: float | None = None) -> dict[str, tuple[str, int]]:
    """Piece file name -> (absolute path, offset where its kept bytes start) for the bytes/text
    files of ``specs`` (names as :func:`load_units` gives them): where a worker can read a piece
    itself. Image and audio pieces are decoded samples, not byte ranges of a file: they have no
    source and travel as bytes. The executor checks the bytes at a source before it sends a
    reference instead of them, so a stale or ambiguous entry costs only the reference."""
    import os

    out: dict[str, tuple[str, int]] = {}
    for spec in (s if isinstance(s, DataSpec) else parse_data_spec(s) for s in specs):
        if spec.modality not in FILE_SLICES:
            continue
        for _, path, name in _names([spec]):
            try:
                out.setdefault(name, (os.path.abspath(path), tail_start(path.stat().st_size, tail)))
            except OSError:
                continue
    return out


def load_units(specs: list[DataSpec], mode: str, opt: Options, max_bytes: int | None = None,
               seed: int = 0) -> list[Piece]:
    """Pieces for a benchmark or a score: chunked (seeded sample under ``max_bytes``) or whole
    (equal-share prefixes under ``max_bytes``); at least one piece or a one-line error."""
    from .text import whole_pieces

    if mode == "chunked":
        size = opt.chunk
        pieces = []
        for spec in specs:  # each modality is sampled on its own, so every column gets its share
            one = (size if spec.modality != "image" else opt.patch[0] * opt.patch[1])
            pieces += sample_pieces(iter_units([spec], mode, opt), one, max_bytes, seed)
    else:
        pieces = []
        for spec in specs:
            whole = list(iter_units([spec], mode, opt))
            if max_bytes is not None:
                capped = whole_pieces([(p.file, p.data) for p in whole], max_bytes)
                by_name = {p.file: p for p in whole}
                whole = [q for q in (_prefix(by_name[c.file], len(c.data)) for c in capped) if q.data]
            pieces += whole
    if not pieces:
        raise UsageError("no input bytes: " + ", ".join(s.label for s in specs)
                         + (" (images smaller than one patch?)" if any(s.modality == "image" for s in specs) else ""))
    return pieces


def _prefix(piece: Piece, n: int) -> Piece:
    if n == len(piece.data):
        return piece
    meta = dict(piece.meta)
    if piece.modality == "image":  # a prefix of a raster is whole rows of it
        cols = meta["shape"][1]
        n -= n % cols
        meta["shape"] = (n // cols, cols)
    return Piece(piece.file, piece.offset, piece.data[:n], piece.modality, tuple(meta.items()))


def read_modal(text: str, opt: Options | None = None) -> tuple[bytes, list[Piece]]:
    """One data argument -> (all its modality bytes, its chunks); for score, sample and icl."""
    opt = opt or Options()
    spec = parse_data_spec(text)
    pieces = list(iter_units([spec], "chunked", opt))
    return b"".join(p.data for p in pieces), pieces
