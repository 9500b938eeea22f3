"""Any Model -> payload, one byte at a time.

The generic conversion: for every byte, ask the model for ``p(. | bytes so far)`` and
range code the byte. Token LMs ship their own coder; this one serves every other Model.
"""

from __future__ import annotations

from typing import Callable

from .range_coder import SymbolDecoder, SymbolEncoder

Progress = Callable[[int], None]  # called with the number of bytes just done


class ByteRangeCoder:
    """Payload coder: exact for any deterministic Model."""

    name = "byte-range-v1"

    def __init__(self, model):
        self.model = model

    def settings(self) -> dict:
        return {"coder": self.name}

    def encode(self, data: bytes, progress: Progress | None = None) -> tuple[bytes, dict, float]:
        """Returns (payload, settings to store, ideal bits)."""
        enc = SymbolEncoder()
        ctx = bytearray()
        for b in data:
            enc.encode(b, self.model.next_byte_probs(bytes(ctx)))
            ctx.append(b)
            if progress:
                progress(1)
        return enc.finish(), self.settings(), enc.ideal_bits

    def check_settings(self, settings: dict) -> None:
        from ..errors import RefusedError

        if settings.get("coder") != self.name:
            raise RefusedError(f"file was written by coder {settings.get('coder')!r}, this model decodes {self.name!r}")

    def decode(self, payload: bytes, length: int, settings: dict, progress: Progress | None = None) -> bytes:
        self.check_settings(settings)
        dec = SymbolDecoder(payload)
        out = bytearray()
        for _ in range(length):
            out.append(dec.decode(self.model.next_byte_probs(bytes(out))))
            if progress:
                progress(1)
        return bytes(out)
