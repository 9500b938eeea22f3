"""PNG (Pillow, ``optimize=True``) of bytes seen as an 8-bit grayscale picture.

The native baseline of the image column (Delétang et al. 2024, Table 1). A chunk is
coded as an image of its patch shape when the caller knows it (``compress_media``),
otherwise as the near-square picture ``rows x cols = n`` with ``rows`` the largest
divisor of ``n`` not above ``sqrt(n)`` (2048 bytes -> 32 x 64, the paper's patch).
An empty input codes to an empty output. Header: the signature, IHDR, IEND, each
chunk's length/type/CRC and the zlib header and Adler-32; the rest is deflate data.
"""

from __future__ import annotations

import io
import math
import struct
import zlib

import numpy as np

from .base import CompressorModel

SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: bytes of a one-IDAT grayscale PNG that are not deflate data: 8 + 25 + 12 + 12 + 6
FRAMING = 63


def near_square(n: int) -> tuple[int, int]:
    """(rows, cols), rows * cols == n, rows the largest divisor <= sqrt(n)."""
    rows = math.isqrt(n)
    while n % rows:
        rows -= 1
    return rows, n // rows


def _pil():
    from PIL import Image

    return Image


class PngModel(CompressorModel):
    """``png``: grayscale PNG with Pillow's optimize (zlib level 9 and filter search)."""

    name = "png"
    codec_window = 32768  # deflate's window
    releases_gil = False

    def __init__(self, optimize: int = 1, **kw):
        self.optimize = bool(int(optimize))
        super().__init__(**kw)

    def codec_params(self) -> dict:
        return {} if self.optimize else {"optimize": 0}

    def library_version(self) -> str:
        import PIL

        return f"Pillow {PIL.__version__} zlib {zlib.ZLIB_RUNTIME_VERSION}"

    def encode_shape(self, data: bytes, shape: tuple[int, int]) -> bytes:
        rows, cols = (int(v) for v in shape)
        if rows * cols != len(data):
            raise ValueError(f"{len(data)} bytes are not a {rows}x{cols} picture")
        pixels = np.frombuffer(bytes(data), dtype=np.uint8).reshape(rows, cols)
        buf = io.BytesIO()
        _pil().fromarray(pixels).save(buf, format="PNG", optimize=self.optimize)
        return buf.getvalue()

    def compress(self, data: bytes) -> bytes:
        if not data:
            return b""
        return self.encode_shape(data, near_square(len(data)))

    def compress_media(self, data: bytes, meta: dict | None = None) -> bytes:
        shape = (meta or {}).get("shape")
        if data and shape and int(shape[0]) * int(shape[1]) == len(data):
            return self.encode_shape(data, shape)
        return self.compress(data)

    def compressed_size(self, data: bytes) -> int:
        return len(self.compress(data)) if data else FRAMING  # an empty picture costs the framing

    def decompress(self, blob: bytes) -> bytes:
        if not blob:
            return b""
        with _pil().open(io.BytesIO(bytes(blob))) as img:
            img.load()
            if img.mode != "L":
                raise ValueError(f"not a grayscale compgen PNG (mode {img.mode})")
            return np.asarray(img, dtype=np.uint8).tobytes()

    def header_bytes(self, blob: bytes) -> int:
        """Everything but the deflate data inside the IDAT chunks."""
        if not blob.startswith(SIGNATURE):
            return 0
        pos, deflate = len(SIGNATURE), 0
        while pos + 8 <= len(blob):
            length, kind = struct.unpack_from(">I4s", blob, pos)
            if kind == b"IDAT":
                deflate += length
            pos += 12 + length
        return len(blob) - max(0, deflate - 6)
