"""Codec models as compressors: the codec's lengths mixed with a small adaptive model.

A codec model's own distribution, ``2^-8 len(C(ctx + b))``, is what the paper defines
and what :meth:`CompressorModel.next_byte_probs` keeps returning. As a *code* it is
poor: byte-granular lengths make it confidently wrong (bz2 spends 20+ bits on the true
byte, gzip ~5.5 bits/byte on English) and 256 compressions per byte are slow. The
compressor side (``codec-mix-v2``; v1 files, which lack the recorded code length, still
decode) therefore codes under

    q(b)  proportional to  p_k(b)^a * 2^(-8 beta min(L(b), 2))

where ``p_k`` is an adaptive order-k model (Witten-Bell blending of orders 0..k),
``L(b) = len(C(ctx + b)) - min`` the codec's extra bytes, and ``a``, ``beta`` are
learned online by gradient steps on the log loss: a per-file calibrated temperature
for the codec, learned identically by encoder and decoder (nothing to store). Only the
``topk`` bytes ``p_k`` ranks highest are compressed; every other byte shares the length
of one representative (the smallest such byte value), so a byte costs ``topk + 1``
compressions instead of 256. The codec sees the last ``window`` bytes. The byte coder
then floors q (bounded cost per symbol, see :mod:`compgen.coding.byte_coder`), and the
container stores the file when coding would not win.
Measured on Canterbury text (benchmarks/codec_compress.py, docs/core.md).
"""

from __future__ import annotations

import math

import numpy as np

from ..coding.byte_coder import (CODEC_NAME, CODEC_NAME_V1, RefusedError, cost_limit, cost_record, decode_bytes,
                                 encode_bytes, floored, recorded_bits)

DEFAULT_ORDER = 3
DEFAULT_WINDOW = 4096
LEARNING_RATE = 0.01
LENGTH_CLIP = 2.0  # codec bytes beyond +2 carry no further evidence (bz2 swings by 20+)
MAX_CONTEXTS = 1 << 16  # order-k tables restart beyond this (memory stays < 40 MB)
_LN2x8 = 8.0 * math.log(2.0)
_SINGLE = [bytes([b]) for b in range(256)]


class OrderK:
    """Adaptive order-0..k byte model, Witten-Bell blended; deterministic, bounded memory."""

    def __init__(self, order: int):
        self.order = int(order)
        self._reset()

    def _reset(self) -> None:
        self.tables: list[dict[bytes, list]] = [{} for _ in range(self.order + 1)]
        self.size = 0

    def probs(self, hist: bytearray) -> np.ndarray:
        p = np.full(256, 1.0 / 256)
        n_hist = len(hist)
        for o in range(self.order + 1):
            if o > n_hist:
                break
            entry = self.tables[o].get(bytes(hist[n_hist - o:]) if o else b"")
            if entry is None:
                break
            counts, total, distinct = entry
            p = (counts + distinct * p) / (total + distinct)
        return p

    def update(self, hist: bytearray, byte: int) -> None:
        if self.size >= MAX_CONTEXTS:
            self._reset()
        n_hist = len(hist)
        for o in range(self.order + 1):
            if o > n_hist:
                break
            key = bytes(hist[n_hist - o:]) if o else b""
            entry = self.tables[o].get(key)
            if entry is None:
                entry = [np.zeros(256, dtype=np.float64), 0, 0]
                self.tables[o][key] = entry
                self.size += 1
            counts = entry[0]
            if counts[byte] == 0:
                entry[2] += 1
            counts[byte] += 1
            entry[1] += 1
            if entry[1] >= 1 << 16:  # halve, as PPM does, so old statistics fade
                np.floor_divide(counts + 1, 2, out=counts)
                entry[1] = int(counts.sum())
                entry[2] = int(np.count_nonzero(counts))


class CodecMix:
    """One file's predictor: call :meth:`probs` with the history, then :meth:`observe` the byte."""

    def __init__(self, model, topk: int, order: int, window: int):
        self.model = model
        self.topk = int(topk)
        self.window = max(0, min(int(window), int(model.window)))
        self.orderk = OrderK(order)
        self.a, self.beta = 1.0, 0.1
        self._hist: bytearray | None = None
        self._state = None

    def lengths(self, ctx: bytes, p: np.ndarray) -> np.ndarray:
        """Codec extra bytes per candidate: topk by p compressed, the rest share one length."""
        ranked = np.argsort(-p, kind="stable")
        top = ranked[: self.topk]
        rest = ranked[self.topk:]
        cand = [int(b) for b in top]
        if len(rest):
            cand.append(int(rest.min()))
        sizes = np.asarray(self.model.joint_sizes([_SINGLE[b] for b in cand], ctx), dtype=np.float64)
        lengths = np.empty(256, dtype=np.float64)
        if len(rest):
            lengths[rest] = sizes[-1]
        lengths[top] = sizes[: len(top)]
        lengths -= lengths.min()
        return np.minimum(lengths, LENGTH_CLIP)

    def probs(self, hist: bytearray) -> np.ndarray:
        p = self.orderk.probs(hist)
        ctx = bytes(hist[-self.window:]) if self.window else b""
        lp = np.log(p)
        el = self.lengths(ctx, p) * _LN2x8
        z = self.a * lp - self.beta * el
        z -= z.max()
        q = np.exp(z)
        q /= q.sum()
        self._hist, self._state = hist, (q, lp, el)
        return floored(q)

    def observe(self, byte: int) -> None:
        q, lp, el = self._state
        # gradient of -ln q[byte] with respect to a and beta
        grad_a = float(q @ lp) - lp[byte]
        grad_beta = el[byte] - float(q @ el)
        self.a -= LEARNING_RATE * grad_a
        self.beta = max(0.0, self.beta - LEARNING_RATE * grad_beta)
        self.orderk.update(self._hist, byte)


class CodecMixCoder:
    """Payload coder of every :class:`CompressorModel` (settings recorded in the header)."""

    name = CODEC_NAME

    def __init__(self, model):
        self.model = model

    def settings(self) -> dict:
        return {"coder": self.name, "topk": int(self.model.coder_topk), "order": DEFAULT_ORDER,
                "window": min(DEFAULT_WINDOW, int(self.model.window))}

    def _predictor(self, settings: dict) -> CodecMix:
        return CodecMix(self.model, settings["topk"], settings["order"], settings["window"])

    def encode(self, data: bytes, progress=None) -> tuple[bytes, dict, float]:
        settings = self.settings()
        mix = self._predictor(settings)
        payload, bits = encode_bytes(bytes(data), mix.probs, mix.observe, progress)
        return payload, {**settings, "gap": cost_record(bits, len(payload))}, bits

    def max_length(self, payload_len: int, settings: dict) -> int:
        from ..coding.byte_coder import MIN_BITS, max_symbols

        return max_symbols(payload_len, MIN_BITS, recorded_bits(settings, payload_len))

    def decode(self, payload: bytes, length: int, settings: dict, progress=None) -> bytes:
        if settings.get("coder") not in (self.name, CODEC_NAME_V1):
            raise RefusedError(f"file was written by coder {settings.get('coder')!r}, this model decodes {self.name!r}")
        if settings["window"] > self.model.window:
            raise RefusedError("corrupt compgen file (coder window larger than the model's)")
        mix = self._predictor(settings)
        return decode_bytes(payload, length, mix.probs, mix.observe, progress, record=recorded_bits(settings, len(payload)))


__all__ = ["CodecMix", "CodecMixCoder", "OrderK", "cost_limit"]
