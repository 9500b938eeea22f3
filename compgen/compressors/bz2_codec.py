"""bzip2 as a Model (block size level 1..9 x 100 kB, which is also its window)."""

from __future__ import annotations

import bz2

from .base import CompressorModel


class Bz2Model(CompressorModel):
    name = "bz2"

    def __init__(self, level: int = 9, **kw):
        level = int(level)
        if not 1 <= level <= 9:
            raise ValueError("bz2 level must be 1..9")
        self.level = level
        self.codec_window = level * 100_000
        super().__init__(**kw)

    def codec_params(self) -> dict:
        return {"level": self.level}

    def compress(self, data: bytes) -> bytes:
        return bz2.compress(data, self.level)

    def decompress(self, blob: bytes) -> bytes:
        return bz2.decompress(blob)
