"""FLAC (libsndfile via soundfile) of bytes seen as unsigned 8-bit mono samples.

The native baseline of the audio column (Delétang et al. 2024, Table 1): every byte is
a sample ``b - 128`` (signed 8 bit), coded at the data's rate (default 16 kHz) with the
highest compression level (``compression_level=1.0``, libFLAC level 8). An empty input
codes to an empty output. Header: ``fLaC`` and the metadata blocks (STREAMINFO,
libsndfile's VORBIS_COMMENT); the rest is audio frames.
"""

from __future__ import annotations

import io

import numpy as np

from .base import CompressorModel

#: header of a libsndfile FLAC: 4 + (4 + 34) STREAMINFO + (4 + 40) VORBIS_COMMENT
FRAMING = 86


def _sf():
    import soundfile

    return soundfile


class FlacModel(CompressorModel):
    """``flac``: 8-bit mono FLAC, highest compression level."""

    name = "flac"
    codec_window = 4608  # bytes one FLAC frame (its largest block) can predict from
    releases_gil = False

    def __init__(self, rate: int = 16000, level: float = 1.0, **kw):
        self.rate = int(rate)
        self.level = float(level)
        if not 1 <= self.rate <= 655350:
            raise ValueError("rate must be 1..655350 Hz")
        if not 0.0 <= self.level <= 1.0:
            raise ValueError("level must be 0..1 (soundfile's compression_level)")
        super().__init__(**kw)

    def codec_params(self) -> dict:
        params = {}
        if self.rate != 16000:
            params["rate"] = self.rate
        if self.level != 1.0:
            params["level"] = self.level
        return params

    def library_version(self) -> str:
        sf = _sf()
        return f"soundfile {sf.__version__} {sf.__libsndfile_version__}"

    def encode_rate(self, data: bytes, rate: int) -> bytes:
        if not data:
            return b""
        samples = (np.frombuffer(bytes(data), dtype=np.uint8).astype(np.int16) - 128) << 8
        buf = io.BytesIO()
        _sf().write(buf, samples, int(rate), format="FLAC", subtype="PCM_S8", compression_level=self.level)
        return buf.getvalue()

    def compress(self, data: bytes) -> bytes:
        return self.encode_rate(data, self.rate)

    def compress_media(self, data: bytes, meta: dict | None = None) -> bytes:
        return self.encode_rate(data, int((meta or {}).get("rate") or self.rate))

    def compressed_size(self, data: bytes) -> int:
        return len(self.compress(data)) if data else FRAMING

    def decompress(self, blob: bytes) -> bytes:
        if not blob:
            return b""
        samples, _ = _sf().read(io.BytesIO(bytes(blob)), dtype="int16", always_2d=True)
        if samples.shape[1] != 1:
            raise ValueError("not a mono compgen FLAC")
        return ((samples[:, 0].astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes()

    def header_bytes(self, blob: bytes) -> int:
        """``fLaC`` plus every metadata block, up to the first audio frame."""
        if not blob.startswith(b"fLaC"):
            return 0
        pos = 4
        while pos + 4 <= len(blob):
            head = blob[pos]
            pos += 4 + int.from_bytes(blob[pos + 1: pos + 4], "big")
            if head & 0x80:
                break
        return min(pos, len(blob))
