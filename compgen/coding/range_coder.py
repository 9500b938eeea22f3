"""Entropy coding of symbols under given distributions (constriction's range coder).

The only place probabilities meet the coder. Encoder and decoder must pass the same
floats: :func:`coder_probs` is applied on both sides, and constriction's quantisation
(``perfect=False``) is a deterministic function of those floats.
"""

from __future__ import annotations

import numpy as np
import constriction

from ..errors import RefusedError

_Categorical = constriction.stream.model.Categorical
_queue = constriction.stream.queue


def coder_probs(probs: np.ndarray) -> np.ndarray:
    """float64, finite, non-negative; constriction guarantees every symbol a nonzero share."""
    p = np.ascontiguousarray(probs, dtype=np.float64)
    if not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ValueError("invalid probability vector")
    return p


class SymbolEncoder:
    """Appends symbols; tracks the ideal code length ``sum(-log2 p)`` for overhead checks."""

    def __init__(self):
        self._enc = _queue.RangeEncoder()
        self.ideal_bits = 0.0
        self.count = 0

    def encode(self, symbol: int, probs: np.ndarray) -> None:
        p = coder_probs(probs)
        self._enc.encode(int(symbol), _Categorical(p, perfect=False))
        self.ideal_bits -= float(np.log2(p[symbol] / p.sum()))
        self.count += 1

    def encode_batch(self, symbols: np.ndarray, probs: np.ndarray) -> None:
        """Symbols ``i`` under row ``i`` of ``probs``; same code as encoding them one by one."""
        p = np.ascontiguousarray(probs, dtype=np.float64)
        symbols = np.ascontiguousarray(symbols, dtype=np.int32)
        if len(symbols) == 0:
            return
        self._enc.encode(symbols, _Categorical(perfect=False), p)
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

    def decode(self, probs: np.ndarray) -> int:
        try:
            return int(self._dec.decode(_Categorical(coder_probs(probs), perfect=False)))
        except (ValueError, RuntimeError) as exc:  # constriction signals bad data this way
            raise RefusedError(f"corrupt payload: {exc}") from None

    def decode_batch(self, probs: np.ndarray) -> np.ndarray:
        try:
            return self._dec.decode(_Categorical(perfect=False), np.ascontiguousarray(probs, dtype=np.float64))
        except (ValueError, RuntimeError) as exc:
            raise RefusedError(f"corrupt payload: {exc}") from None
