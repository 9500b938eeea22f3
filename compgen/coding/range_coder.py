"""Entropy coding of symbols under given distributions (constriction's range coder).

The only place probabilities meet the coder. Encoder and decoder must pass the same
floats: constriction's quantisation (``Categorical(p, perfect=False)``, which gives
every symbol a nonzero share) is a deterministic function of those floats, so equal
arrays on both sides mean equal codes.

The per-symbol path is kept lean because it runs once per byte: validation is one
reduction (the minimum) on the encoder only; constriction itself rejects NaN, inf and
all-zero vectors. The decoder does not validate: it only ever sees what the encoder
accepted, and a decoder fed different floats is caught by the container's checksum.
"""

from __future__ import annotations

import math

import numpy as np
import constriction

from ..errors import RefusedError

_Categorical = constriction.stream.model.Categorical
_queue = constriction.stream.queue
_F64 = np.float64
_F64DT = np.dtype(np.float64)
_min = np.minimum.reduce
_sum = np.add.reduce
_log2 = math.log2


def coder_probs(probs) -> np.ndarray:
    """float64, contiguous, finite, non-negative, positive sum (full check, for callers)."""
    p = np.ascontiguousarray(probs, dtype=_F64)
    if p.ndim != 1 or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ValueError("invalid probability vector (NaN, inf, negative or all zero)")
    return p


def _bad(exc: Exception) -> ValueError:
    return ValueError(f"cannot code under this distribution: {str(exc).splitlines()[0].strip(chr(39))}")


class SymbolEncoder:
    """Appends symbols; tracks the ideal code length ``sum(-log2 p)`` for overhead checks.

    ``probs`` need not be normalised; the ideal length uses ``p[s] / sum(p)``.
    """

    def __init__(self):
        self._enc = _queue.RangeEncoder()
        self.ideal_bits = 0.0
        self.count = 0

    def encode(self, symbol: int, probs: np.ndarray) -> None:
        p = np.ascontiguousarray(probs, dtype=_F64)
        try:
            model = _Categorical(p, perfect=False)  # raises on NaN / inf / zero sum
            if _min(p) < 0:
                raise ValueError("negative probability")
            self._enc.encode(symbol, model)  # raises KeyError for a symbol outside the alphabet
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            raise _bad(exc) from None
        ps = p[symbol]
        self.ideal_bits += _log2(_sum(p)) - _log2(ps) if ps > 0 else math.inf
        self.count += 1

    def encode_batch(self, symbols: np.ndarray, probs: np.ndarray) -> None:
        """Symbols ``i`` under row ``i`` of ``probs``; same code as encoding them one by one."""
        p = np.ascontiguousarray(probs, dtype=_F64)
        symbols = np.ascontiguousarray(symbols, dtype=np.int32)
        if len(symbols) == 0:
            return
        if p.ndim != 2 or p.shape[0] != len(symbols):
            raise ValueError("probs must have one row per symbol")
        if _min(p, axis=None) < 0:
            raise ValueError("cannot code under this distribution: negative probability")
        try:
            self._enc.encode(symbols, _Categorical(perfect=False), p)
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            raise _bad(exc) from None
        with np.errstate(divide="ignore"):
            rows = p[np.arange(len(symbols)), symbols] / p.sum(axis=1)
            self.ideal_bits -= float(np.log2(rows).sum())
        self.count += len(symbols)

    @property
    def num_bits(self) -> int:
        return int(self._enc.num_bits())

    def finish(self) -> bytes:
        return self._enc.get_compressed().astype("<u4").tobytes()


class SymbolDecoder:
    """Reads symbols back; refuses payloads that cannot be range-coded words."""

    def __init__(self, payload: bytes):
        if len(payload) % 4:
            raise RefusedError("corrupt payload: not a whole number of 32-bit words")
        words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
        self._dec = _queue.RangeDecoder(words)
        self._decode = self._dec.decode

    def decode(self, probs: np.ndarray) -> int:
        try:
            if probs.dtype is _F64DT:  # hot path: the array the model returned, no copy
                return self._decode(_Categorical(probs, perfect=False))
        except (AttributeError, TypeError):  # a list, or a non-contiguous array
            pass
        except (ValueError, RuntimeError, KeyError, AssertionError) as exc:  # constriction signals bad data this way
            raise RefusedError(f"corrupt payload: {str(exc).splitlines()[0]}") from None
        try:
            return self._decode(_Categorical(np.ascontiguousarray(probs, dtype=_F64), perfect=False))
        except (ValueError, RuntimeError, KeyError, AssertionError) as exc:
            raise RefusedError(f"corrupt payload: {str(exc).splitlines()[0]}") from None

    def decode_batch(self, probs: np.ndarray) -> np.ndarray:
        try:
            return self._dec.decode(_Categorical(perfect=False), np.ascontiguousarray(probs, dtype=_F64))
        except (ValueError, RuntimeError, KeyError, AssertionError) as exc:
            raise RefusedError(f"corrupt payload: {str(exc).splitlines()[0]}") from None

    def maybe_exhausted(self) -> bool:
        """False means compressed data is definitely left over (the file is not what it claims)."""
        return bool(self._dec.maybe_exhausted())
