"""Token-level range coding with an LM: many segments in lockstep, encoder == decoder.

The token stream is cut into ``streams`` equal segments that are coded side by side as
one batch (one incremental KV-cache step codes one token of every segment: 10x the
throughput of a single stream on CPU). A float computed by a full forward differs from
the same float computed incrementally, and batch composition and thread count change
floats too, so the encoder does not run a fast teacher-forced forward: it runs the
decoder's own loop (:func:`lockstep`) and merely picks the known token where the
decoder would decode one. Every setting that can change a float is recorded and
checked; a probe of the first logits and 16 CRC bits per segment catch any divergence left.

Each token is coded in two stages so that the coder's 24-bit probability floor is paid
on ~1k symbols instead of the whole vocabulary, and without sorting the vocabulary: first
the fixed block of ``BLOCK`` consecutive token ids it lies in, then its place in that
block. The ideal code length is unchanged (the two probabilities multiply to p(token)).
"""

from __future__ import annotations

import zlib
from typing import Callable

import numpy as np

from ..coding.range_coder import SymbolDecoder, SymbolEncoder
from ..errors import RefusedError
from .stepper import make_stepper

from .settings import NAME
BLOCK = 1024
LOGIT_FLOOR = -80.0  # nats below the best token: every token keeps a positive float32 share
MIN_SEGMENT = 256  # tokens; shorter segments cost more cold starts than they save in time


