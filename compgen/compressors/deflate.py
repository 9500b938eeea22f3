"""gzip / zlib / raw deflate as Models, with the exact state-copy fast route.

zlib can snapshot a compressor (``compressobj.copy()``): the context is compressed
once and each candidate continues from a copy, which gives byte-identical sizes to
recompressing ``ctx + c`` (checked by the tests) at a fraction of the cost. zlib
releases the GIL, so candidates are spread over threads.
"""

from __future__ import annotations

import gzip
import sys
import zlib
from typing import Sequence

import numpy as np

from .base import CompressorModel

# Below this context length the copy route loses to plain recompression (measured with
# benchmarks/distributions.py; both routes give identical sizes).
COPY_MIN_CONTEXT = 2048

# zlib.compress takes wbits from Python 3.11 on.
_ONE_SHOT_WBITS = sys.version_info >= (3, 11)

# wbits per container: gzip adds a 10-byte header + 8-byte trailer, zlib 2 + 4.
_WBITS = {"gzip": 31, "zlib": 15, "deflate": -15}


class DeflateModel(CompressorModel):
    """``gzip``, ``zlib`` or ``deflate`` (raw) at a given level (default 9)."""

    codec_window = 32768
    container = "gzip"

    def __init__(self, level: int = 9, **kw):
        level = int(level)
        if not 0 <= level <= 9:
            raise ValueError("deflate level must be 0..9")
        self.level = level
        super().__init__(**kw)

    @property
    def name(self):  # type: ignore[override]
        return self.container

    def codec_params(self) -> dict:
        return {"level": self.level}

    def library_version(self) -> str:
        return f"zlib {zlib.ZLIB_RUNTIME_VERSION}"

    def _compressobj(self):
        return zlib.compressobj(self.level, zlib.DEFLATED, _WBITS[self.container])

    def compress(self, data: bytes) -> bytes:
        co = self._compressobj()
        return co.compress(data) + co.flush()

    def decompress(self, blob: bytes) -> bytes:
        d = zlib.decompressobj(_WBITS[self.container])
        out = d.decompress(blob) + d.flush()
        if not d.eof:
            raise zlib.error("truncated stream")
        return out

    def compressed_size(self, data: bytes) -> int:
        if _ONE_SHOT_WBITS:  # one call, no compressobj: cheaper for the many short inputs
            return len(zlib.compress(data, self.level, _WBITS[self.container]))
        return len(self.compress(data))

    def joint_sizes(self, candidates: Sequence[bytes], context: bytes) -> np.ndarray:
        if len(context) < COPY_MIN_CONTEXT:
            # copying a deflate state moves ~256 KB (window, hash chains, pending buffer):
            # for short contexts, compressing ctx + c from scratch is cheaper (and equal).
            return np.array(self._map(lambda c: self.compressed_size(context + c), list(candidates)),
                            dtype=np.int64)
        base = self._compressobj()
        head = len(base.compress(context))

        def size(c: bytes) -> int:
            co = base.copy()
            return head + len(co.compress(c)) + len(co.flush())

        return np.array(self._map(size, list(candidates)), dtype=np.int64)


class GzipModel(DeflateModel):
    container = "gzip"


class ZlibModel(DeflateModel):
    container = "zlib"


class RawDeflateModel(DeflateModel):
    container = "deflate"


# The gzip module's own writer differs from zlib's gzip wrapper only in header fields
# (mtime, OS byte), never in length; kept for users who want a CLI-identical file.
def gzip_file_bytes(data: bytes, level: int = 9) -> bytes:
    return gzip.compress(data, compresslevel=level, mtime=0)
