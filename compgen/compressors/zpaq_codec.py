"""ZPAQ (libzpaq through the ``zpaq`` PyPI binding) as a Model.

ZPAQ is a context-mixing archiver (Matt Mahoney): its level 5 is the strongest classic
codec compgen runs, ahead of PPMd and xz on text. The binding compresses in memory and
releases the GIL; compgen always runs it on one thread (``threads=1``), so the output is
one block, deterministic. A level ``L`` is run as the ``zpaq`` 7.15 CLI runs ``-m L``:
the input is scanned for text/executable signatures and order-1 redundancy and the hints
go into the method string ``LB,N2,N3`` (block size ``2^B`` MiB: B = 6 for levels 2..5,
4 below); ``hints=0`` gives libzpaq the bare method ``LB``. ``method=`` passes a raw
libzpaq method string instead (commas written as dots, since ``-m a,b`` separates specs: ``method=x4.3ci1`` is
libzpaq's ``x4,3ci1``: a BWT and a small context model).

Level 5 pays a fixed ~50 ms per call (it builds and clears its model tables), so as a
next-byte Model (every candidate is a full compression) it is slow; ``zpaq:level=4``
costs ~1-2 ms per 2 KB call.

Header (what :meth:`ZpaqModel.header_bytes` counts): the 13-byte locator tag, each
block's header (``zPQ``, level, type, the COMP/HCOMP description of the model: ~200
bytes at level 5, 21 at level 1), each segment's header (marker, file name, comment
with the size, reserved byte), the 4 zero bytes that end the coded data, the segment
trailer (0xFE, or 0xFD + SHA-1) and the end-of-block byte. Everything else is coded data.
libzpaq chooses each block's model from an analysis of the data (random bytes get a
cheaper model than text), so the header is not the same for every chunk.
An empty input codes to an empty output.
"""

from __future__ import annotations

from .base import CompressorModel

#: ZPAQ's optional locator tag, written before each block
TAG = b"7kSt\xa01\x83\xd3\x8c\xb2(\xb0\xd3"


def _zpaq():
    import zpaq

    return zpaq


class ZpaqModel(CompressorModel):
    """``zpaq``: libzpaq levels 0..5 (5, the strongest) or a raw method string, one thread."""

    name = "zpaq"
    codec_window = 1 << 26  # level 5's block: 64 MiB
    releases_gil = True

    def __init__(self, level: int = 5, hints: int = 1, method: str | None = None, **kw):
        level = int(level)
        if not 0 <= level <= 5:
            raise ValueError("zpaq level must be 0..5")
        if str(hints) not in ("0", "1"):
            raise ValueError("zpaq hints must be 0 or 1")
        self.level = level
        self.hints = str(hints) == "1"
        self.method = None if method in (None, "") else str(method)
        if self.method is not None:
            raw = self.raw_method
            if not raw[:1].isalnum() or any(not (ch.isalnum() or ch in ",-") for ch in raw):
                raise ValueError(f"zpaq method {self.method!r} is not a libzpaq method string (e.g. x4.3ci1)")
            try:  # libzpaq rejects bad methods only when it compresses: check once here
                _zpaq().compress(b"x", method=raw, threads=1)
            except (_zpaq().Error, RuntimeError, ValueError) as exc:
                raise ValueError(f"zpaq method {self.method!r}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
        # every candidate is a full compression (~50 ms at level 5): score fewer per position
        self.coder_topk = 8 if level >= 5 and self.method is None else 24
        super().__init__(**kw)

    @property
    def raw_method(self) -> str:
        """The libzpaq method string of ``method=`` (dots back to commas)."""
        return "" if self.method is None else self.method.replace(".", ",")

    def codec_params(self) -> dict:
        if self.method is not None:
            return {"method": self.method}
        return {"level": self.level} if self.hints else {"level": self.level, "hints": 0}

    def library_version(self) -> str:
        from importlib.metadata import version

        return f"zpaq {version('zpaq')}"

    def compress(self, data: bytes) -> bytes:
        if not data:
            return b""
        if self.method is not None:
            return bytes(_zpaq().compress(bytes(data), method=self.raw_method, threads=1))
        return bytes(_zpaq().compress(bytes(data), level=self.level, hints=self.hints, threads=1))

    def decompress(self, blob: bytes) -> bytes:
        if not blob:
            return b""
        try:
            return bytes(_zpaq().decompress(bytes(blob), threads=1))
        except _zpaq().Error as exc:
            raise ValueError(f"not a valid ZPAQ stream ({exc})") from None

    def header_bytes(self, blob: bytes) -> int:
        """Everything but the coded data (see the module docstring); 0 if ``blob`` does not parse."""
        try:
            return _framing(bytes(blob))
        except (IndexError, ValueError):
            return 0


def _framing(blob: bytes) -> int:
    """Bytes of ``blob`` that are ZPAQ framing, walking its blocks and segments."""
    pos, header = 0, 0
    while pos < len(blob):
        if blob.startswith(TAG, pos):
            pos += len(TAG)
            header += len(TAG)
        if blob[pos: pos + 3] != b"zPQ":
            raise ValueError("no ZPAQ block here")
        hsize = blob[pos + 5] | blob[pos + 6] << 8
        n_components = blob[pos + 11]  # hh hm ph pm n follow hsize
        pos += 7 + hsize
        header += 7 + hsize
        while blob[pos] == 1:  # segments
            start = pos
            pos = blob.index(0, pos + 1) + 1  # file name
            pos = blob.index(0, pos) + 1  # comment
            pos += 1  # reserved
            header += pos - start
            if n_components:  # arithmetic-coded: ends at the first 4 zero bytes (libzpaq's Decoder::skip)
                pos = blob.index(b"\x00\x00\x00\x00", pos) + 4
                while blob[pos] == 0:
                    pos += 1
            else:  # stored / LZ77 bytes: big-endian length-prefixed runs, a zero length ends them
                while True:
                    length = int.from_bytes(blob[pos: pos + 4], "big")
                    pos += 4 + length
                    if not length:
                        break
            header += 4  # the end-of-data zeros
            trailer = 21 if blob[pos] == 253 else 1
            if blob[pos] not in (253, 254):
                raise ValueError("bad ZPAQ segment trailer")
            pos += trailer
            header += trailer
        if blob[pos] != 255:
            raise ValueError("bad ZPAQ end of block")
        pos += 1
        header += 1
    return header
