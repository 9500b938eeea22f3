"""In-file adaptive token model mixed into the LM's distribution (the Nacrith idea).

An LM with a 512-token window forgets what the file said 2 KB ago; an n-gram table
over the tokens already coded remembers names, phrases and repeats. Per step of the
lockstep loop every stream asks the table for the tokens that followed its last
``o`` tokens (longest order first) and the coder codes under

    p(x) = (1 - lam) * p_lm(x) + lam * q(x),   q(x) = count(x) / total

The counts are integers, shared by all streams (a stream's step-t token joins the
table after step t, on both sides). ``lam`` comes from a small table of learned
logits, one per (order, total-count bucket, one-candidate-or-not), updated by the
gradient of the code length after every token. All floats are float64 Python/numpy
arithmetic on identical inputs in encoder and decoder, so they agree bit for bit.

Measured on alice29 (32 segments, teacher-forced SmolLM2 log-probs, benchmarks in
docs/lm.md): LM alone 1.1515 bits/byte; mixed, tables shared by all streams, orders
4..1, lr 0.2: 1.1306 (-1.8 %); orders 6..2, lr 0.05: -0.95 %; one table per segment:
+0.1 % (a 1.3k-token segment has too little history) -- hence shared tables.
"""

from __future__ import annotations

import math

import numpy as np

ORDERS = (4, 3, 2, 1)  # longest first; the first order whose context was seen predicts
LEARNING_RATE = 0.2
INITIAL_LOGIT = -2.0
MAX_CANDIDATES = 64  # a context's most recent distinct followers kept (bounded state)


def _bucket(order_index: int, total: int, distinct: int) -> int:
    tb = min(total, 255).bit_length()  # 1..8
    return (order_index * 9 + tb) * 2 + (distinct == 1)


class TokenMixer:
    """Shared n-gram counts over coded tokens plus learned mixing weights (see module doc)."""

    def __init__(self, orders=ORDERS, lr: float = LEARNING_RATE):
        self.orders = tuple(orders)
        self.lr = float(lr)
        self.tables: dict = {}  # (order, context tuple) -> {token: count}
        self.logits = [INITIAL_LOGIT] * (len(self.orders) * 9 * 2)

    def predict(self, history, t: int):
        """For one stream whose tokens before step ``t`` are ``history[:t]``:
        (tokens, q, lam, bucket) or None when no context was seen."""
        for oi, o in enumerate(self.orders):
            if t < o:
                continue
            table = self.tables.get((o, tuple(history[t - o: t])))
            if table:
                toks = np.fromiter(table.keys(), dtype=np.int64, count=len(table))
                counts = np.fromiter(table.values(), dtype=np.float64, count=len(table))
                total = float(counts.sum())
                b = _bucket(oi, int(total), len(table))
                lam = 1.0 / (1.0 + math.exp(-self.logits[b]))
                return toks, counts / total, lam, b
        return None

    def learn(self, prediction, x: int, p_lm_x: float) -> None:
        """Gradient step on -log2 p(x) for the bucket that predicted."""
        toks, q, lam, b = prediction
        hit = np.flatnonzero(toks == x)
        qx = float(q[hit[0]]) if hit.size else 0.0
        mixed = (1.0 - lam) * p_lm_x + lam * qx
        if mixed <= 0.0:
            return
        grad = (qx - p_lm_x) / mixed * lam * (1.0 - lam)  # d log p / d logit
        self.logits[b] = min(8.0, max(-8.0, self.logits[b] + self.lr * grad))

    def add(self, history, t: int) -> None:
        """Count token ``history[t]`` after each of its contexts."""
        x = int(history[t])
        for o in self.orders:
            if t < o:
                continue
            key = (o, tuple(history[t - o: t]))
            table = self.tables.get(key)
            if table is None:
                self.tables[key] = {x: 1}
            else:
                n = table.pop(x, 0) + 1  # re-insert: dict order = recency
                table[x] = n
                if len(table) > MAX_CANDIDATES:
                    del table[next(iter(table))]
