"""Junction planning: end each copied run where the text re-joins the corpus smoothly.

Under the copy guard a sample is a chain of corpus runs; most of the reference LM's
excess bits sit in the first bytes after a junction (docs/sampling.md, round 4). The
codec has chosen a span; the guard says how far that run may go. Instead of committing
a fixed number of words and breaking wherever the guard forces it, the planner looks at
every word boundary the run may reach and cuts at the one whose tail offers the longest
back-off context elsewhere in the corpus, up to ``PIVOT_ENOUGH`` bytes, and among those
at the latest (``plan="overlap"``). The next step leaves the run there; the codec still
chooses every continuation, at the cut too.
"""

from __future__ import annotations

import numpy as np

from .units import first_unit

PLANS = ("off", "overlap")
#: a pivot this long (about two words) re-joins as smoothly as a longer one: among such
#: cuts the longest run wins (fewer junctions; measured in docs/sampling.md, round 4)
PIVOT_ENOUGH = 10
#: bytes of the run after a cut that identify it, so the next step's proposals leave it
RUN_TAIL = 12


def cut_points(span: bytes) -> list[int]:
    """Word boundaries inside ``span`` (after whole units, before the next word)."""
    out, at = [], 0
    while True:
        u = first_unit(span[at:])
        if not u or at + len(u) >= len(span):
            return out
        at += len(u)
        out.append(at)


def plan_cut(mode, text: bytes, recent: bytes, span: bytes, unit: bytes, rng, guard,
             stats) -> tuple[bytes, bytes]:
    """(piece to commit of the chosen ``span``, run bytes the next step must not continue with):
    ``unit`` and b"" if the guard lets the whole span through (no junction ahead), else the run
    up to the best cut among the boundaries the guard allows (see the module doc) and the
    bytes that followed the cut."""
    cuts = cut_points(span)
    allowed = []
    for c in cuts:
        if not guard.ok(text, span[:c]):
            break
        allowed.append(c)
    if len(allowed) == len(cuts) or not allowed:
        return unit, b""  # the run does not end within the span: nothing to plan yet
    keep = mode.setup.keep
    seed = int(rng.integers(1 << 62))
    best, best_key = None, None
    for c in allowed:
        head = span[:c]
        t2, r2 = text + head, ((recent + head)[-keep:] if keep else b"")
        found, _, _, level = mode.backoff_candidates(t2, r2, np.random.default_rng(seed), guard,
                                                     exclude=span[c:c + RUN_TAIL])
        if not found:
            continue
        key = (min(level, PIVOT_ENOUGH), c)
        if best_key is None or key > best_key:
            best, best_key = c, key
    if best is None:
        return unit, b""
    stats["planned_cuts"] = stats.get("planned_cuts", 0) + 1
    return span[:best], span[best:best + RUN_TAIL]
