"""Token-level range coding with an LM: many segments in lockstep, encoder == decoder.

The input is cut into ``streams`` equal byte segments, each tokenised on its own and
coded side by side as one batch (one incremental KV-cache step codes one token of every
segment: ~10x the throughput of a single stream on CPU). A float computed by a full
forward differs from the same float computed incrementally, and batch composition and
thread count change floats too, so the encoder does not run a fast teacher-forced
forward: it runs the decoder's own loop (:func:`lockstep`) and merely picks the known
token where the decoder would decode one. Every setting that can change a float is
recorded and checked (threads explicitly; dtype, weights, library versions through the
model fingerprint; the CPU path as a digest), and a probe of the first logits catches
any divergence left before a byte is decoded; the container's CRC32 catches the rest.

Plan: inputs under ``SINGLE_STREAM_BELOW`` bytes are one stream (a cold start costs
~230 bits, 2 % of 12 KB); longer ones get one segment per ``SEGMENT_BYTES`` up to the
model's ``batch``. A decoder knows every segment's byte length from the plan and stops a
stream when its bytes are complete, so no per-segment lengths are stored.

Mixing (coder v3): an in-file token n-gram (:mod:`compgen.lm.token_mix`) adds its
prediction to the LM's distribution at every step, shared by all streams. The adaptive
head (:mod:`compgen.lm.adaptive_head`, a settings flag) first reweights the LM's
distribution by a learned per-token bias in log space (float64), and the n-gram mixes
with that.

Bounded expansion: a segment whose coded size would exceed 8 bits per byte is stored
raw (segments deflate cannot shrink are stored without asking the LM; a segment that
overspends its 8 bits/byte budget stops at once); the encoder then runs the loop again
over the remaining segments only, and the decoder, reading which segments are raw, runs
exactly that smaller loop.

Each token is coded in two stages so that the coder's 24-bit probability floor is paid
on ~1k symbols instead of the whole vocabulary, and without sorting the vocabulary: first
the fixed block of ``BLOCK`` consecutive token ids it lies in, then its place in that
block. The ideal code length is unchanged (the two probabilities multiply to p(token)).
"""

from __future__ import annotations

import zlib
from typing import Callable

import numpy as np

from ..coding.byte_coder import TAIL_BITS, cost_limit
from ..coding.range_coder import SymbolDecoder, SymbolEncoder
from ..errors import RefusedError
from .adaptive_head import LR_UNIT, AdaptiveHead
from .settings import NAME, OLD_NAMES, env_digest
from .stepper import make_stepper
from .token_mix import TokenMixer

BLOCK = 1024
LOGIT_FLOOR = -80.0  # nats below the best token: every token keeps a positive float32 share
SINGLE_STREAM_BELOW = 16 * 1024  # bytes
SEGMENT_BYTES = 4096  # one more stream per this many bytes, up to the model's batch
QUANT = 2.0 ** -24  # constriction's probability unit: every symbol of a coded distribution gets >= 1 of them


