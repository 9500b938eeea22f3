"""Probe 1: the in-context compression curve (Delétang et al. 2024, section 3.5).

A data stream is cut into chunks; within a chunk, each position bucket (bytes 0-63,
64-127, ...) is coded given only the bytes before it in the same chunk:
``code_length(bucket, context=chunk[:start])``. Averaged over chunks, bits/byte per
bucket shows how fast a model learns from the chunk itself: a falling curve is
in-context learning.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from ..errors import UsageError


@dataclass
class CurveChunk:
    """One chunk of the stream; ``run`` returns the bits of every bucket."""

    chunk: bytes
    bucket: int
    offset: int = 0
    kind: str = field(default="curve", init=False)

    def key(self) -> str:
        h = hashlib.sha256(self.chunk)
        h.update(json.dumps({"bucket": self.bucket, "kind": self.kind}).encode())
        return h.hexdigest()[:24]

    def run(self, model) -> dict:
        fast = getattr(model, "position_bits", None)
        if callable(fast):  # optional: per-byte bits of a whole chunk in one pass (LMs)
            per_byte = np.asarray(fast(self.chunk), dtype=np.float64)
            bits = [float(per_byte[i:i + self.bucket].sum()) for i in range(0, len(self.chunk), self.bucket)]
        else:
            bits = [float(model.code_length(self.chunk[i:i + self.bucket], self.chunk[:i]))
                    for i in range(0, len(self.chunk), self.bucket)]
        return {"bits": bits}


def make_chunks(data: bytes, chunk: int, bucket: int, max_chunks: int) -> list[CurveChunk]:
    """Up to ``max_chunks`` non-overlapping chunks spread evenly over ``data``."""
    if chunk <= 0 or bucket <= 0:
        raise UsageError("--chunk and --bucket must be positive")
    if chunk % bucket:
        raise UsageError("--chunk must be a multiple of --bucket")
    n = len(data) // chunk
    if n == 0:
        raise UsageError(f"data has {len(data)} bytes, fewer than one chunk of {chunk}")
    picks = np.unique(np.linspace(0, n - 1, num=min(n, max_chunks)).round().astype(int))
    return [CurveChunk(data[i * chunk:(i + 1) * chunk], bucket, offset=int(i * chunk)) for i in picks]


def summarise(model_spec: str, chunks: list[CurveChunk], results: dict) -> dict:
    """Mean bits/byte per bucket (with the standard error over chunks)."""
    rows = np.array([results[(model_spec, c.key())]["bits"] for c in chunks], dtype=np.float64)
    bucket = chunks[0].bucket
    bpb = rows / bucket
    n = len(chunks)
    return {
        "model": model_spec,
        "bucket": bucket,
        "positions": [i * bucket for i in range(rows.shape[1])],
        "bits_per_byte": bpb.mean(axis=0).tolist(),
        "stderr": (bpb.std(axis=0, ddof=1) / np.sqrt(n)).tolist() if n > 1 else [0.0] * rows.shape[1],
        "chunks": n,
        "overall_bits_per_byte": float(rows.sum() / (n * len(chunks[0].chunk))),
    }
