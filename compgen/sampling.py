"""Generate text from any Model: per-byte (the paper's definition) or by scored spans.

Byte mode draws each byte from ``model.next_byte_probs(context)``. For a compressor
that distribution is nearly flat (lengths move in whole bytes, see NOTES.md), so
compressors default to span mode:

1. propose: continuations of the current text's suffix found in the context the codec
   sees (its window: exactly the material an LZ/PPM codec can copy or predict from),
   ``span`` bytes each, from long suffix matches down to a single delimiter;
2. score: the codec gives every candidate its exact conditional code length
   (:mod:`compgen.compressors.spans`, one fast route per codec);
3. choose with the sampler (``p ∝ 2^(-bits/T)``) and commit the candidate's first word
   (plus the spaces/punctuation after it), then re-plan.

A copy guard rejects words that would make the output repeat ``max_copy`` bytes of the
prime verbatim, or ``self_copy`` bytes of its own earlier output (compressors love
replaying both). ``benchmarks/sampling.py`` measures what the guard changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .errors import UsageError
from .model import Model
from .samplers import Beam, Sampler, TopP

WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'")


def first_unit(span: bytes) -> bytes:
    """Leading delimiters + one word + the delimiters after it (up to the next word)."""
    i, n = 0, len(span)
    while i < n and span[i] not in WORD:
        i += 1
    while i < n and span[i] in WORD:
        i += 1
    while i < n and span[i] not in WORD:
        i += 1
    return span[:i]


def trailing_word(text: bytes) -> int:
    """Length of the word the text ends in (0 after a delimiter)."""
    i = len(text)
    while i > 0 and text[i - 1] in WORD:
        i -= 1
    return len(text) - i


# ------------------------------------------------------------------ copy guard
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


# ------------------------------------------------------------------ proposals
def suffix_array(data: bytes, depth: int = 32) -> np.ndarray:
    """Start positions of ``data`` sorted by their first ``depth`` bytes (prefix doubling)."""
    n = len(data)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
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

    def propose(self, recent: bytes, rng: np.random.Generator, limit: int | None = None) -> list[bytes]:
        """Up to ``limit`` (default ``candidates``) distinct ``span``-byte continuations of ``recent``."""
        limit = limit or self.candidates
        h, pool, sa = self.span, self.pool, self.sa
        view = recent if recent else pool[-max(self.ladder):]
        min_k = trailing_word(view) + 1
        per_level = max(4, limit // 3)
        seen: set[bytes] = set()
        out: list[bytes] = []

        # at a word boundary, continuations start a word: a delimiter here would mean the
        # match sat inside a longer run of spaces/punctuation (e.g. indentation)
        boundary = bool(view) and view[-1] not in WORD

        def add(c: bytes) -> bool:
            if len(c) == h and c not in seen and not (boundary and c[0] not in WORD):
                seen.add(c)
                out.append(c)
            return len(out) >= limit

        for k in self.ladder:
            if k < min_k or k > len(view):
                continue
            s = view[-k:]
            found = 0
            p = recent.find(s, 0, len(recent) - 1) if self.self_proposals else -1
            while p >= 0 and found < per_level:  # earlier occurrences in the recent text
                found += 1
                if add(recent[p + k:p + k + h]):
                    return out
                p = recent.find(s, p + 1, len(recent) - 1)
            lo, hi = self._range(s)
            if hi <= lo:
                continue
            picks = range(lo, hi) if hi - lo <= per_level else rng.integers(lo, hi, size=per_level)
            for i in picks:
                q = int(sa[i]) + k
                if add(pool[q:q + h]):
                    return out
        return out


# ------------------------------------------------------------------ results
@dataclass
class SampleResult:
    text: bytes
    settings: dict
    stats: dict = field(default_factory=dict)


@dataclass
class _State:
    text: bytearray  # prompt + generated
    n_prompt: int
    fixed: bytes
    keep: int

    @property
    def generated(self) -> bytes:
        return bytes(self.text[self.n_prompt:])

    def recent(self) -> bytes:
        return bytes(self.text[-self.keep:]) if self.keep else b""


def _is_compressor(model) -> bool:
    from .compressors.base import CompressorModel

    return isinstance(model, CompressorModel)


def default_settings(model: Model) -> dict:
    """Per-codec defaults for span mode (window, span length, candidates per step)."""
    from .compressors.spans import default_window

    name = getattr(model, "name", "")
    cands = {"gzip": 128, "zlib": 128, "deflate": 128, "zstd": 256, "xz": 48, "bz2": 64,
             "brotli": 32, "ppmd": 64}.get(name, 64)
    span = {"zstd": 24}.get(name, 16)
    return {"window": default_window(model), "candidates": cands, "span": span}


def generate(model: Model, prompt: bytes = b"", prime: bytes = b"", n: int = 200,
             sampler: Sampler | None = None, seed: int | None = 0, mode: str = "auto",
             window: int | None = None, keep: int | None = None, span: int | None = None,
             candidates: int | None = None, pool: str = "window",
             self_proposals: bool = False, max_copy: int = 24, self_copy: int = 16,
             max_seconds: float | None = None, scorer=None,
             on_text: Callable[[bytes], None] | None = None) -> SampleResult:
    """Sample ``n`` bytes continuing ``prompt`` after priming with ``prime``; see :func:`sample`."""
    from .compressors.spans import scorer_for

    t_setup = time.perf_counter()
    if isinstance(model, str):
        from .registry import load

        model = load(model)
    prompt, prime = bytes(prompt), bytes(prime)
    if int(n) < 0:
        raise UsageError(f"n must be >= 0 (got {n})")
    if mode not in ("auto", "byte", "span"):
        raise UsageError(f"mode must be auto, byte or span (got {mode!r})")
    if mode == "auto":
        mode = "span" if _is_compressor(model) else "byte"
    sampler = sampler if sampler is not None else TopP(0.9, temperature=0.7)
    if not isinstance(sampler, Sampler):
        raise UsageError(f"sampler must be a compgen.samplers.Sampler (got {type(sampler).__name__})")
    defaults = default_settings(model)
    window = int(window) if window is not None else defaults["window"]
    mc = model.max_context
    if isinstance(mc, int) and mc > 0:
        window = min(window, mc)
    if keep is None:  # codecs replay what they see; an LM should see all it wrote
        keep = 64 if mode == "span" else window // 2
    keep = max(0, min(int(keep), window))
    if window < 1:
        raise UsageError("window must be >= 1")
    span = int(span) if span is not None else defaults["span"]
    candidates = int(candidates) if candidates is not None else defaults["candidates"]
    if prime and prime[-1:] not in (b"\n", b" ") and prompt:
        prime = prime + b"\n\n"
    fixed = prime[-(window - keep):] if window > keep else b""
    state = _State(bytearray(prompt), len(prompt), fixed, keep)
    rng = np.random.default_rng(seed)
    scorer = scorer if scorer is not None else scorer_for(model)
    scorer.prepare(fixed)
    guard = CopyGuard(prime, max_copy, self_copy)
    guard.observe(bytes(state.text))
    if pool not in ("window", "prime"):
        raise UsageError(f"pool must be window or prime (got {pool!r})")
    proposer = None
    if mode == "span":
        proposer = SpanProposer(fixed if pool == "window" else prime, span, candidates)
        # without a prime the recent text is the only place words can come from
        proposer.self_proposals = bool(self_proposals) or not proposer.pool
    settings = {"model": model.spec, "mode": mode, "sampler": sampler.settings(), "seed": seed,
                "n": int(n), "window": window, "keep": keep, "span": span, "candidates": candidates,
                "pool": pool, "self_proposals": bool(self_proposals), "max_copy": max_copy,
                "self_copy": self_copy, "route": scorer.route,
                "prime_bytes": len(prime), "prompt": prompt.decode("utf-8", "replace")}
    t0 = time.perf_counter()
    stats = {"setup_seconds": round(t0 - t_setup, 3), "steps": 0, "byte_steps": 0, "guard_fallbacks": 0}
    deadline = None if max_seconds is None else t0 + float(max_seconds)

    def emit(piece: bytes) -> None:
        room = n - (len(state.text) - state.n_prompt)
        piece = piece[:room]
        if not piece:
            return
        state.text += piece
        guard.observe(bytes(state.text))
        if on_text:
            on_text(piece)

    while len(state.text) - state.n_prompt < n:
        if deadline is not None and time.perf_counter() >= deadline:
            stats["stopped"] = "max_seconds"
            break
        stats["steps"] += 1
        if mode == "byte":
            piece = _byte_step(model, state, sampler, rng, guard, stats)
        elif isinstance(sampler, Beam):
            piece = _span_beam_step(scorer, proposer, state, sampler, rng, guard, stats)
        else:
            piece = _span_step(scorer, proposer, state, sampler, rng, guard, stats)
        emit(piece)
    seconds = time.perf_counter() - t0
    out = state.generated
    stats.update(seconds=round(seconds, 3), bytes=len(out),
                 bytes_per_s=round(len(out) / seconds, 2) if seconds > 0 else None,
                 scored=scorer.scored + stats.get("scored", 0), guard_rejected=guard.rejected)
    return SampleResult(out, settings, stats)


def sample(model: Model, prompt: bytes = b"", prime: bytes = b"", n: int = 200,
           sampler: Sampler | None = None, seed: int | None = 0, **options) -> bytes:
    """Continue ``prompt`` with ``n`` bytes drawn from ``model`` after ``prime``.

    ``sampler``: :mod:`compgen.samplers` (default ``TopP(0.9, temperature=0.7)``).
    Options: ``mode`` ("auto": spans for compressors, bytes otherwise), ``window``
    (context bytes, default per codec), ``keep`` (recent text kept in it; default 64
    bytes in span mode, half the window in byte mode), ``span``,
    ``candidates``, ``max_copy`` / ``self_copy`` (copy guard, 0 = off),
    ``max_seconds``, ``on_text`` (callback per committed piece). Same seed, same bytes.
    """
    return generate(model, prompt, prime, n, sampler, seed, **options).text


# ------------------------------------------------------------------ steps
def _byte_bits(model: Model, context: bytes, stats: dict) -> np.ndarray:
    stats["scored"] = stats.get("scored", 0) + 256
    p = np.asarray(model.next_byte_probs(context), dtype=np.float64)
    with np.errstate(divide="ignore"):
        return -np.log2(p)


def _guard_mask(bits: np.ndarray, oks: list[bool], stats: dict) -> np.ndarray:
    ok = np.array(oks, dtype=bool) & np.isfinite(bits)
    if not ok.any():
        stats["guard_fallbacks"] += 1
        return bits
    return np.where(ok, bits, np.inf)


def _byte_step(model, state, sampler, rng, guard, stats) -> bytes:
    text = bytes(state.text)
    if isinstance(sampler, Beam):
        return _byte_beam(model, state, sampler, rng, guard, stats)
    bits = _byte_bits(model, state.fixed + state.recent(), stats)
    bits = _guard_mask(bits, [guard.ok(text, bytes([b])) for b in range(256)], stats)
    return bytes([sampler.choose(bits, rng)])


def _byte_beam(model, state, beam: Beam, rng, guard, stats) -> bytes:
    """Beam over bytes with the model's own next-byte distributions (works for any Model)."""
    ctx, text = state.fixed + state.recent(), bytes(state.text)
    beams = [(b"", 0.0)]
    for _ in range(beam.horizon):
        ext = []
        for seq, cost in beams:
            bits = _byte_bits(model, ctx + seq, stats)
            order = np.argsort(bits, kind="stable")[: beam.branch]
            for b in order:
                if np.isfinite(bits[b]) and guard.ok(text + seq, bytes([int(b)])):
                    ext.append((seq + bytes([int(b)]), cost + float(bits[b])))
        if not ext:
            break
        ext.sort(key=lambda x: x[1])
        beams = ext[: beam.width]
    if not beams[0][0]:
        stats["guard_fallbacks"] += 1
        bits = _byte_bits(model, ctx, stats)
        return bytes([int(np.argmin(bits))])
    i = beam.choose(np.array([c for _, c in beams]), rng)
    return beams[i][0][: beam.commit]


