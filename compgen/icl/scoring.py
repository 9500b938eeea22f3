"""Scoring one item: multiple choice by code length, and greedy exact match.

Byte-granular codecs tie often, so both scores are the *expected* value under a
uniformly random tie-break: a k-way tie for the best counts 1/k when the right
answer is among the tied, 0 otherwise. A tie never favours the right answer, and a
model that cannot tell candidates apart scores exactly 1/(number of candidates).
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

#: code lengths closer than this (bits) are a tie; codecs give multiples of 8 bits
TIE_BITS = 1e-9


def choice_credit(bits: Sequence[float], answer: int) -> tuple[float, int]:
    """(credit, size of the tie for the minimum) for candidate code lengths ``bits``."""
    b = np.asarray(bits, dtype=np.float64)
    if b.ndim != 1 or not 0 <= answer < len(b):
        raise ValueError("bad bits/answer")
    if not np.all(np.isfinite(b)):
        b = np.where(np.isfinite(b), b, np.inf)
    tied = np.flatnonzero(b <= b.min() + TIE_BITS)
    return (1.0 / len(tied) if answer in tied else 0.0), int(len(tied))


def score_choice(model, prompt: bytes, candidates: Sequence[bytes], answer: int) -> dict:
    """Code length of each candidate given the prompt (one batched call) and its credit."""
    t = time.perf_counter()
    bits = np.asarray(model.code_lengths(list(candidates), prompt), dtype=np.float64)
    credit, tied = choice_credit(bits, answer)
    return {"bits": [float(x) for x in bits], "score": credit, "tied": tied,
            "seconds": time.perf_counter() - t}


def greedy_exact_match(model, prompt: bytes, target: bytes) -> float:
    """Probability that greedy decoding (argmax of ``next_byte_probs``, ties broken at
    random) reproduces ``target`` exactly after ``prompt``.

    Teacher-forced: at each step the right byte must be among the argmax bytes; with
    m tied bytes the chance of picking it is 1/m. Stops at the first miss, so wrong
    answers cost one distribution. Implemented locally on ``next_byte_probs`` because
    we need the tie sizes, which a sampler does not report.
    """
    credit = 1.0
    ctx = bytes(prompt)
    for byte in target:
        p = np.asarray(model.next_byte_probs(ctx), dtype=np.float64)
        best = p.max()
        tied = np.flatnonzero(p >= best * (1 - 1e-12))
        if byte not in tied:
            return 0.0
        credit /= len(tied)
        ctx += bytes([byte])
    return credit


def wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a mean of n scores in [0, 1]."""
    if n <= 0:
        return 0.0, 1.0
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
