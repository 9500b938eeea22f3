"""Exact next-byte distributions from a token LM (Phan et al. 2024; Hayase et al. 2025).

The probability that a token LM's output starts with the bytes ``x`` is the sum, over
all token sequences that *cover* ``x`` (every token but the last inside ``x``, the last
one may run past its end), of the sequences' probabilities. Then
``p(b | x) = P(cover x.b) / P(cover x)``. We keep the covering sequences as beams: a
beam is a token sequence ending exactly at a byte boundary ``j`` of ``x`` whose next
token can still cover ``x[j:]``; its contribution to byte ``b`` is
``P(beam) * sum of p(t | beam) over tokens t whose bytes start with x[j:] + b``.

Only "natural" tokens (ones that stand for bytes) take part; special tokens are
renormalised away, so the 256 probabilities sum to 1 exactly. A long context is
tokenised normally up to its last few tokens (a fixed prefix, as in the papers), and
beams shared by every covering sequence are committed to that prefix as they go.
``prune`` (relative probability) and ``max_beams`` bound the work; 0/None = exact.
The fixed prefix lives in a KV cache (:mod:`compgen.lm.prefix_scorer`), so a query
forwards only a beam's few tokens on top of it, not the whole prompt.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .prefix_scorer import PrefixScorer

_NEG = -np.inf
CACHE_CHUNK = 64  # tokens per aligned chunk of the byte view's prompt cache


class ByteView:
    def __init__(self, model, prune: float = 1e-5, max_beams: int | None = 16, tail_tokens: int = 2,
                 cache_size: int = 512):
        self.model = model
        self.prune = float(prune)
        self.max_beams = max_beams
        self.tail_tokens = int(tail_tokens)
        # a canonical cache (whole aligned chunks only): the floats depend on the tokens
        # alone, never on earlier queries, as a byte coder's decoder requires
        self.scorer = PrefixScorer(model, chunk=CACHE_CHUNK)
        index = self.scorer.index
        self.natural = index.natural
        self.sorted_ids, self.sorted_bytes = index.sorted_ids, index.sorted_bytes
        self.sorted_lens, self.first_byte = index.sorted_lens, index.first_byte
        self._range = index.prefix_range
        self._cache: OrderedDict = OrderedDict()
        self.cache_size = cache_size
        self.context = None  # bytes the state describes
        self.prefix: list[int] = []  # fixed tokens
        self.tail = b""  # bytes of context after the prefix
        self.beams: list[tuple[tuple, int, float]] = []

    # ------------------------------------------------------------- LM access
    def logprobs(self, toks: tuple) -> np.ndarray:
        """log p(. | prefix + toks) over natural tokens (others -inf)."""
        key = (len(self.prefix), tuple(self.prefix[-8:]), toks)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        x = self.scorer.logprobs_after(self.prefix, toks)
        self._cache[key] = x
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return x

    # ------------------------------------------------------------- state
    def reset(self, context: bytes, tail_tokens: int | None = None) -> None:
        k = self.tail_tokens if tail_tokens is None else tail_tokens
        codec = self.model.codec
        self._cache.clear()
        tokens = [int(t) for t in codec.encode(context)]
        esc, width = getattr(codec, "esc_id", None), 1 + getattr(codec, "n_digits", 1)
        starts, i = [], 0  # token groups: an escape and its digits stay together
        while i < len(tokens):
            starts.append(i)
            i += width if tokens[i] == esc else 1
        target = len(tokens) - k
        cut = max([s for s in starts if s <= target], default=0) if k else len(tokens)
        while cut < len(tokens) and tokens[cut] == esc:
            cut += width
        cut = min(cut, len(tokens))
        self.prefix = tokens[:cut]
        tail = codec.decode(tokens[cut:])
        self.tail = b""
        self.beams = [((), 0, 0.0)]
        self.context = bytes(context[: len(context) - len(tail)])
        for b in tail:
            if not self._advance(b):
                self.reset(context, 0)
                return
        self.context = bytes(context)

    def _advance(self, b: int) -> bool:
        """Extend the state by one byte; False if no covering sequence survives."""
        n = len(self.tail)
        tail = self.tail + bytes([b])
        out = []
        for toks, j, lp in self.beams:
            u = tail[j:]
            lo, hi = self._range(u)
            if lo == hi:
                continue
            lens = self.sorted_lens[lo:hi]
            exact = self.sorted_ids[lo:hi][lens == len(u)]
            if len(exact):
                logp = self.logprobs(toks)
                for t in exact:
                    if logp[t] > _NEG:
                        out.append((toks + (int(t),), n + 1, lp + float(logp[t])))
            if (lens > len(u)).any():
                out.append((toks, j, lp))
        if not out:
            return False
        self.tail = tail
        self.beams = self._prune(out)
        self._commit()
        return True

    def _prune(self, beams):
        if self.prune > 0:
            best = max(lp for _, _, lp in beams)
            floor = best + np.log(self.prune)
            beams = [bm for bm in beams if bm[2] >= floor]
        if self.max_beams and len(beams) > self.max_beams:
            beams = sorted(beams, key=lambda bm: -bm[2])[: self.max_beams]
        return beams

    def _commit(self) -> None:
        """Move a first token shared by every beam into the fixed prefix."""
        while self.beams and all(len(t) >= 1 for t, _, _ in self.beams):
            first = self.beams[0][0][0]
            if any(t[0] != first for t, _, _ in self.beams):
                return
            k = len(self.model.codec.table[first])
            base = self.beams[0][2]
            old_key = (len(self.prefix), tuple(self.prefix[-8:]))
            self.prefix.append(first)
            new_key = (len(self.prefix), tuple(self.prefix[-8:]))
            moved = OrderedDict()
            for (n, last, toks), v in self._cache.items():  # same sequences, shorter names
                if (n, last) == old_key and toks[:1] == (first,):
                    moved[new_key + (toks[1:],)] = v
            self._cache = moved
            self.tail = self.tail[k:]
            self.beams = [(t[1:], j - k, lp - base) for t, j, lp in self.beams]  # ratios unchanged

    # ------------------------------------------------------------- queries
    def next_byte_probs(self, context: bytes) -> np.ndarray:
        context = bytes(context)
        ctx = self.context
        if ctx is not None and context.startswith(ctx) and len(context) - len(ctx) <= 64:
            for i, b in enumerate(context[len(ctx):]):
                if not self._advance(b):
                    self.reset(context)
                    break
                self.context = context[: len(ctx) + i + 1]
        else:
            self.reset(context)
        return self.distribution()

    def distribution(self) -> np.ndarray:
        out = np.zeros(256, dtype=np.float64)
        if not self.beams:
            return np.full(256, 1 / 256)
        top = max(lp for _, _, lp in self.beams)
        for toks, j, lp in self.beams:
            u = self.tail[j:]
            lo, hi = self._range(u)
            longer = self.sorted_lens[lo:hi] > len(u)
            if not longer.any():
                continue
            ids = self.sorted_ids[lo:hi][longer]
            nxt = (self.first_byte[lo:hi] if not u else
                   np.array([bs[len(u)] for bs, keep in zip(self.sorted_bytes[lo:hi], longer) if keep]))
            if not u:
                nxt = nxt[longer]
            w = np.exp(self.logprobs(toks)[ids] + (lp - top))
            out += np.bincount(nxt, weights=w, minlength=256)
        total = out.sum()
        if not total > 0:
            return np.full(256, 1 / 256)
        return out / total
