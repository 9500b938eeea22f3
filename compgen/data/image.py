"""Images -> 8-bit grayscale -> non-overlapping patches, as in Delétang et al. (2024).

Exact transform (documented in docs/media.md):

* decode with Pillow (PNG, JPEG, GIF, BMP, TIFF, WebP, ... whatever Pillow reads);
  the first frame only; EXIF orientation is not applied (pixels as stored);
* grayscale: 8-bit "L" images as they are; "1" (bilevel) via Pillow's L conversion;
  16-bit grayscale ``>> 8``; "LA" its L band; every other mode is converted to RGB and
  becomes ``floor((R + G + B) / 3)`` (the mean of R, G and B); alpha is dropped;
* patches: ``rows x cols`` (default 32 x 64 = 2048 bytes) cut row-major over the grid
  ``H // rows`` by ``W // cols``; the right and bottom margins that do not fill a patch
  are dropped (as the paper does); each patch is its pixels in row-major order.

:func:`reassemble` puts patches back into the (cropped) grayscale picture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CompgenError, MissingDependencyError, UsageError

DEFAULT_PATCH = (32, 64)  # rows x columns; 2048 bytes
MAX_PIXELS = 1 << 28  # refuse decompression bombs instead of exhausting memory


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise MissingDependencyError("image data needs Pillow (pip install 'compgen[media]')") from None
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    return Image


def parse_patch(text: str | tuple) -> tuple[int, int]:
    """'32x64' -> (32, 64) (rows x columns)."""
    if isinstance(text, tuple):
        rows, cols = text
    else:
        try:
            rows, cols = (int(v) for v in str(text).lower().split("x"))
        except ValueError:
            raise UsageError(f"bad patch shape {text!r}: expected ROWSxCOLS, e.g. 32x64") from None
    if rows < 1 or cols < 1 or rows * cols > 1 << 24:
        raise UsageError(f"bad patch shape {text!r}: rows and columns must be >= 1")
    return int(rows), int(cols)


def image_extensions() -> set[str]:
    """Lower-case file suffixes Pillow can open."""
    return {ext.lower() for ext, fmt in _pil().registered_extensions().items() if fmt in _pil().OPEN}


def load_gray(path: str | Path) -> np.ndarray:
    """uint8 [H, W] grayscale pixels of an image file (see module doc); one-line errors."""
    Image = _pil()
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode == "L":
                return np.asarray(img, dtype=np.uint8).copy()
            if mode.startswith("I;16"):
                return (np.asarray(img).astype(np.uint16) >> 8).astype(np.uint8)
            if mode in ("I", "F"):
                return np.clip(np.rint(np.asarray(img, dtype=np.float64)), 0, 255).astype(np.uint8)
            if mode == "1":
                return np.asarray(img.convert("L"), dtype=np.uint8).copy()
            if mode == "LA":
                return np.asarray(img.getchannel("L"), dtype=np.uint8).copy()
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint16)
    except FileNotFoundError:
        raise CompgenError(f"{path}: no such file") from None
    except Image.DecompressionBombError:
        raise CompgenError(f"{path}: image has more than {MAX_PIXELS} pixels, refused") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # unreadable, truncated, unsupported
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CompgenError(f"{path}: not a readable image ({why})") from None
    return (rgb.sum(axis=2) // 3).astype(np.uint8)


def grid(shape: tuple[int, int], patch: tuple[int, int]) -> tuple[int, int]:
    """Patches per column and per row that fit an image of ``shape``."""
    return shape[0] // patch[0], shape[1] // patch[1]


def patches(gray: np.ndarray, patch: tuple[int, int] = DEFAULT_PATCH):
    """Yield (index, (grid row, grid col), bytes) of every whole patch, row-major."""
    rows, cols = patch
    n_r, n_c = grid(gray.shape, patch)
    for i in range(n_r):
        for j in range(n_c):
            yield i * n_c + j, (i, j), gray[i * rows:(i + 1) * rows, j * cols:(j + 1) * cols].tobytes()


def reassemble(blobs: list[bytes], grid_shape: tuple[int, int], patch: tuple[int, int] = DEFAULT_PATCH) -> np.ndarray:
    """Row-major patches -> the cropped grayscale picture (inverse of :func:`patches`)."""
    n_r, n_c = grid_shape
    rows, cols = patch
    if len(blobs) != n_r * n_c or any(len(b) != rows * cols for b in blobs):
        raise ValueError("patch count or size does not match the grid")
    out = np.zeros((n_r * rows, n_c * cols), dtype=np.uint8)
    for k, b in enumerate(blobs):
        i, j = divmod(k, n_c)
        out[i * rows:(i + 1) * rows, j * cols:(j + 1) * cols] = np.frombuffer(b, dtype=np.uint8).reshape(rows, cols)
    return out


def to_png_bytes(gray: np.ndarray) -> bytes:
    """A grayscale array as PNG file bytes (for viewers and sample grids)."""
    import io

    buf = io.BytesIO()
    _pil().fromarray(np.ascontiguousarray(gray, dtype=np.uint8), mode="L").save(buf, format="PNG", optimize=True)
    return buf.getvalue()