def plan_segments(n_tokens: int, streams: int) -> tuple[int, int]:
    """(streams, segment length): equal segments, the last one possibly shorter."""
    if n_tokens == 0:
        return 0, 0
    seg = max(-(-n_tokens // streams), min(n_tokens, MIN_SEGMENT))
    return -(-n_tokens // seg), seg


class Stages:
    """Deterministic two-stage split of one lockstep step's distributions (block, offset)."""

    def __init__(self, logits: np.ndarray, block: int = BLOCK):
        logits = np.asarray(logits, dtype=np.float32)
        rows, vocab = logits.shape
        self.vocab = vocab
        self.block = min(block, vocab)
        blocks = -(-vocab // self.block)
        x = np.zeros((rows, blocks * self.block), dtype=np.float32)
        x[:, :vocab] = logits
        x[:, :vocab] -= logits.max(axis=1, keepdims=True)
        np.maximum(x[:, :vocab], LOGIT_FLOOR, out=x[:, :vocab])
        e = np.exp(x, out=x)  # float32 exp (SIMD); sums in float64
        if blocks * self.block > vocab:
            e[:, vocab:] = 0.0  # ids past the vocabulary never occur
        self.e = e.reshape(rows, blocks, self.block)
        self.stage1 = self.e.sum(axis=2, dtype=np.float64) if blocks > 1 else None

    def stage2(self, rows: np.ndarray, blocks: np.ndarray) -> np.ndarray:
        return self.e[rows, blocks].astype(np.float64)

    def encode(self, enc: SymbolEncoder, rows: np.ndarray, symbols: np.ndarray) -> None:
        blk, off = np.divmod(symbols, self.block)
        if self.stage1 is not None:
            enc.encode_batch(blk, self.stage1[rows])
        enc.encode_batch(off, self.stage2(rows, blk))

    def decode(self, dec: SymbolDecoder, rows: np.ndarray) -> np.ndarray:
        if self.stage1 is not None:
            blk = np.asarray(dec.decode_batch(self.stage1[rows]), dtype=np.int64)
        else:
            blk = np.zeros(len(rows), dtype=np.int64)
        off = np.asarray(dec.decode_batch(self.stage2(rows, blk)), dtype=np.int64)
        return blk * self.block + off


def lockstep(model, lengths: np.ndarray, window: int, choose: Callable, on_probe: Callable | None = None) -> np.ndarray:
    """Run the incremental loop over ``len(lengths)`` streams; ``choose(t, stages, active)``
    returns the tokens of step t. Identical for encoder and decoder by construction."""
    streams, steps = len(lengths), int(lengths.max()) if len(lengths) else 0
    hist = np.zeros((streams, steps), dtype=np.int64)
    if streams == 0:
        return hist
    bos = model.codec.bos_id
    keep = max(1, window // 2 - 1)
    stepper = make_stepper(model, streams, min(window, steps + 1), min(model.position_limit(), steps + 1))
    model.set_threads()
    logits = stepper.prime(np.full((streams, 1), bos, dtype=np.int64))
    if on_probe is not None:
        on_probe(logits)
    for t in range(steps):
        active = lengths > t
        sym = choose(t, Stages(logits), active)
        hist[:, t] = sym
        if t == steps - 1:
            break
        if stepper.length >= stepper.horizon:  # out of positions: re-prime with the last `keep` tokens
            k = min(keep, t + 1)
            ids = np.concatenate([np.full((streams, 1), bos, dtype=np.int64), hist[:, t + 1 - k: t + 1]], axis=1)
            logits = stepper.prime(ids)
        else:
            logits = stepper.step(sym)
    return hist


def probe_crc(logits: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(logits[0], dtype=np.float32).tobytes())


def segment_checks(hist: np.ndarray, lengths: np.ndarray) -> str:
    """16 bits of CRC32 per segment as hex: names the diverged segment, costs 2 bytes each."""
    return "".join(f"{zlib.crc32(hist[i, : lengths[i]].astype('<i4').tobytes()) & 0xFFFF:04x}"
                   for i in range(len(lengths)))


class TokenRangeCoder:
    """Payload coder of :class:`~compgen.lm.model.LMModel` (see module doc)."""

    name = NAME

    def __init__(self, model):
        self.model = model

    def environment(self) -> dict:
        import torch

        try:
            cpu = torch.backends.cpu.get_cpu_capability()
        except Exception:  # pragma: no cover - very old torch
            cpu = "unknown"
        return {"threads": self.model.threads, "dtype": self.model.dtype, "torch": torch.__version__, "cpu": cpu}

    def encode(self, data: bytes, progress=None):
        m = self.model
        tokens = m.codec.encode(data)
        streams, seg = plan_segments(len(tokens), m.batch)
        lengths = np.array([min(seg, len(tokens) - i * seg) for i in range(streams)], dtype=np.int64)
        padded = np.zeros((streams, seg), dtype=np.int64)
        for i in range(streams):
            padded[i, : lengths[i]] = tokens[i * seg: i * seg + lengths[i]]
        enc = SymbolEncoder()
        probe = []

        def choose(t, st: Stages, active):
            sym = padded[:, t]
            rows = np.flatnonzero(active)
            st.encode(enc, rows, sym[rows])
            if progress:
                progress(m.codec.token_bytes(sym[rows]))
            return sym

        hist = lockstep(m, lengths, m.window, choose, lambda lg: probe.append(probe_crc(lg)))
        settings = {"coder": NAME, "codec": m.codec.kind, "tokens": int(len(tokens)), "streams": int(streams),
                    "segment": int(seg), "window": int(m.window), "block": BLOCK, **self.environment(),
                    "probe": probe[0] if probe else 0, "segment_check": segment_checks(hist, lengths)}
        return enc.finish(), settings, enc.ideal_bits

    def check_settings(self, s: dict) -> None:
        if s.get("coder") != NAME:
            raise RefusedError(f"file was written by coder {s.get('coder')!r}; this model decodes {NAME!r}")
        env = self.environment()
        if s.get("threads") != env["threads"]:
            raise RefusedError(f"file was compressed with {s.get('threads')} torch threads and this model runs "
                               f"{env['threads']}: the floats would differ; decode with -m '{self._spec(s)}'")
        for key, what in (("dtype", "dtype"), ("torch", "torch version"), ("cpu", "CPU capability")):
            if s.get(key) != env[key]:
                raise RefusedError(f"file was compressed with {what} {s.get(key)}, this is {env[key]}: "
                                   "the model's floats would differ, refusing to decode")
        if s.get("codec") != self.model.codec.kind or s.get("block") != BLOCK:
            raise RefusedError("file was written with a different token codec or coder layout")

    def _spec(self, s: dict) -> str:
        import re

        return re.sub(r":threads=\d+", f":threads={s.get('threads')}", self.model.spec)

    def decode(self, payload: bytes, length: int, settings: dict, progress=None) -> bytes:
        self.check_settings(settings)
        m = self.model
        try:
            n, streams, seg, window = (int(settings[k]) for k in ("tokens", "streams", "segment", "window"))
            checks = str(settings["segment_check"])
        except (KeyError, TypeError, ValueError):
            raise RefusedError("corrupt compgen file (bad LM coder settings)") from None
        lengths = np.array([min(seg, n - i * seg) for i in range(streams)], dtype=np.int64)
        if ((len(lengths) and lengths.min() <= 0) or lengths.sum() != n or len(checks) != 4 * streams
                or not 8 <= window <= m.position_limit()):
            raise RefusedError("corrupt compgen file (inconsistent segment plan)")
        dec = SymbolDecoder(payload)

        def check_probe(logits):
            if probe_crc(logits) != settings.get("probe"):
                raise RefusedError("this machine computes different probabilities than the compressing one "
                                   "(CPU or library differs); refusing to decode")

        def choose(t, st: Stages, active):
            rows = np.flatnonzero(active)
            sym = np.zeros(len(active), dtype=np.int64)
            sym[rows] = st.decode(dec, rows)
            if sym.max() >= st.vocab:  # only garbage decodes to a padding id
                raise RefusedError("corrupt compgen file (decoded a token outside the vocabulary)")
            if progress:
                progress(m.codec.token_bytes(sym[rows]))
            return sym

        hist = lockstep(m, lengths, window, choose, check_probe)
        got = segment_checks(hist, lengths)
        bad = [i for i in range(streams) if got[4 * i: 4 * i + 4] != checks[4 * i: 4 * i + 4]]
        if bad:
            raise RefusedError(f"decoded segments {bad[:5]} fail their checksums (the model's floats diverged "
                               "from the compressor's); nothing written")
        tokens = np.concatenate([hist[i, : lengths[i]] for i in range(streams)]) if streams else np.zeros(0, np.int64)
        return m.codec.decode(tokens)
