"""Copy guard: a generator must not fake fluency by replaying its prime or itself.

Prime grams are hashed once (rolling polynomial hash, sorted array + searchsorted);
the output's own grams are kept in a set as they are produced.
"""

from __future__ import annotations

import numpy as np

_B = np.uint64(0x9E3779B97F4A7C15)


def _powers(m: int) -> np.ndarray:
    p = np.ones(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(m - 2, -1, -1):
            p[j] = p[j + 1] * _B
    return p


def _gram_hashes(data: bytes, m: int, powers: np.ndarray) -> np.ndarray:
    a = np.frombuffer(data, dtype=np.uint8).astype(np.uint64)
    n = len(a) - m + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(m):
            h += a[j:j + n] * powers[j]
    return h


class CopyGuard:
    """Rejects a continuation that would repeat ``max_copy`` bytes of the prime verbatim
    or ``self_copy`` bytes of the text produced so far (0 disables either check)."""

    def __init__(self, prime: bytes, max_copy: int = 24, self_copy: int = 16):
        self.max_copy, self.self_copy = int(max_copy), int(self_copy)
        self.rejected = 0
        self._table = np.zeros(0, dtype=np.uint64)
        if self.max_copy > 0 and len(prime) >= self.max_copy:
            self._pow = _powers(self.max_copy)
            self._table = np.sort(_gram_hashes(prime, self.max_copy, self._pow))  # (np.unique is 100x slower)
        self._own: set[bytes] = set()
        self._own_upto = 0

    def observe(self, text: bytes) -> None:
        """Record the grams of ``text`` (the full output so far) for the self check."""
        m = self.self_copy
        if m <= 0:
            return
        for end in range(max(m, self._own_upto + 1), len(text) + 1):
            self._own.add(bytes(text[end - m:end]))
        self._own_upto = len(text)

    def ok(self, text: bytes, unit: bytes) -> bool:
        """May ``unit`` follow ``text``?"""
        m = self.self_copy
        if m > 0:
            t = text[-(m - 1):] + unit if m > 1 else unit
            start = len(t) - len(unit)
            own = self._own
            for end in range(max(m, start + 1), len(t) + 1):
                if t[end - m:end] in own:
                    self.rejected += 1
                    return False
        m = self.max_copy
        if m > 0 and len(self._table):
            t = text[-(m - 1):] + unit
            start = len(t) - len(unit)
            ends = range(max(m, start + 1), len(t) + 1)
            if len(ends):
                grams = np.frombuffer(b"".join(t[e - m:e] for e in ends), dtype=np.uint8)
                grams = grams.reshape(len(ends), m).astype(np.uint64)
                with np.errstate(over="ignore"):
                    h = (grams * self._pow).sum(axis=1, dtype=np.uint64)
                idx = np.searchsorted(self._table, h)
                idx[idx >= len(self._table)] = 0
                if np.any(self._table[idx] == h):
                    self.rejected += 1
                    return False
        return True
