"""Brotli as a Model (quality 0..11, lgwin 10..24)."""

from __future__ import annotations

import brotli

from .base import CompressorModel


class BrotliModel(CompressorModel):
    name = "brotli"
    coder_topk = 16  # quality 11 costs ~2 ms per 1.5 KB compression: score fewer bytes per position

    def __init__(self, level: int = 11, lgwin: int = 22, **kw):
        level, lgwin = int(level), int(lgwin)
        if not 0 <= level <= 11:
            raise ValueError("brotli level (quality) must be 0..11")
        if not 10 <= lgwin <= 24:
            raise ValueError("brotli lgwin must be 10..24")
        self.level, self.lgwin = level, lgwin
        self.codec_window = (1 << lgwin) - 16
        super().__init__(**kw)

    def codec_params(self) -> dict:
        return {"level": self.level, "lgwin": self.lgwin}

    def library_version(self) -> str:
        return f"brotli {getattr(brotli, '__version__', '?')}"

    def compress(self, data: bytes) -> bytes:
        return brotli.compress(data, quality=self.level, lgwin=self.lgwin)

    def decompress(self, blob: bytes) -> bytes:
        return brotli.decompress(blob)
