"""Compressor -> Model: p(b | ctx) proportional to 2^(-len_bits(C(ctx + b)) / T).

:class:`CompressorModel` holds everything the codecs share: the context window, the
temperature, the thread pool and the definition of the distribution. Each codec
adapter only says how to compress, and optionally how to score many continuations of
one context faster than compressing ``ctx + c`` from scratch for each.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np

from ..model import ALPHABET, Model, probs_from_bits

SINGLE_BYTES = [bytes([b]) for b in range(ALPHABET)]


def default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class CompressorModel(Model):
    """Base of all codec-backed models.

    Parameters
    ----------
    window:
        Only the last ``window`` bytes of a context are given to the codec
        (default: the codec's own window, :attr:`codec_window`).
    temperature:
        Divides the code lengths before normalisation.
    threads:
        Worker threads for scoring many candidates; codecs that release the GIL
        (zlib, zstd, lzma, bz2, brotli) run them in parallel.
    """

    #: spec name, e.g. "gzip"
    name = "compressor"
    #: the codec's own context window in bytes
    codec_window: int = 1 << 20
    #: True when the codec's compress call releases the GIL
    releases_gil = True
    #: one appended byte is below a codec's length granularity: sample scored spans
    sampling_mode = "span"
    #: as a compressor, bytes per position the codec scores (the rest share one length;
    #: see compgen.compressors.codec_coder); slow codecs use fewer
    coder_topk: int = 24

    def __init__(self, window: int | None = None, temperature: float = 1.0, threads: int | None = None):
        if window is not None and int(window) < 0:
            raise ValueError("window must be >= 0")
        if float(temperature) <= 0:
            raise ValueError("temperature must be > 0")
        self.window = int(window) if window is not None else self.codec_window
        self.temperature = float(temperature)
        self.threads = int(threads) if threads else default_threads()
        self._pool: ThreadPoolExecutor | None = None
        self._ctx_cache: tuple[bytes, int] | None = None

    # --------------------------------------------------------------- codec
    @abstractmethod
    def compress(self, data: bytes) -> bytes:
        """The codec's native output for ``data`` (what a CLI would write)."""

    @abstractmethod
    def decompress(self, blob: bytes) -> bytes:
        """Inverse of :meth:`compress`."""

    def compressed_size(self, data: bytes) -> int:
        """Bytes of the native output; codecs may count without building the output."""
        return len(self.compress(data))

    def compress_media(self, data: bytes, meta: dict | None = None) -> bytes:
        """Native output given what the bytes are (an image's shape, a sound's rate).

        Generic codecs ignore ``meta``; PNG and FLAC use it to code a picture as a picture.
        """
        return self.compress(data)

    def header_bytes(self, blob: bytes) -> int:
        """Bytes of ``blob`` that are per-file framing, not coded data (0: not separated).

        The paper counts a codec's header once across all chunks; benchmarks report
        both that figure and the full one.
        """
        return 0

    def codec_params(self) -> dict:
        """Codec settings that belong in the spec, e.g. ``{"level": 9}``."""
        return {}

    def library_version(self) -> str:
        return "stdlib"

    # -------------------------------------------------------------- identity
    @property
    def spec(self) -> str:
        params = dict(self.codec_params())
        if self.window != self.codec_window:
            params["window"] = self.window
        if self.temperature != 1.0:
            params["temperature"] = self.temperature
        return ":".join([self.name] + [f"{k}={v}" for k, v in params.items()])

    @property
    def stored_spec(self) -> str:
        """The spec without the settings left at their defaults (``ppmd`` for
        ``ppmd:order=6:mem=16777216:variant=H``), so a codec file's header stays small. A
        setting is dropped only if the shorter spec loads a model with the same
        fingerprint, which the decoder checks anyway."""
        cached = getattr(self, "_stored_spec", None)
        if cached is None:
            from ..registry import load

            parts, fp = self.spec.split(":"), self.fingerprint()
            for i in reversed(range(1, len(parts))):
                trial = parts[:i] + parts[i + 1:]
                try:
                    same = load(":".join(trial)).fingerprint() == fp
                except Exception:  # noqa: BLE001 -- a spec that does not load keeps the setting
                    same = False
                if same:
                    parts = trial
            cached = self._stored_spec = ":".join(parts)
        return cached

    def fingerprint_data(self) -> dict:
        return {
            "kind": "compressor",
            "codec": self.name,
            "class": type(self).__name__,
            "params": self.codec_params(),
            "window": self.window,
            "temperature": self.temperature,
            "library": self.library_version(),
        }

    @property
    def max_context(self) -> int:
        return self.window

    # ------------------------------------------------------------- helpers
    def clip_context(self, context: bytes) -> bytes:
        """The part of ``context`` the codec is allowed to see."""
        if self.window == 0:
            return b""
        return bytes(context[-self.window:])

    def _map(self, fn, items: Sequence):
        """Run ``fn`` over ``items``, on threads when the codec releases the GIL."""
        if self.threads <= 1 or not self.releases_gil or len(items) < 8:
            return [fn(x) for x in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix=f"compgen-{self.name}")
        n = self.threads
        chunks = [items[i::n] for i in range(n)]
        parts = list(self._pool.map(lambda chunk: [fn(x) for x in chunk], chunks))
        out = [None] * len(items)
        for i, part in enumerate(parts):
            out[i::n] = part
        return out

    def _context_size(self, ctx: bytes) -> int:
        cache = self._ctx_cache
        if cache is not None and cache[0] == ctx:
            return cache[1]
        size = self.compressed_size(ctx)
        self._ctx_cache = (ctx, size)
        return size

    # ------------------------------------------------------------- scoring
    def joint_sizes(self, candidates: Sequence[bytes], context: bytes) -> np.ndarray:
        """``len(C(ctx + c))`` in bytes for each candidate, ``ctx`` already clipped.

        Default: compress each concatenation. Codecs override with an exact faster
        route (zlib copies its compressor state after the context).
        """
        return np.array(self._map(lambda c: self.compressed_size(context + c), list(candidates)), dtype=np.int64)

    def naive_joint_sizes(self, candidates: Sequence[bytes], context: bytes) -> np.ndarray:
        """Reference route: recompress ``ctx + c`` from scratch, one at a time."""
        ctx = self.clip_context(context)
        return np.array([self.compressed_size(ctx + c) for c in candidates], dtype=np.int64)

    def code_lengths(self, candidates: Sequence[bytes], context: bytes = b"") -> np.ndarray:
        """Native conditional lengths ``8 * (len(C(ctx + c)) - len(C(ctx)))`` in bits."""
        ctx = self.clip_context(context)
        sizes = self.joint_sizes(list(candidates), ctx)
        return 8.0 * (sizes - self._context_size(ctx))

    def code_length(self, data: bytes, context: bytes = b"") -> float:
        return float(self.code_lengths([bytes(data)], context)[0])

    def next_byte_probs(self, context: bytes) -> np.ndarray:
        ctx = self.clip_context(context)
        sizes = self.joint_sizes(SINGLE_BYTES, ctx)
        return probs_from_bits(8.0 * sizes, self.temperature)

    def naive_next_byte_probs(self, context: bytes) -> np.ndarray:
        """The paper's definition computed literally: 256 full recompressions."""
        return probs_from_bits(8.0 * self.naive_joint_sizes(SINGLE_BYTES, context), self.temperature)

    def payload_coder(self):
        """Codec models compress through the codec-mix coder, not their raw distribution."""
        from .codec_coder import CodecMixCoder

        return CodecMixCoder(self)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_pool"] = None
        state["_ctx_cache"] = None
        return state
