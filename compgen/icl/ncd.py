"""Probe 3: compression-distance classification (Jiang et al. 2023, "Less is more").

NCD(x, y) = (C(xy) - min(C(x), C(y))) / max(C(x), C(y)), with C from any Model:
C(x) = code_length(x) and C(xy) = C(x) + code_length(y | x), batched over all
training texts with one ``code_lengths`` call per test text.

kNN with the corrected tie handling: the published code counted a test item right
when *either* label of a 2-way vote tie was right (top-2). Here ties (equal
distances at the k-th neighbour, equal votes) are broken uniformly at random and we
report the expected top-1 accuracy, computed exactly for k=1 and by averaging many
random tie-breaks for k>1.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field

import numpy as np

from ..errors import UsageError

SNIPPET = 256


@dataclass
class NcdQuery:
    """Distances from one test text to every training text."""

    text: bytes
    train: tuple
    kind: str = field(default="ncd", init=False)

    def key(self) -> str:
        h = hashlib.sha256(self.text)
        for t in self.train:
            h.update(hashlib.sha256(t).digest())
        h.update(json.dumps({"kind": self.kind}).encode())
        return h.hexdigest()[:24]

    def run(self, model) -> dict:
        cond = np.asarray(model.code_lengths(list(self.train), self.text), dtype=np.float64)
        return {"cx": float(model.code_length(self.text)), "cond": [float(v) for v in cond]}


@dataclass
class SelfLengths:
    """C(y) of every training text, computed once and shared by all queries."""

    texts: tuple
    kind: str = field(default="ncd-self", init=False)

    def key(self) -> str:
        h = hashlib.sha256(self.kind.encode())
        for t in self.texts:
            h.update(hashlib.sha256(t).digest())
        return h.hexdigest()[:24]

    def run(self, model) -> dict:
        return {"c": [float(model.code_length(t)) for t in self.texts]}


def distances(query: dict, self_lengths: dict) -> np.ndarray:
    """NCD row from a query result and the training texts' own lengths."""
    cx, cy = query["cx"], np.asarray(self_lengths["c"], dtype=np.float64)
    cxy = cx + np.asarray(query["cond"], dtype=np.float64)
    lo, hi = np.minimum(cx, cy), np.maximum(cx, cy)
    return (cxy - lo) / np.where(hi > 0, hi, 1.0)


def split_snippets(sources, per_class_train: int, per_class_test: int, size: int = SNIPPET, seed: int = 0):
    """Training snippets from the first half of each source, test snippets from the second."""
    rng = random.Random(f"ncd|{seed}")
    train, test = [], []
    for label, text in sources:
        data = text.encode("utf-8")
        half = len(data) // 2
        if half < size * 2:
            raise UsageError(f"class {label!r} is too short for {size}-byte snippets")
        for lo, hi, n, out in ((0, half, per_class_train, train), (half, len(data), per_class_test, test)):
            starts = sorted(rng.sample(range(lo, hi - size), n)) if hi - size - lo >= n else [lo] * n
            out.extend((label, data[s:s + size]) for s in starts)
    return train, test


def knn_credit(dist: np.ndarray, labels: list, truth, k: int, trials: int = 256, seed: int = 0) -> float:
    """Expected top-1 correctness of kNN under uniformly random tie-breaking."""
    dist = np.asarray(dist, dtype=np.float64)
    labels_arr = np.array(labels, dtype=object)
    if k == 1:
        nearest = np.flatnonzero(dist <= dist.min() + 1e-12)
        return float(np.mean([labels_arr[i] == truth for i in nearest]))
    rng = np.random.default_rng(seed)
    wins = 0.0
    for _ in range(trials):
        order = np.lexsort((rng.random(len(dist)), dist))  # distance first, random among equals
        votes: dict = {}
        for i in order[:k]:
            votes[labels_arr[i]] = votes.get(labels_arr[i], 0) + 1
        top = max(votes.values())
        best = [lab for lab, v in votes.items() if v == top]
        wins += (1.0 / len(best)) if truth in best else 0.0
    return wins / trials


def classify(queries: list[dict], self_lengths: dict, train, test, k: int) -> dict:
    """Top-1 accuracy over the test set from the cached job results."""
    labels = [lab for lab, _ in train]
    credits = [knn_credit(distances(q, self_lengths), labels, truth, k, seed=i)
               for i, (q, (truth, _)) in enumerate(zip(queries, test))]
    return {"k": k, "n": len(test), "accuracy": float(np.mean(credits)),
            "chance": 1.0 / len(set(labels))}
