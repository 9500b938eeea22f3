"""Span mode: the codec chooses between proposed multi-byte continuations.

One appended byte is below a codec's length granularity, a 16-byte span is not: each
step proposes continuations (:mod:`.proposals`), scores them with their exact
conditional code length (:mod:`compgen.compressors.spans`), lets the sampler pick
one and commits its first word unit (:func:`.units.first_unit`).
"""

from __future__ import annotations

import numpy as np

from ..samplers import Beam, TopP
from .byte_mode import guard_mask
from .modes import SampleSetup, SamplingMode, register_mode
from .proposals import SpanProposer
from .junctions import plan_cut
from .units import first_unit, leading_units


@register_mode
class SpanMode(SamplingMode):
    """Scored word proposals (Beam: a beam over words)."""

    name = "span"

    def __init__(self, setup: SampleSetup):
        super().__init__(setup)
        pool = setup.options.get("pool_text")
        if pool is None:
            pool = setup.fixed if setup.pool == "window" else setup.prime
        ladder = setup.options.get("ladder") or (24, 12, 8, 5, 3, 2, 1)
        self.proposer = SpanProposer(pool, setup.span, setup.candidates, ladder)
        # without a prime the recent text is the only place words can come from
        self.proposer.self_proposals = bool(setup.self_proposals) or not self.proposer.pool
        self._avoid = None  # (text length, run bytes) a planned junction leaves (junctions.plan_cut)

    @staticmethod
    def default_keep(window: int) -> int:
        return 64  # codecs replay what they see: keep little of the own output

    def step(self, state, sampler, rng, guard, stats) -> bytes:
        if isinstance(sampler, Beam):
            return self.beam_step(state, sampler, rng, guard, stats)
        return self.single_step(state, sampler, rng, guard, stats)

    def single_step(self, state, sampler, rng, guard, stats) -> bytes:
        text, recent = bytes(state.text), state.recent()
        if self.setup.options.get("backoff"):
            piece = self.backoff_choose(text, recent, sampler, rng, guard, stats)
            if piece is not None:
                return piece
        spans = self.proposer.propose(recent, rng)
        if not spans:  # nothing to copy from: fall back to the paper's per-byte distribution
            stats["byte_steps"] += 1
            return self.byte_fallback(text, recent, sampler, rng, guard, stats)
        piece = self.choose(spans, text, recent, sampler, rng, guard)
        if piece is None:  # every proposal extends a copy: fresh words after a short suffix
            piece = self.choose(self.proposer.propose(recent, rng, longest=3), text, recent, sampler, rng, guard)
        if piece is None:
            stats["guard_fallbacks"] += 1  # one guarded byte breaks the run
            piece = self.byte_fallback(text, recent, sampler, rng, guard, stats)
        return piece

    def choose(self, spans, text, recent, sampler, rng, guard) -> bytes | None:
        """Score the spans the guard allows; commit the chosen one's leading phrase (or word)."""
        k = self.setup.options.get("commit", 1)
        for n_units in sorted({k, 1}, reverse=True):
            units = [leading_units(s, n_units) for s in spans]
            oks = [guard.ok(text, u) for u in units]
            if any(oks):
                spans = [s for s, ok in zip(spans, oks) if ok]
                units = [u for u, ok in zip(units, oks) if ok]
                return units[sampler.choose(self.setup.scorer.bits(recent, spans), rng)]
        return None

    def backoff_candidates(self, text, recent, rng, guard, exclude: bytes = b""):
        """Longest context first: the continuations of the longest suffix that still offers
        ``backoff`` distinct guard-passing words (longer levels' words included), so a forced
        break re-joins the corpus where most of the text matches. Returns spans, their
        committed units, the suffix length each came from, and the level reached. Spans
        starting with ``exclude`` (a run planned to end here) are left out."""
        need = int(self.setup.options["backoff"])
        k_units = self.setup.options.get("commit", 1)
        spans, units, ctx, seen = [], [], [], set()
        level = 0
        cap = self.setup.candidates
        for k, found in self.proposer.levels(recent, rng, cap):
            level = k
            for s in found[: cap - len(spans)]:
                u = leading_units(s, k_units)
                if not u or s in seen or (exclude and s.startswith(exclude)) or not guard.ok(text, u):
                    continue
                seen.add(s)
                spans.append(s)
                units.append(u)
                ctx.append(k)
            if len({*units}) >= need or len(spans) >= cap:
                break
        return spans, units, ctx, level

    def backoff_choose(self, text, recent, sampler, rng, guard, stats) -> bytes | None:
        """The codec chooses among the back-off candidates (:meth:`backoff_candidates`)."""
        avoid = self._avoid[1] if self._avoid and self._avoid[0] == len(text) else b""
        spans, units, ctx, level = self.backoff_candidates(text, recent, rng, guard, avoid)
        if not spans and avoid:  # the planned junction has no way on: let the run go on
            spans, units, ctx, level = self.backoff_candidates(text, recent, rng, guard)
        if not spans:
            return None
        stats.setdefault("backoff_levels", []).append(level)
        bits = self.setup.scorer.bits(recent, spans)
        if self.setup.options.get("lookahead"):
            spans, units, bits = self.look_ahead(text, recent, spans, units, bits, rng, guard, stats)
        i = sampler.choose(bits, rng)
        if self.setup.options.get("plan", "off") != "off":
            piece, left = plan_cut(self, text, recent, spans[i], units[i], rng, guard, stats)
            self._avoid = (len(text) + len(piece), left) if left else None
            return piece
        return units[i]

    def look_ahead(self, text, recent, spans, units, bits, rng, guard, stats):
        """Two-step scoring: a span's bytes after its committed unit may be bytes the guard
        will never let through, so the ``lookahead`` cheapest distinct units are re-scored
        with what the next step could really add after them (the codec's cheapest
        next-step span), over the same horizon as a span."""
        m = int(self.setup.options["lookahead"])
        h, keep = self.setup.span, self.setup.keep
        best: dict[bytes, int] = {}
        for i in np.argsort(bits, kind="stable"):
            if units[i] not in best:
                best[units[i]] = int(i)
            if len(best) >= m:
                break
        if len(best) < 2:
            return spans, units, bits
        out_spans, out_units, joint = [], [], []
        for u, i in best.items():
            r2 = (recent + u)[-keep:] if keep else b""
            nxt, _, _, _ = self.backoff_candidates(text + u, r2, rng, guard)
            if nxt:
                cands = [(u + s)[:h] for s in nxt]
                joint.append(float(np.min(self.setup.scorer.bits(recent, cands))))
            else:  # a dead end for the next step: only its own span
                joint.append(float(bits[i]) + 8.0 * h)
            out_spans.append(spans[i])
            out_units.append(u)
        stats["lookahead_steps"] = stats.get("lookahead_steps", 0) + 1
        return out_spans, out_units, np.array(joint)

    def byte_fallback(self, text, recent, sampler, rng, guard, stats) -> bytes:
        """One byte from the codec's per-byte lengths, among bytes its window holds."""
        seen = frozenset(self.proposer.pool or text) or frozenset(range(256))
        singles = [bytes([b]) for b in range(256)]
        oks = [b in seen and guard.ok(text, s) for b, s in enumerate(singles)]
        bits = guard_mask(self.setup.scorer.bits(recent, singles), oks, stats)
        return bytes([sampler.choose(bits, rng)])

    def beam_step(self, state, beam: Beam, rng, guard, stats) -> bytes:
        """Beam over words: extend each beam by proposed words, keep the cheapest per byte."""
        scorer, proposer = self.setup.scorer, self.proposer
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
            return self.single_step(state, TopP(1.0), rng, guard, stats)
        finals = [seq[: beam.horizon] for seq, _ in done]
        bits = scorer.bits(recent, finals)
        i = beam.choose(bits, rng)
        return b"".join(done[i][1][: beam.commit])
