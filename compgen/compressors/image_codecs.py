"""JPEG XL lossless and WebP lossless (libjxl, libwebp through ``imagecodecs``) as Models.

Both code bytes as an 8-bit grayscale picture, as :mod:`.png` does: a chunk whose shape
is known (an image patch, a whole raster) as that picture (``compress_media``), other
bytes as the near-square picture ``rows x cols = n`` (2048 bytes -> 32 x 64, the paper's
patch). When that picture is wider or taller than the format allows (WebP: 16,383
pixels a side; JPEG XL: 262,144), the bytes fill a ``ceil(sqrt(n))``-wide picture row by
row and the unused tail pixels are marked transparent by an alpha channel, which the
decoder drops: still a plain file of the format. An empty input codes to an empty output.

``jxl``: ``jpegxl_encode(lossless=True, distance=0, effort=7)`` (libjxl's default effort,
the best of 1..10 on our patches), one thread, a bare codestream (no ISOBMFF container).
``webp``: ``webp_encode(quality=100, method=6, lossless=True)`` (``cwebp -lossless -z 9``);
WebP has no grayscale mode, so the picture goes in as R = G = B (libwebp's subtract-green
transform then codes it as one plane) and the decoder refuses a picture whose channels
differ.

Headers (``header_bytes``): WebP's RIFF framing is byte aligned: ``RIFF`` + size +
``WEBP`` (12 bytes), the ``VP8L`` chunk header (8), the VP8L signature byte and the
14-bit width / height, alpha and version bits (5), and a RIFF pad byte when the chunk
length is odd: 25-26 bytes of a lossless WebP; the rest is the VP8L bitstream. A bare JPEG
XL codestream has only its 2-byte signature (0xFF 0x0A) byte aligned; the size, image and
frame headers and the table of contents after it are bit-packed together with the coded
image and are not separated, so they count as coded data (an all-black 32 x 64 patch is
19 bytes in total, an upper bound on that per-chunk overhead).
"""

from __future__ import annotations

import math

import numpy as np

from .base import CompressorModel
from .png import near_square

JXL_SIGNATURE = b"\xff\x0a"
JXL_CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"


def _ic():
    import imagecodecs

    return imagecodecs


