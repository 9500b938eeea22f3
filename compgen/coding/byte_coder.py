"""Any Model -> payload, one byte at a time.

The generic conversion: for every byte, ask the model for ``p(. | bytes so far)`` and
range code the byte. Token LMs ship their own coder; this one serves every other Model.
Encoder and decoder build the context the same way (the last ``max_context`` bytes,
which is all a model may look at), so they see identical floats; giving the model a
view of at most ``max_context`` bytes also keeps long inputs linear instead of copying
the whole prefix for every byte.
"""

from __future__ import annotations

from typing import Callable

from .container import CoderFormat
from .range_coder import SymbolDecoder, SymbolEncoder

NAME = "byte-range-v1"

Progress = Callable[[int], None]  # called with the number of bytes just done

def _context_fn(model) -> Callable[[bytearray], bytes]:
    """bytes-so-far -> the context to give the model (identical on both sides)."""
    limit = model.max_context
    if limit is None:
        return bytes
    limit = int(limit)
    if limit <= 0:
        return lambda buf: b""
    return lambda buf: bytes(buf[-limit:])


class ByteRangeCoder:
    """Payload coder: exact for any deterministic Model."""

    name = NAME

    def __init__(self, model):
        self.model = model

    def settings(self) -> dict:
        return {"coder": self.name}

    def encode(self, data: bytes, progress: Progress | None = None) -> tuple[bytes, dict, float]:
        """Returns (payload, settings to store, ideal bits)."""
        enc = SymbolEncoder()
        probs, context = self.model.next_byte_probs, _context_fn(self.model)
        ctx = bytearray()
        for b in data:
            enc.encode(b, probs(context(ctx)))
            ctx.append(b)
            if progress:
                progress(1)  # a model call costs far more than a tick
        return enc.finish(), self.settings(), enc.ideal_bits

    def check_settings(self, settings: dict) -> None:
        from ..errors import RefusedError

        if settings.get("coder") != self.name:
            raise RefusedError(f"file was written by coder {settings.get('coder')!r}, this model decodes {self.name!r}")

    def decode(self, payload: bytes, length: int, settings: dict, progress: Progress | None = None) -> bytes:
        from ..errors import RefusedError

        self.check_settings(settings)
        dec = SymbolDecoder(payload)
        probs, context = self.model.next_byte_probs, _context_fn(self.model)
        out = bytearray()
        for _ in range(length):
            out.append(dec.decode(probs(context(out))))
            if progress:
                progress(1)
        if not dec.maybe_exhausted():
            raise RefusedError("corrupt compgen file (payload continues past the stated length); nothing written")
        return bytes(out)


def _pack(settings: dict) -> bytes:
    return b""  # nothing to record: the model's fingerprint says everything


def _unpack(raw: bytes) -> dict:
    if raw:
        raise ValueError("byte coder takes no settings")
    return {"coder": NAME}


FORMATS = (CoderFormat(1, NAME, _pack, _unpack),)
