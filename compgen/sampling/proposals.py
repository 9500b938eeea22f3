"""Span proposals: continuations of the current suffix found in the codec's window.

A suffix array over the static pool (built once by prefix doubling in numpy) answers
"where did these bytes occur before?" by binary search; the recent output is searched
directly.
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError
from .units import WORD, trailing_word


#: above this many bytes of prefixes (n x depth) the suffix array is built by prefix doubling
FAST_SORT_BYTES = 1 << 28


def suffix_array(data: bytes, depth: int = 32) -> np.ndarray:
    """Start positions of ``data`` sorted by their first ``depth`` bytes (prefix doubling)."""
    n = len(data)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    words = 1
    while 8 * words < depth:
        words *= 2  # the depth prefix doubling reaches (a power of two), in 8-byte words
    if b"\0" not in data and n * 8 * words <= FAST_SORT_BYTES:
        # radix-style: stable sorts by 8-byte big-endian words, last word first (NUL padding
        # sorts like the end of the data). Same order as prefix doubling, 2-3x faster on a
        # 1 MB prime, which is most of a whole-process `cgz sample`.
        padded = np.frombuffer(bytes(data) + bytes(8 * words + 8), dtype=np.uint8)
        grams = np.lib.stride_tricks.sliding_window_view(padded, 8)
        order = None
        for w in reversed(range(words)):
            key = np.ascontiguousarray(grams[8 * w:8 * w + n]).view(">u8").ravel().astype(np.uint64)
            order = (np.argsort(key, kind="stable") if order is None
                     else order[np.argsort(key[order], kind="stable")])
        return order.astype(np.int64)
    rank = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    sa = np.argsort(rank, kind="stable")
    k = 1
    while k < depth:
        nxt = np.zeros(n, dtype=np.int64)
        nxt[: n - k] = rank[k:] + 1
        key = rank * (n + 2) + nxt
        sa = np.argsort(key, kind="stable")
        ks = key[sa]
        new = np.empty(n, dtype=np.int64)
        new[sa] = np.concatenate(([0], np.cumsum(ks[1:] != ks[:-1])))
        rank = new
        if rank[sa[-1]] == n - 1:
            break
        k *= 2
    return sa


class SpanProposer:
    """Candidate continuations: what followed the current suffix in the pool text.

    The pool is the codec's window (the material an LZ/PPM codec can copy or predict
    from) or the whole prime. Suffix lengths run from ``ladder[0]`` down to 1 byte, so
    both faithful continuations (long matches) and fresh words (after a bare
    delimiter) compete; the codec's scores, not the proposer, decide between them.
    The static pool is indexed once (suffix array); recent text is searched directly.
    """

    def __init__(self, pool: bytes, span: int = 16, candidates: int = 128, ladder=(24, 12, 8, 5, 3, 2, 1)):
        if int(span) < 1 or int(candidates) < 1:
            raise UsageError("span and candidates must be >= 1")
        self.span, self.candidates = int(span), int(candidates)
        self.ladder = tuple(sorted({int(k) for k in ladder}, reverse=True))
        self.pool = bytes(pool)
        self.sa = suffix_array(self.pool, max(self.ladder))
        self.self_proposals = False  # also propose continuations found in the recent output

    def _range(self, s: bytes) -> tuple[int, int]:
        import bisect

        pool, sa, k = self.pool, self.sa, len(s)
        key = lambda i: pool[sa[i]:sa[i] + k]  # noqa: E731
        lo = bisect.bisect_left(range(len(sa)), s, key=key)
        hi = bisect.bisect_right(range(len(sa)), s, lo=lo, key=key)
        return lo, hi

    def levels(self, recent: bytes, rng: np.random.Generator, per_level: int,
               longest: int | None = None):
        """Yield ``(k, continuations)`` per suffix length ``k`` of the ladder, longest first: up to
        ``per_level`` ``span``-byte continuations of the last ``k`` bytes of ``recent``
        (not deduplicated across levels; lazily, so a caller that stops early draws no more
        random numbers)."""
        h, pool, sa = self.span, self.pool, self.sa
        view = recent if recent else pool[-max(self.ladder):]
        min_k = trailing_word(view) + 1
        # at a word boundary, continuations start a word: a delimiter here would mean the
        # match sat inside a longer run of spaces/punctuation (e.g. indentation)
        boundary = bool(view) and view[-1] not in WORD
        for k in self.ladder:
            if k < min_k or k > len(view) or (longest is not None and k > longest):
                continue
            s = view[-k:]
            found: list[bytes] = []
            p = recent.find(s, 0, len(recent) - 1) if self.self_proposals else -1
            while p >= 0 and len(found) < per_level:  # earlier occurrences in the recent text
                found.append(recent[p + k:p + k + h])
                p = recent.find(s, p + 1, len(recent) - 1)
            lo, hi = self._range(s)
            if hi > lo:
                picks = range(lo, hi) if hi - lo <= per_level else rng.integers(lo, hi, size=per_level)
                found += [pool[int(sa[i]) + k:int(sa[i]) + k + h] for i in picks]
            found = [c for c in found if len(c) == h and not (boundary and c[0] not in WORD)]
            if found:
                yield k, found

    def propose(self, recent: bytes, rng: np.random.Generator, limit: int | None = None,
                longest: int | None = None) -> list[bytes]:
        """Up to ``limit`` (default ``candidates``) distinct ``span``-byte continuations of ``recent``
        (suffixes of at most ``longest`` bytes: short ones propose fresh words)."""
        limit = limit or self.candidates
        seen: set[bytes] = set()
        out: list[bytes] = []
        for _, found in self.levels(recent, rng, max(4, limit // 3), longest):
            for c in found:
                if c not in seen:
                    seen.add(c)
                    out.append(c)
                    if len(out) >= limit:
                        return out
        return out