def min_token_bits(vocab: int, block: int = BLOCK) -> float:
    """Least bits any token can cost: each stage's distribution leaves >= 1 quantum to every
    other symbol, so its top is <= 1 - (n-1) 2^-24 (tiny, but a bound by construction)."""
    block = min(block, vocab)
    blocks = -(-vocab // block)
    bits = -np.log2(1.0 - (block - 1) * QUANT)
    return float(bits + (-np.log2(1.0 - (blocks - 1) * QUANT) if blocks > 1 else 0.0))


def max_tokens(words_len: int, vocab: int) -> int:
    """Most tokens a range-coded payload of ``words_len`` bytes can hold."""
    return int(cost_limit(words_len) / min_token_bits(vocab))


def max_token_bytes(codec) -> int:
    """Most bytes one token can stand for."""
    if codec.kind != "tokens":
        return 1
    lens = getattr(codec, "_lens", None)
    return max(1, int(np.max(lens))) if lens is not None and len(lens) else 1 << 10


def plan_segments(n_bytes: int, batch: int, segment: int = 0) -> tuple[int, int]:
    """(streams, segment bytes): equal byte segments, the last one possibly shorter.

    ``segment`` > 0 asks for segments of that many bytes (all coded in one lockstep batch)."""
    if n_bytes == 0:
        return 0, 0
    if segment:
        streams = -(-n_bytes // int(segment))
    else:
        streams = 1 if n_bytes < SINGLE_STREAM_BELOW else max(1, min(int(batch), n_bytes // SEGMENT_BYTES))
    seg = -(-n_bytes // streams)
    return -(-n_bytes // seg), seg


def segment_sizes(n_bytes: int, streams: int, seg: int) -> np.ndarray:
    return np.array([min(seg, n_bytes - i * seg) for i in range(streams)], dtype=np.int64)


class ByteCounter:
    """Bytes decoded per stream from its tokens, exactly (an escape's digits yield one byte)."""

    def __init__(self, codec, streams: int):
        self.lens = np.asarray(getattr(codec, "_lens", None) if codec.kind == "tokens" else
                               np.r_[np.ones(256, np.int64), np.zeros(max(0, codec.vocab_size - 256), np.int64)])
        self.esc = getattr(codec, "esc_id", None)
        self.n_digits = int(getattr(codec, "n_digits", 1))
        self.bytes = np.zeros(streams, dtype=np.int64)
        self.pending = np.zeros(streams, dtype=np.int64)  # escape digits still to come

    def add(self, rows: np.ndarray, tokens: np.ndarray) -> None:
        pend = self.pending[rows]
        in_escape = pend > 0
        gain = np.where(in_escape, (pend == 1).astype(np.int64), self.lens[tokens])
        self.bytes[rows] += gain
        pend = np.where(in_escape, pend - 1, 0)
        if self.esc is not None:
            pend = np.where(~in_escape & (tokens == self.esc), self.n_digits, pend)
        self.pending[rows] = pend

    def done(self, sizes: np.ndarray) -> np.ndarray:
        return (self.bytes >= sizes) & (self.pending == 0)


class Stages:
    """Deterministic two-stage split of one lockstep step's distributions (block, offset),
    with the in-file model's prediction mixed in where it has one."""

    def __init__(self, logits: np.ndarray, block: int = BLOCK, local: np.ndarray | None = None,
                 head: AdaptiveHead | None = None):
        """``local[stream]`` is the row of ``logits`` holding that stream (None: row == stream),
        so a batch from which finished streams have left is addressed by stream as before.
        ``head``: the adaptive head reweights the float32 exps in float64 (files with its flag)."""
        logits = np.asarray(logits, dtype=np.float32)
        self.local = local
        rows, vocab = logits.shape
        self.vocab = vocab
        self.block = min(block, vocab)
        self.blocks = -(-vocab // self.block)
        x = np.zeros((rows, self.blocks * self.block), dtype=np.float32)
        x[:, :vocab] = logits
        x[:, :vocab] -= logits.max(axis=1, keepdims=True)
        np.maximum(x[:, :vocab], LOGIT_FLOOR, out=x[:, :vocab])
        self.flat = np.exp(x, out=x)  # float32 exp (SIMD); sums in float64
        if self.blocks * self.block > vocab:
            self.flat[:, vocab:] = 0.0  # ids past the vocabulary never occur
        if head is not None:
            self.flat = head.weigh(self.flat)  # float64 from here on
        self.mix: dict = {}  # stream -> (prediction, the LM's own values at its tokens, Z)
        self.stage1 = None

    def _rows(self, rows):
        return rows if self.local is None else self.local[rows]

    def add_predictions(self, rows, predictions) -> None:
        """Mix each row's (tokens, q, lam, bucket) prediction in: e += lam/(1-lam) * Z * q."""
        for r, lr, pred in zip(rows, self._rows(np.asarray(rows)), predictions):
            if pred is None:
                continue
            toks, q, lam, _ = pred
            z = float(self.flat[lr].sum(dtype=np.float64))
            own = self.flat[lr, toks].copy()
            self.flat[lr, toks] = own + (lam / (1.0 - lam) * z * q).astype(self.flat.dtype)
            self.mix[r] = (pred, own, z)

    def lm_prob(self, r: int, x: int) -> float:
        """The LM's own probability of token x in row r (before mixing)."""
        pred, own, z = self.mix[r]
        hit = np.flatnonzero(pred[0] == x)
        return float(own[hit[0]] if hit.size else self.flat[self._rows(r), x]) / z

    def _finish(self) -> None:
        if self.stage1 is None:
            self.e = self.flat.reshape(len(self.flat), self.blocks, self.block)
            self.stage1 = self.e.sum(axis=2, dtype=np.float64) if self.blocks > 1 else False

    def stage2(self, rows: np.ndarray, blocks: np.ndarray) -> np.ndarray:
        return self.e[self._rows(rows), blocks].astype(np.float64)

    def encode(self, enc: SymbolEncoder, rows: np.ndarray, symbols: np.ndarray) -> np.ndarray:
        """Code symbols of rows; returns each one's ideal bits."""
        self._finish()
        blk, off = np.divmod(symbols, self.block)
        s2 = self.stage2(rows, blk)
        bits = np.log2(s2.sum(axis=1)) - np.log2(s2[np.arange(len(rows)), off])
        if self.stage1 is not False:
            s1 = self.stage1[self._rows(rows)]
            enc.encode_batch(blk, s1)
            bits += np.log2(s1.sum(axis=1)) - np.log2(s1[np.arange(len(rows)), blk])
        enc.encode_batch(off, s2)
        return bits

    def cost_bound(self, rows: np.ndarray, symbols: np.ndarray) -> float:
        """A lower bound on the bits the range coder spent on these symbols: each stage's
        float probability plus one quantum (the coder's rounding can raise it no further)."""
        blk, off = np.divmod(symbols, self.block)
        s2 = self.stage2(rows, blk)
        idx = np.arange(len(rows))
        p = np.minimum(1.0, s2[idx, off] / s2.sum(axis=1) + QUANT)
        if self.stage1 is not False:
            s1 = self.stage1[self._rows(rows)]
            p = p * np.minimum(1.0, s1[idx, blk] / s1.sum(axis=1) + QUANT)
        return float(-np.log2(p).sum())

    def decode(self, dec: SymbolDecoder, rows: np.ndarray) -> np.ndarray:
        self._finish()
        if self.stage1 is not False:
            blk = np.asarray(dec.decode_batch(self.stage1[self._rows(rows)]), dtype=np.int64)
        else:
            blk = np.zeros(len(rows), dtype=np.int64)
        off = np.asarray(dec.decode_batch(self.stage2(rows, blk)), dtype=np.int64)
        return blk * self.block + off


def lockstep(model, streams: int, window: int, horizon: int, choose: Callable, mixing: bool,
             on_probe: Callable | None = None, bf16: bool = False, compact: bool = False,
             head: int = 0, ring: bool = False) -> list[list[int]]:
    """Run the incremental loop over ``streams`` streams until ``choose`` reports every one done.

    ``choose(t, stages, rows)`` returns the tokens of the active ``rows`` at step t and the
    mask of streams still active afterwards. Identical for encoder and decoder by construction.
    ``compact``: a finished stream leaves the stepper's batch (both sides know when), so the
    steps after it cost less; without it every stream is stepped to the end (files before
    the flag existed).
    ``head``: the adaptive head's learning rate in units of 2^-16 (0: no head, files before it).
    ``ring``: while the ring cache fills, attend over the whole ring with the empty slots
    masked (a contiguous product); without it over the filled slots only (files before it).
    """
    tokens: list[list[int]] = [[] for _ in range(streams)]
    if streams == 0:
        return tokens
    bos = model.codec.bos_id
    keep = max(1, window // 2 - 1)
    stepper = make_stepper(model, streams, min(window, horizon), horizon, bf16=bf16, full_ring=ring)
    if compact and not hasattr(stepper, "keep"):
        raise ValueError("this stepper cannot drop finished streams")
    mixer = TokenMixer() if mixing else None
    model.set_threads()
    logits = stepper.prime(np.full((streams, 1), bos, dtype=np.int64))
    if on_probe is not None:
        on_probe(logits)
    vocab = logits.shape[1]
    adapt = AdaptiveHead(vocab, head, -(-vocab // min(BLOCK, vocab)) * min(BLOCK, vocab)) if head else None
    fed = np.zeros((streams, 0), dtype=np.int64)  # what the stepper saw since its last prime
    active = np.ones(streams, dtype=bool)
    live = np.arange(streams)  # the streams in the stepper's batch, in its row order
    local = None  # stream -> row of the stepper's logits (None while every stream is in it)
    t = 0
    while True:
        rows = np.flatnonzero(active)
        st = Stages(logits, local=local, head=adapt)
        grad = adapt.gradient(st.flat, st._rows(rows).tolist()) if adapt is not None else None
        preds = None
        if mixer is not None:
            preds = [mixer.predict(tokens[r], t) for r in rows]
            st.add_predictions(rows, preds)
        sym_rows, active = choose(t, st, rows)
        sym = np.zeros(streams, dtype=np.int64)
        sym[rows] = sym_rows
        for r, x in zip(rows.tolist(), sym_rows.tolist()):
            tokens[r].append(x)
        if adapt is not None:
            adapt.learn(grad, sym_rows.tolist())
        if mixer is not None:
            for r, x, pred in zip(rows.tolist(), sym_rows.tolist(), preds):
                if pred is not None:
                    mixer.learn(pred, x, st.lm_prob(r, x))
            for r in rows.tolist():
                mixer.add(tokens[r], t)
        if not active.any():
            return tokens
        t += 1
        fed = np.concatenate([fed[:, -(keep - 1):] if keep > 1 else fed[:, :0], sym[:, None]], axis=1)
        if compact and not active[live].all():
            stay = active[live]
            stepper.keep(np.flatnonzero(stay))
            live = live[stay]
            local = np.full(streams, -1, dtype=np.int64)
            local[live] = np.arange(len(live))
        if stepper.length >= stepper.horizon:  # out of positions: re-prime with the last `keep` tokens
            ids = np.concatenate([np.full((len(live), 1), bos, dtype=np.int64), fed[live, -keep:]], axis=1)
            logits = stepper.prime(ids)
        else:
            logits = stepper.step(sym[live])


def probe_crc(logits: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(logits[0], dtype=np.float32).tobytes())


class TokenRangeCoder:
    """Payload coder of :class:`~compgen.lm.model.LMModel` (see module doc)."""

    name = NAME

    def __init__(self, model):
        self.model = model

    # ---------------------------------------------------------------- environment
    def cpu_path(self) -> str:
        import torch

        try:
            return str(torch.backends.cpu.get_cpu_capability())
        except Exception:  # pragma: no cover - very old torch
            return "unknown"

    def can_compact(self) -> bool:
        """New files drop finished streams from the batch where the stepper can (Llama, Gemma 3)."""
        from .stepper import has_own_stepper

        return has_own_stepper(self.model.net)

    def can_full_ring(self) -> bool:
        """New files attend over the whole ring while it fills where the stepper can (settings bit 5)."""
        return self.can_compact()

    def horizon(self, tokens: int) -> int:
        return min(self.model.position_limit(), tokens + 1)

    # ---------------------------------------------------------------- encode
    def _run_encoder(self, seg_tokens: list[np.ndarray], budgets: np.ndarray | None, progress):
        """Code the segments in lockstep; with ``budgets`` (bits), a segment that overspends
        stops early (this pass is then thrown away: the caller codes the rest again)."""
        m = self.model
        enc = SymbolEncoder()
        probe: list[int] = []
        lengths = np.array([len(s) for s in seg_tokens], dtype=np.int64)
        bits = np.zeros(len(seg_tokens))
        padded = np.zeros((len(seg_tokens), int(lengths.max(initial=0)) + 1), dtype=np.int64)
        for i, s in enumerate(seg_tokens):
            padded[i, : len(s)] = s

        def choose(t, st: Stages, rows):
            sym = padded[rows, t]
            bits[rows] += st.encode(enc, rows, sym)
            if progress:
                progress(m.codec.token_bytes(sym))
            active = lengths > t + 1
            return sym, active if budgets is None else active & (bits <= budgets)

        total = int(lengths.sum())
        lockstep(m, len(seg_tokens), m.window, self.horizon(total), choose, bool(m.mix),
                 lambda lg: probe.append(probe_crc(lg)), bf16=m.coding_bf16(), compact=self.can_compact(),
                 head=m.head_units(), ring=self.can_full_ring())
        return enc, bits, (probe[0] if probe else 0)

    def encode(self, data: bytes, progress=None):
        m = self.model
        data = bytes(data)
        streams, seg = plan_segments(len(data), m.batch, getattr(m, "segment", 0))
        sizes = segment_sizes(len(data), streams, seg)
        parts = [data[i * seg: i * seg + int(sizes[i])] for i in range(streams)]
        # Bytes even deflate cannot shrink (random, already compressed) are stored without asking the LM.
        raw = [i for i in range(streams) if len(zlib.compress(parts[i], 1)) >= len(parts[i])]
        coded = [i for i in range(streams) if i not in raw]
        seg_tokens = {i: m.codec.encode(parts[i]) for i in coded}
        budgets = 8.0 * sizes[coded]
        enc, bits_c, probe = self._run_encoder([seg_tokens[i] for i in coded], budgets, progress)
        losers = [i for i, b, limit in zip(coded, bits_c, budgets) if b > limit]
        if losers:  # those segments lose to 8 bits/byte: store them, code the rest again without them
            raw = sorted(raw + losers)
            coded = [i for i in coded if i not in losers]
            enc, bits_c, probe = self._run_encoder([seg_tokens[i] for i in coded], None, None)
        payload = enc.finish() + b"".join(parts[i] for i in raw)
        settings = {"coder": NAME, "codec": m.codec.kind, "mix": bool(m.mix), "streams": int(streams),
                    "window": int(m.window), "threads": int(m.threads), "env": env_digest(self.cpu_path()),
                    "probe": int(probe), "tokens": int(sum(len(seg_tokens[i]) for i in coded)), "raw": raw,
                    "bf16": m.coding_bf16(), "compact": self.can_compact(), "head": m.head_units(),
                    "ring": self.can_full_ring()}
        ideal = float(np.sum(bits_c)) + 8.0 * sum(int(sizes[i]) for i in raw)
        return payload, settings, ideal

    # ---------------------------------------------------------------- decode
    def check_settings(self, s: dict) -> None:
        if s.get("coder") in OLD_NAMES:
            raise RefusedError(f"file was written by coder {s.get('coder')} (an older compgen); this build decodes "
                               f"{NAME} only: decompress it with the compgen that wrote it")
        if s.get("coder") != NAME:
            raise RefusedError(f"file was written by coder {s.get('coder')!r}; this model decodes {NAME!r}")
        if s.get("threads") != self.model.threads:
            raise RefusedError(f"file was compressed with {s.get('threads')} torch threads and this model runs "
                               f"{self.model.threads}: the floats would differ; decode with -m '{self._spec(s)}'")
        if s.get("env") != env_digest(self.cpu_path()):
            raise RefusedError(f"file was compressed on another CPU path (this is {self.cpu_path()}): "
                               "the model's floats would differ, refusing to decode")
        if s.get("codec") != self.model.codec.kind:
            raise RefusedError("file was written with a different token codec")
        head = s.get("head", 0)
        if not isinstance(head, int) or not 0 <= head < LR_UNIT:
            raise RefusedError("corrupt compgen file (bad adaptive-head setting)")
        if (s.get("compact") or s.get("ring")) and not self.can_compact():
            raise RefusedError("file was compressed with a stepper this model cannot run (it needs the Llama "
                               "or Gemma 3 net the file names)")
        if s.get("bf16"):
            from .stepper import supports_bf16

            if not supports_bf16(self.model.net):
                raise RefusedError("file was compressed with bf16 stepping, which this model cannot run "
                                   "(it needs the float32 Llama or Gemma 3 net the file names)")

    def _spec(self, s: dict) -> str:
        import re

        return re.sub(r":threads=\d+", f":threads={s.get('threads')}", self.model.spec)

    def max_length(self, payload_len: int, settings: dict) -> int | None:
        """Most original bytes a file can state: every segment raw, or the recorded token
        count times the longest token (the token count itself is bounded by the payload).
        The settings' own refusals (old coder, threads, CPU path) come first: they name the fix."""
        self.check_settings(settings)
        try:
            n_tokens = int(settings["tokens"])
        except (KeyError, TypeError, ValueError):
            return None  # decode refuses the settings with its own message
        return payload_len + n_tokens * max_token_bytes(self.model.codec)

    def check_plan(self, payload: bytes, length: int, settings: dict):
        """Every pre-decode check of the header against the payload; returns the plan.

        Bounds the decoder's work before the model runs: the token count must fit the
        payload (>= min_token_bits each), the coded bytes must fit the token count (<= the
        longest token each), every coded segment needs a token, and the decoder then stops
        at that count (see decode)."""
        m = self.model
        try:
            streams, window, n_tokens = (int(settings[k]) for k in ("streams", "window", "tokens"))
            raw = [int(i) for i in settings["raw"]]
        except (KeyError, TypeError, ValueError):
            raise RefusedError("corrupt compgen file (bad LM coder settings)") from None
        # The plan follows from the length and the stream count alone (not this model's batch).
        seg = -(-length // streams) if streams else 0
        plan_ok = (streams > 0 and seg > 0 and -(-length // seg) == streams) or length == streams == 0
        sizes = segment_sizes(length, streams, seg) if plan_ok else None
        if (sizes is None or window != m.window or sorted(set(raw)) != raw or any(not 0 <= i < streams for i in raw)
                or n_tokens > (1 + getattr(m.codec, "n_digits", 0)) * length + streams):  # escapes: ESC + digits
            raise RefusedError("corrupt compgen file (inconsistent segment plan)")
        raw_bytes = sum(int(sizes[i]) for i in raw)
        if raw_bytes > len(payload):
            raise RefusedError("corrupt compgen file (payload shorter than its raw segments)")
        coded = [i for i in range(streams) if i not in raw]
        words_len = len(payload) - raw_bytes
        coded_bytes = length - raw_bytes
        if (n_tokens < len(coded) or n_tokens > max_tokens(words_len, m.codec.vocab_size)
                or coded_bytes > n_tokens * max_token_bytes(m.codec)):
            raise RefusedError(f"corrupt compgen file (a {words_len}-byte LM payload cannot hold {n_tokens} tokens "
                               f"for {coded_bytes} bytes)")
        return sizes, raw, coded, n_tokens, window, words_len

    def decode(self, payload: bytes, length: int, settings: dict, progress=None) -> bytes:
        self.check_settings(settings)
        m = self.model
        sizes, raw, coded, n_tokens, window, words_len = self.check_plan(payload, length, settings)
        streams = len(sizes)
        words = payload[:words_len]
        dec = SymbolDecoder(words)
        csizes = sizes[coded]
        counter = ByteCounter(m.codec, len(coded))
        budget = [n_tokens]
        limit = cost_limit(len(words))
        spent = [0.0, -1.0]  # bits decoded so far; bits since every word was read (-1: not yet)

        def check_probe(logits):
            if probe_crc(logits) != settings.get("probe"):
                raise RefusedError("this machine computes different probabilities than the compressing one "
                                   "(CPU or library differs); refusing to decode")

        def choose(t, st: Stages, rows):
            sym = st.decode(dec, rows)
            if sym.max(initial=0) >= st.vocab:  # only garbage decodes to a padding id
                raise RefusedError("corrupt compgen file (decoded a token outside the vocabulary)")
            budget[0] -= len(rows)
            counter.add(rows, sym)
            if budget[0] < 0 or (counter.bytes > csizes).any():
                raise RefusedError("corrupt compgen file (decoded past the stated length)")
            # Running cost: what is decoded cannot cost more than the payload's bits, nor (once
            # every word is read) more than the coder's state still holds.
            bits = st.cost_bound(rows, sym)
            spent[0] += bits
            if spent[1] >= 0:
                spent[1] += bits
            elif dec.maybe_exhausted():
                spent[1] = 0.0
            if spent[0] > limit or spent[1] > TAIL_BITS:
                raise RefusedError("corrupt compgen file (LM payload decodes past its size); nothing written")
            if progress:
                progress(m.codec.token_bytes(sym))
            return sym, ~counter.done(csizes)

        toks = lockstep(m, len(coded), window, self.horizon(n_tokens), choose, bool(settings.get("mix")), check_probe,
                        bf16=bool(settings.get("bf16")), compact=bool(settings.get("compact")),
                        head=int(settings.get("head", 0)), ring=bool(settings.get("ring")))
        if budget[0] != 0:
            raise RefusedError("corrupt compgen file (token count differs from the header's)")
        if len(coded) and not dec.maybe_exhausted():
            raise RefusedError("corrupt compgen file (LM payload continues past the stated length); nothing written")
        out = []
        decoded = {i: m.codec.decode(np.asarray(tk, dtype=np.int64)) for i, tk in zip(coded, toks)}
        pos = len(words)
        for i in range(streams):
            if i in decoded:
                out.append(decoded[i])
            else:
                out.append(payload[pos: pos + int(sizes[i])])
                pos += int(sizes[i])
        return b"".join(out)
