"""Any Model -> payload, one byte at a time, with bounded work on hostile input.

The generic conversion: for every byte, ask a predictor for ``p(. | bytes so far)`` and
range code the byte. Token LMs ship their own coder; this loop serves every other Model
(codec models drive it with their own predictor, :mod:`compgen.compressors.codec_coder`).
Encoder and decoder build the context the same way (the last ``max_context`` bytes,
which is all a model may look at), so they see identical floats.

Version 2 (``byte-range-v2``) floors every probability at ``FLOOR`` = 2^-16 before
coding. That costs at most 0.6% of a bit per byte on a certain model, and buys two
guarantees the decoder relies on:

- every symbol costs at least ``MIN_BITS`` (0.093 bits: the top probability is also
  capped at 1 - 2^-4), so a ``P``-byte payload
  holds at most :func:`max_symbols` ``(P)`` symbols: longer stated lengths are refused
  before decoding (the container's ``max_length`` hook);
- the decoder adds up ``-log2 q`` of what it decodes and refuses as soon as that
  exceeds what the payload's bits can carry, or once every payload word is read and the
  symbols since cost more than the coder's state can hold (``TAIL_BITS``), so a corrupt
  payload is refused after about as much work as decoding a file of its size.

Version 3 (``byte-range-v3``; codec models: ``codec-mix-v2``) also records the file's
code length ``sum -log2 q``, as its gap to the payload's own bits in 2-bit units (one
header byte: the range coder's words exceed the ideal length by 0-96 bits). Encoder and
decoder compute the same floats, so a decoder whose running cost passes that record is
decoding what was never encoded: a stated length too long is refused within ~20 symbols
(2 bits of rounding at >= 0.093 bits each) past the real end, instead of after up to
``TAIL_BITS / MIN_BITS`` = 1,376 symbols decoded from the coder's state.

Files of ``byte-range-v1`` (no floor), ``byte-range-v2`` and ``codec-mix-v1`` (no
recorded length) are still decoded, with the running-cost and tail checks.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..errors import RefusedError
from .format import CoderFormat, Reader, put_varint
from .range_coder import SymbolDecoder, SymbolEncoder

NAME_V1 = "byte-range-v1"
NAME_V2 = "byte-range-v2"
NAME = "byte-range-v3"
CODEC_NAME_V1 = "codec-mix-v1"
CODEC_NAME = "codec-mix-v2"  # codec models' coder (compgen.compressors.codec_coder)

FLOOR = 2.0 ** -16
CAP = 1.0 - 2.0 ** -4  # no symbol more likely than this: each costs >= 0.093 bits
MIN_BITS = -math.log2(CAP)
TAIL_BITS = 128  # the range decoder's 64-bit state, once every word is read, with 2x margin
V1_MIN_BITS = -math.log2(1.0 - 255 * 2.0 ** -24)  # constriction's own floor (1 of 2^24)
SLACK_BITS = 256  # the range coder's final words and rounding, generously
_KEEP = 1.0 - 256 * FLOOR
GAP_UNIT = 2.0  # bits per unit of the recorded gap between payload bits and code length
COST_SLACK = 1e-6  # the two sides' float sums differ by ~1e-12 bits

Progress = Callable[[int], None]  # called with the number of bytes just done
_log2 = math.log2
_sum = np.add.reduce


def floored(p: np.ndarray) -> np.ndarray:
    """``p`` normalised, mixed with 2^-16 per symbol and its top capped at CAP: no symbol
    costs less than MIN_BITS (on English text this costs nothing measurable; on very
    repetitive data a few percent)."""
    q = np.asarray(p, dtype=np.float64) * (_KEEP / _sum(np.asarray(p, dtype=np.float64))) + FLOOR
    top = int(q.argmax())
    excess = q[top] - CAP
    if excess > 0:
        q += excess / 255.0
        q[top] = CAP
    return q


def cost_limit(payload_len: int) -> float:
    """Most bits of ``-log2 q`` a valid payload of this size can carry (1% rounding margin)."""
    return (8.0 * payload_len + SLACK_BITS) * 1.01


def max_symbols(payload_len: int, min_bits: float = MIN_BITS, recorded_bits: float | None = None) -> int:
    """Most symbols a payload can hold (and, for v3 files, what its recorded code length allows)."""
    n = int(cost_limit(payload_len) / min_bits)
    return n if recorded_bits is None else min(n, int((recorded_bits + COST_SLACK) / min_bits))


def cost_record(bits: float, payload_len: int) -> int:
    """The v3 header's record of the code length: ``8 * payload_len - bits`` in 2-bit units,
    rounded down, so the bound it gives back is never below the true length."""
    return int(math.floor((8.0 * payload_len - bits) / GAP_UNIT))


def recorded_bits(settings: dict, payload_len: int) -> float | None:
    """The code length bound a header records (None: a version without one)."""
    gap = settings.get("gap")
    return None if gap is None else 8.0 * payload_len - GAP_UNIT * int(gap)


def context_fn(limit: int | None) -> Callable[[bytearray], bytes]:
    """bytes-so-far -> the context to give the model (identical on both sides)."""
    if limit is None:
        return bytes
    limit = int(limit)
    if limit <= 0:
        return lambda buf: b""
    return lambda buf: bytes(buf[-limit:])


def encode_bytes(data: bytes, predict: Callable[[bytearray], np.ndarray],
                 observe: Callable[[int], None] | None = None,
                 progress: Progress | None = None) -> tuple[bytes, float]:
    """Range code ``data`` under ``predict(history)`` (floored probabilities); returns (payload, ideal bits).

    ``observe(byte)`` lets an adaptive predictor learn after each byte."""
    enc = SymbolEncoder()
    hist = bytearray()
    for b in data:
        enc.encode(b, predict(hist))
        if observe is not None:
            observe(b)
        hist.append(b)
        if progress:
            progress(1)  # a model call costs far more than a tick
    payload = enc.finish()
    if enc.ideal_bits > cost_limit(len(payload)):  # would make the decoder refuse: never write it
        raise RuntimeError("byte coder: code length exceeds its own decoding bound (a bug)")
    return payload, enc.ideal_bits


def decode_bytes(payload: bytes, length: int, predict: Callable[[bytearray], np.ndarray],
                 observe: Callable[[int], None] | None = None, progress: Progress | None = None,
                 min_bits: float = MIN_BITS, record: float | None = None) -> bytes:
    """Inverse of :func:`encode_bytes`; refuses as soon as the payload cannot hold what is decoded
    (``record``: the code length the header recorded, which the running cost may not pass)."""
    if length > max_symbols(len(payload), min_bits, record):
        raise RefusedError(f"corrupt compgen file (a {len(payload)}-byte payload cannot hold {length} bytes)")
    limit = cost_limit(len(payload))
    if record is not None:
        limit = min(limit, record + COST_SLACK)
    dec = SymbolDecoder(payload)
    out = bytearray()
    cost = 0.0
    tail = -1.0  # cost since the decoder ran out of words (-1: not yet)
    for _ in range(length):
        q = predict(out)
        s = dec.decode(q)
        qs = q[s]
        if qs <= 0:
            raise RefusedError("corrupt compgen file (payload decodes to an impossible byte); nothing written")
        bits = -_log2(qs / _sum(q))
        cost += bits
        if tail >= 0:
            tail += bits
        elif dec.maybe_exhausted():
            tail = 0.0
        if cost > limit or tail > TAIL_BITS:
            raise RefusedError("corrupt compgen file (payload decodes past its size or recorded code length); "
                               "nothing written")
        if observe is not None:
            observe(s)
        out.append(s)
        if progress:
            progress(1)
    if not dec.maybe_exhausted():
        raise RefusedError("corrupt compgen file (payload continues past the stated length); nothing written")
    return bytes(out)


class ByteRangeCoder:
    """Payload coder: exact for any deterministic Model."""

    name = NAME

    def __init__(self, model):
        self.model = model

    def settings(self) -> dict:
        return {"coder": self.name}

    def encode(self, data: bytes, progress: Progress | None = None) -> tuple[bytes, dict, float]:
        """Returns (payload, settings to store, ideal bits)."""
        probs, context = self.model.next_byte_probs, context_fn(self.model.max_context)
        payload, bits = encode_bytes(bytes(data), lambda h: floored(probs(context(h))), progress=progress)
        return payload, {**self.settings(), "gap": cost_record(bits, len(payload))}, bits

    def check_settings(self, settings: dict) -> None:
        if settings.get("coder") not in (NAME, NAME_V2, NAME_V1):
            raise RefusedError(f"file was written by coder {settings.get('coder')!r}, this model decodes {self.name!r}")

    def max_length(self, payload_len: int, settings: dict) -> int:
        if settings.get("coder") == NAME_V1:
            return max_symbols(payload_len, V1_MIN_BITS)
        return max_symbols(payload_len, MIN_BITS, recorded_bits(settings, payload_len))

    def decode(self, payload: bytes, length: int, settings: dict, progress: Progress | None = None) -> bytes:
        self.check_settings(settings)
        probs, context = self.model.next_byte_probs, context_fn(self.model.max_context)
        if settings.get("coder") == NAME_V1:
            def predict(h):
                return np.ascontiguousarray(probs(context(h)), dtype=np.float64)
            return decode_bytes(payload, length, predict, progress=progress, min_bits=V1_MIN_BITS)
        return decode_bytes(payload, length, lambda h: floored(probs(context(h))), progress=progress,
                            record=recorded_bits(settings, len(payload)))


# ------------------------------------------------------------ header formats
def _no_settings(name: str):
    def pack(settings: dict) -> bytes:
        return b""  # nothing to record: the model's fingerprint says everything

    def unpack(raw: bytes) -> dict:
        if raw:
            raise ValueError(f"{name} takes no settings")
        return {"coder": name}

    return pack, unpack


def _put_signed(out: bytearray, v: int) -> None:
    put_varint(out, v << 1 if v >= 0 else (-v << 1) - 1)  # zigzag: small magnitudes take one byte


def _get_signed(r: Reader) -> int:
    z = r.varint(1 << 50)
    return -((z + 1) >> 1) if z & 1 else z >> 1


def _pack_gap(settings: dict) -> bytes:
    out = bytearray()
    _put_signed(out, int(settings["gap"]))
    return bytes(out)


def _unpack_gap(raw: bytes) -> dict:
    r = Reader(raw, what="byte coder settings")
    gap = _get_signed(r)
    if not r.done():
        raise ValueError("trailing bytes in byte coder settings")
    return {"coder": NAME, "gap": gap}


def _codec_packer(name: str, with_bits: bool):
    def pack(settings: dict) -> bytes:
        out = bytearray([int(settings["topk"]), int(settings["order"])])
        put_varint(out, int(settings["window"]))
        if with_bits:
            _put_signed(out, int(settings["gap"]))
        return bytes(out)

    def unpack(raw: bytes) -> dict:
        r = Reader(raw, what="codec coder settings")
        topk, order, window = r.byte(), r.byte(), r.varint(1 << 40)
        s = {"coder": name, "topk": topk, "order": order, "window": window}
        if with_bits:
            s["gap"] = _get_signed(r)
        if not r.done() or not 1 <= topk <= 255 or order > 16:
            raise ValueError("bad codec coder settings")
        return s

    return pack, unpack


# Ids 16-19 leave 3..15 to other coders being added in parallel.
FORMATS = (CoderFormat(1, NAME_V1, *_no_settings(NAME_V1)),
           CoderFormat(16, NAME_V2, *_no_settings(NAME_V2)),
           CoderFormat(17, CODEC_NAME_V1, *_codec_packer(CODEC_NAME_V1, False)),
           CoderFormat(18, NAME, _pack_gap, _unpack_gap),
           CoderFormat(19, CODEC_NAME, *_codec_packer(CODEC_NAME, True)))