def _span_step(scorer, proposer, state, sampler, rng, guard, stats) -> bytes:
    text, recent = bytes(state.text), state.recent()
    spans = proposer.propose(recent, rng)
    if not spans:  # nothing to copy from: fall back to the paper's per-byte distribution
        stats["byte_steps"] += 1
        singles = [bytes([b]) for b in range(256)]
        bits = _guard_mask(scorer.bits(recent, singles), [guard.ok(text, s) for s in singles], stats)
        return bytes([sampler.choose(bits, rng)])
    units = [first_unit(s) for s in spans]
    oks = [guard.ok(text, u) for u in units]
    if any(oks):
        spans = [s for s, ok in zip(spans, oks) if ok]
        units = [u for u, ok in zip(units, oks) if ok]
    else:
        stats["guard_fallbacks"] += 1
    bits = scorer.bits(recent, spans)
    return units[sampler.choose(bits, rng)]


def _span_beam_step(scorer, proposer, state, beam: Beam, rng, guard, stats) -> bytes:
    """Beam over words: extend each beam by proposed words, keep the cheapest per byte."""
    text, recent = bytes(state.text), state.recent()
    beams: list[tuple[bytes, tuple[bytes, ...]]] = [(b"", ())]
    done: list[tuple[bytes, tuple[bytes, ...]]] = []
    while beams:
        ext, seen = [], set()
        for seq, units in beams:
            sub = np.random.default_rng(rng.integers(1 << 62))
            spans = proposer.propose(recent + seq, sub, limit=3 * beam.branch)
            picked = 0
            for s in spans:
                u = first_unit(s)
                new = seq + u
                if not u or new in seen or not guard.ok(text + seq, u):
                    continue
                seen.add(new)
                ext.append((new, units + (u,)))
                picked += 1
                if picked >= beam.branch:
                    break
        if not ext:
            break
        bits = scorer.bits(recent, [e[0] for e in ext])
        per_byte = bits / np.array([len(e[0]) for e in ext])
        order = np.argsort(per_byte, kind="stable")[: beam.width]
        beams = []
        for i in order:
            (done if len(ext[i][0]) >= beam.horizon else beams).append(ext[i])
        if len(done) >= beam.width:
            break
    done = done or beams
    if not done:
        return _span_step(scorer, proposer, state, TopP(1.0), rng, guard, stats)
    finals = [seq[: beam.horizon] for seq, _ in done]
    bits = scorer.bits(recent, finals)
    i = beam.choose(bits, rng)
    return b"".join(done[i][1][: beam.commit])


__all__ = ["sample", "generate", "SampleResult", "CopyGuard", "SpanProposer", "first_unit"]