def picture(data: bytes, limit: int, shape=None) -> tuple[np.ndarray, bool]:
    """``data`` as a 2-D uint8 picture (``shape`` if it fits), or a padded one with an alpha mask.

    Returns (pixels [rows, cols] or [rows, cols, 2] = value and alpha, padded).
    """
    n = len(data)
    pixels = np.frombuffer(bytes(data), dtype=np.uint8)
    if shape is not None and int(shape[0]) * int(shape[1]) == n:
        rows, cols = int(shape[0]), int(shape[1])
    else:
        rows, cols = near_square(n)
    if rows <= limit and cols <= limit:
        return pixels.reshape(rows, cols), False
    cols = math.isqrt(n - 1) + 1
    rows = -(-n // cols)
    if rows > limit:
        raise ValueError(f"{n} bytes do not fit one picture of at most {limit} x {limit} pixels")
    value = np.zeros(rows * cols, dtype=np.uint8)
    alpha = np.zeros(rows * cols, dtype=np.uint8)
    value[:n] = pixels
    alpha[:n] = 255
    return np.stack([value, alpha], axis=-1).reshape(rows, cols, 2), True


def unpicture(pixels: np.ndarray) -> bytes:
    """Inverse of :func:`picture`: a gray picture's bytes, or the opaque prefix of a gray+alpha one."""
    if pixels.ndim == 2:
        return pixels.astype(np.uint8, copy=False).tobytes()
    value, alpha = pixels[..., 0].reshape(-1), pixels[..., -1].reshape(-1)
    n = int(np.count_nonzero(alpha == 255))
    if not (np.all(alpha[:n] == 255) and np.all(alpha[n:] == 0)):
        raise ValueError("not a compgen picture (its alpha channel is not an opaque prefix)")
    return value[:n].astype(np.uint8, copy=False).tobytes()


class _PictureModel(CompressorModel):
    """Shared by ``jxl`` and ``webp``: bytes <-> picture, sizes, media shapes."""

    codec_window = 32768
    releases_gil = True
    #: largest side of a picture the format accepts
    limit = 16383

    def encode_pixels(self, pixels: np.ndarray, padded: bool) -> bytes:
        raise NotImplementedError

    def decode_pixels(self, blob: bytes) -> np.ndarray:
        raise NotImplementedError

    def encode_shape(self, data: bytes, shape=None) -> bytes:
        if not data:
            return b""
        pixels, padded = picture(data, self.limit, shape)
        return bytes(self.encode_pixels(pixels, padded))

    def compress(self, data: bytes) -> bytes:
        return self.encode_shape(data)

    def compress_media(self, data: bytes, meta: dict | None = None) -> bytes:
        return self.encode_shape(data, (meta or {}).get("shape"))

    def compressed_size(self, data: bytes) -> int:
        """Bytes of the output; an empty input (which codes to nothing) is scored as the
        1 x 1 black picture, the format's smallest file (as PNG scores it as its framing)."""
        if data:
            return len(self.compress(data))
        if getattr(self, "_empty_size", None) is None:
            self._empty_size = len(self.compress(b"\x00"))
        return self._empty_size

    def decompress(self, blob: bytes) -> bytes:
        if not blob:
            return b""
        try:
            pixels = self.decode_pixels(bytes(blob))
        except (RuntimeError, ValueError) as exc:  # imagecodecs' errors derive from RuntimeError
            raise ValueError(f"not a valid {self.name} picture ({str(exc).splitlines()[0]})") from None
        return unpicture(pixels)

    def library_version(self) -> str:
        ic = _ic()
        lib = {"jxl": "libjxl", "webp": "libwebp"}[self.name]
        found = [v for v in ic.version().split(", ") if v.startswith(lib + "-")]
        return f"imagecodecs {ic.__version__} {found[0] if found else lib}"


class JxlModel(_PictureModel):
    """``jxl``: JPEG XL lossless (libjxl via imagecodecs), bare codestream, one thread."""

    name = "jxl"
    limit = 1 << 18  # codestream level 5: at most 2^18 pixels a side

    def __init__(self, effort: int = 7, **kw):
        effort = int(effort)
        if not 1 <= effort <= 10:
            raise ValueError("jxl effort must be 1..10")
        self.effort = effort
        super().__init__(**kw)

    def codec_params(self) -> dict:
        return {} if self.effort == 7 else {"effort": self.effort}

    def encode_pixels(self, pixels, padded):
        return _ic().jpegxl_encode(pixels, lossless=True, distance=0, effort=self.effort, numthreads=1,
                                   usecontainer=False)

    def decode_pixels(self, blob):
        pixels = _ic().jpegxl_decode(blob, numthreads=1)
        if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 2):
            raise ValueError("not a compgen JPEG XL picture (8-bit gray, or gray + alpha)")
        return pixels

    def header_bytes(self, blob: bytes) -> int:
        """The codestream signature, plus the container's box headers and metadata boxes if any."""
        if blob.startswith(JXL_SIGNATURE):
            return len(JXL_SIGNATURE)
        if not blob.startswith(JXL_CONTAINER):
            return 0
        pos, coded = 0, 0
        while pos + 8 <= len(blob):
            size, kind = int.from_bytes(blob[pos: pos + 4], "big"), blob[pos + 4: pos + 8]
            size = size or len(blob) - pos
            if kind in (b"jxlc", b"jxlp"):
                skip = 8 + (4 if kind == b"jxlp" else 0)  # jxlp carries a 4-byte index
                coded += max(0, size - skip)
            pos += max(size, 8)
        return len(blob) - coded + len(JXL_SIGNATURE)


class WebpModel(_PictureModel):
    """``webp``: WebP lossless (libwebp via imagecodecs), ``cwebp -lossless -z 9``."""

    name = "webp"
    limit = 16383
    coder_topk = 8  # -z 9 spends ~10 ms per small picture: score fewer bytes per position

    def __init__(self, quality: int = 100, method: int = 6, **kw):
        quality, method = int(quality), int(method)
        if not 0 <= quality <= 100:
            raise ValueError("webp quality must be 0..100 (lossless: effort)")
        if not 0 <= method <= 6:
            raise ValueError("webp method must be 0..6")
        self.quality, self.method = quality, method
        super().__init__(**kw)

    def codec_params(self) -> dict:
        params = {}
        if self.quality != 100:
            params["quality"] = self.quality
        if self.method != 6:
            params["method"] = self.method
        return params

    def encode_pixels(self, pixels, padded):
        gray = pixels[..., 0] if padded else pixels
        planes = [gray, gray, gray] + ([pixels[..., 1]] if padded else [])
        return _ic().webp_encode(np.ascontiguousarray(np.stack(planes, axis=-1)), self.quality, lossless=True,
                                 method=self.method)

    def decode_pixels(self, blob):
        rgb = _ic().webp_decode(blob)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
            raise ValueError("not a compgen WebP picture")
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])):
            raise ValueError("not a compgen WebP picture (R, G and B differ)")
        if rgb.shape[2] == 4:
            return np.ascontiguousarray(rgb[..., [0, 3]])
        return np.ascontiguousarray(rgb[..., 0])

    def header_bytes(self, blob: bytes) -> int:
        """RIFF framing, chunk headers, the VP8L signature/size/version bytes and pad bytes."""
        if not (blob[:4] == b"RIFF" and blob[8:12] == b"WEBP"):
            return 0
        pos, coded = 12, 0
        while pos + 8 <= len(blob):
            kind, size = blob[pos: pos + 4], int.from_bytes(blob[pos + 4: pos + 8], "little")
            if kind == b"VP8L":
                coded += max(0, min(size, len(blob) - pos - 8) - 5)
            pos += 8 + size + (size & 1)
        return len(blob) - coded
