"""Byte mode: each byte drawn from the model's own next-byte distribution.

This is the paper's definition of sampling from a compressor, and the natural mode
for any predictor. The functions take plain context bytes and a ``next_bits``
callable, so they work for any byte stream (text, pixels, audio samples): a mode for
other media can reuse :func:`byte_step` and :func:`byte_beam` with its own context
and distribution.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..model import Model
from ..samplers import Beam, Sampler
from .guard import CopyGuard
from .modes import SampleState, SamplingMode, register_mode

#: context bytes -> float64[256] code lengths in bits of the next byte
NextBits = Callable[[bytes], np.ndarray]


def model_bits(model: Model, context: bytes, stats: dict) -> np.ndarray:
    """``-log2 p(b | context)`` for all 256 bytes (counted in ``stats['scored']``)."""
    stats["scored"] = stats.get("scored", 0) + 256
    p = np.asarray(model.next_byte_probs(context), dtype=np.float64)
    with np.errstate(divide="ignore"):
        return -np.log2(p)


def guard_mask(bits: np.ndarray, oks: list[bool], stats: dict) -> np.ndarray:
    """Infinite bits where the guard refuses; unchanged (and counted) if it refuses all."""
    ok = np.array(oks, dtype=bool) & np.isfinite(bits)
    if not ok.any():
        stats["guard_fallbacks"] += 1
        return bits
    return np.where(ok, bits, np.inf)


def byte_step(next_bits: NextBits, context: bytes, text: bytes, sampler: Sampler,
              rng: np.random.Generator, guard: CopyGuard, stats: dict) -> bytes:
    """One byte drawn by ``sampler`` from ``next_bits(context)``, the guard applied to ``text``."""
    bits = next_bits(context)
    bits = guard_mask(bits, [guard.ok(text, bytes([b])) for b in range(256)], stats)
    return bytes([sampler.choose(bits, rng)])


def byte_beam(next_bits: NextBits, context: bytes, text: bytes, beam: Beam,
              rng: np.random.Generator, guard: CopyGuard, stats: dict) -> bytes:
    """Beam over bytes with per-byte distributions; returns the first ``beam.commit`` bytes."""
    beams = [(b"", 0.0)]
    for _ in range(beam.horizon):
        ext = []
        for seq, cost in beams:
            bits = next_bits(context + seq)
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
        bits = next_bits(context)
        return bytes([int(np.argmin(bits))])
    i = beam.choose(np.array([c for _, c in beams]), rng)
    return beams[i][0][: beam.commit]


@register_mode
class ByteMode(SamplingMode):
    """Per-byte sampling (any sampler; Beam searches over bytes)."""

    name = "byte"

    def step(self, state: SampleState, sampler, rng, guard, stats) -> bytes:
        model = self.setup.model

        def next_bits(ctx: bytes) -> np.ndarray:
            return model_bits(model, ctx, stats)

        step = byte_beam if isinstance(sampler, Beam) else byte_step
        return step(next_bits, state.context(), bytes(state.text), sampler, rng, guard, stats)
