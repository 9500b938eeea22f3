"""Which part of the prime the codec sees: the tail, or the block the codec finds most typical.

A codec's window is usually much smaller than the prime (gzip: 32 KB of a 1 MB corpus),
and the tail of a file is often not typical of it (lcet10 ends in a list of workshop
participants and phone numbers; every sample primed on it read like an address book).
``window_from="best"`` lets the codec choose: ``blocks`` evenly spaced candidate blocks
of the window's size are each asked for the code length of a probe (the prompt plus
slices of the prime from outside the block), and the lowest median bits/byte wins.
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError
from ..model import Model

PROBE_SLICES, PROBE_BYTES = 16, 256


def best_block(model: Model, prime: bytes, prompt: bytes, size: int, blocks: int = 8) -> bytes:
    """The ``size``-byte block of ``prime`` whose context makes the probe cheapest.

    Costs come from the codec's own span-scoring route (:func:`compgen.compressors.spans.scorer_for`:
    a zlib state copy, a zstd prefix dictionary, ...), one ``prepare`` per candidate block.
    """
    from ..compressors.spans import scorer_for

    if size <= 0 or len(prime) <= size:
        return prime[-size:] if size > 0 else b""
    span = len(prime) - size
    starts = sorted({round(k * span / max(1, blocks - 1)) for k in range(max(1, int(blocks)))})
    step = max(1, len(prime) // PROBE_SLICES)
    slices = [(p, prime[p:p + PROBE_BYTES]) for p in range(step // 2, len(prime) - PROBE_BYTES, step)]
    scorer = scorer_for(model)
    best, best_cost = None, float("inf")
    for s in starts:
        block = prime[s:s + size]
        parts = ([prompt] if prompt else []) + [x for p, x in slices if p + PROBE_BYTES <= s or p >= s + size]
        if not parts:
            continue
        scorer.prepare(block)
        per_byte = scorer.bits(b"", parts) / np.array([len(x) for x in parts])
        # median over the probe pieces: an untypical stretch of the prime must not buy its way in
        cost = float(np.median(per_byte))
        if cost < best_cost:
            best, best_cost = block, cost
    return best if best is not None else prime[-size:]


def fixed_context(model: Model, prime: bytes, prompt: bytes, size: int, window_from: str = "tail") -> bytes:
    """The fixed part of the sampling context: ``size`` bytes of the prime."""
    if window_from == "tail":
        return prime[-size:] if size > 0 else b""
    if window_from == "best":
        return best_block(model, prime, prompt, size)
    raise UsageError(f"window_from must be tail or best (got {window_from!r})")
