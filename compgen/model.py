"""The one abstraction: a conditional distribution over the next byte.

A :class:`Model` predicts ``p(next byte | context)``. Everything else in compgen is a
conversion to or from it: compressors become Models (``compgen.compressors.as_model``),
and any Model becomes a lossless compressor by range coding (:func:`as_compressor`).
This module is the bottom layer: it imports no codec and no model family.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np

ALPHABET = 256


class Model(ABC):
    """Protocol every predictor implements.

    Subclasses must provide :meth:`next_byte_probs`, :attr:`spec` and
    :meth:`fingerprint_data`. The multi-byte scoring methods have generic definitions
    here and fast exact overrides where a model allows them.
    """

    #: short family name, e.g. "gzip" or "smollm2"
    name: str = "model"
    #: how ``compgen.sample`` is best driven for this model (a key of
    #: ``compgen.sampling.MODES``): "byte" draws from :meth:`next_byte_probs`;
    #: compressors say "span" (their lengths carry signal only over several bytes)
    sampling_mode: str = "byte"

    # ----------------------------------------------------------------- identity
    @property
    @abstractmethod
    def spec(self) -> str:
        """Canonical spec string; ``compgen.load(model.spec)`` rebuilds an equal model."""

    @property
    def stored_spec(self) -> str:
        """The spec a .cg header stores: :attr:`spec` unless a shorter one loads the same model."""
        return self.spec

    @abstractmethod
    def fingerprint_data(self) -> dict:
        """Everything that can change this model's predictions (codec, level, versions, weights hash)."""

    def fingerprint(self) -> str:
        """A short hash that changes whenever predictions could change."""
        cached = getattr(self, "_fingerprint_cache", None)
        if cached is None:
            payload = json.dumps(self.fingerprint_data(), sort_keys=True, default=str)
            cached = hashlib.sha256(payload.encode()).hexdigest()[:20]
            self._fingerprint_cache = cached
        return cached

    # -------------------------------------------------------------- prediction
    @abstractmethod
    def next_byte_probs(self, context: bytes) -> np.ndarray:
        """``float64[256]`` distribution of the byte following ``context``; sums to 1."""

    def predictive_code_length(self, data: bytes, context: bytes = b"") -> float:
        """Bits to code ``data`` byte by byte with :meth:`next_byte_probs` (what the range coder pays)."""
        ctx = bytearray(context)
        bits = 0.0
        for b in data:
            p = self.next_byte_probs(bytes(ctx))
            bits -= float(np.log2(p[b]))
            ctx.append(b)
        return bits

    def code_length(self, data: bytes, context: bytes = b"") -> float:
        """Bits this model needs for ``data`` after ``context``.

        Generic definition: the predictive code length. Compressor models override it
        with their native conditional length (one compression instead of 256 per byte).
        """
        return self.predictive_code_length(data, context)

    def code_lengths(self, candidates: Sequence[bytes], context: bytes = b"") -> np.ndarray:
        """``code_length(c, context)`` for many candidates; models batch this where they can."""
        return np.array([self.code_length(c, context) for c in candidates], dtype=np.float64)

    # ---------------------------------------------------------------- coding
    def payload_coder(self):
        """The entropy coder for this model; token LMs return their own."""
        from .coding.byte_coder import ByteRangeCoder

        return ByteRangeCoder(self)

    @property
    def max_context(self) -> int | None:
        """Longest context the model looks at (None: unbounded)."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}>"


def probs_from_bits(bits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Normalise ``2^(-bits / temperature)`` over the candidates.

    The single place code lengths become probabilities, so the fast and the naive
    routes produce bit-identical arrays when their lengths agree.
    """
    bits = np.asarray(bits, dtype=np.float64)
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    w = np.exp2(-(bits - bits.min()) / temperature)
    return w / w.sum()


def as_compressor(model: "Model | str", store: bool = True):
    """Model -> lossless compressor (range coding inside a verifying container).

    A file the model would expand is stored instead, unless ``store=False``."""
    from .coding.container import ModelCompressor

    if isinstance(model, str):
        from .registry import load

        model = load(model)
    return ModelCompressor(model, store=store)


class CodeLengthModel(Model):
    """A Model over any object that knows exact fractional code lengths.

    ``p(b | x)`` is proportional to ``2^-(code_length(x + b) - code_length(x))``, i.e. to
    ``2^-code_length(b, x)`` -- the paper's formula without byte rounding, so nothing
    is flattened.
    """

    def __init__(self, source, name: str | None = None):
        self.source = source
        self.label = name or getattr(source, "name", None) or type(source).__name__

    @property
    def name(self):  # type: ignore[override]
        return f"lengths:{self.label}"

    @property
    def spec(self) -> str:
        return getattr(self.source, "spec", None) or f"lengths:{self.label}"

    def fingerprint_data(self) -> dict:
        fp = getattr(self.source, "fingerprint", None)
        return {"kind": "code-lengths", "label": self.label, "source": fp() if callable(fp) else repr(self.source)}

    def code_length(self, data: bytes, context: bytes = b"") -> float:
        return float(self.source.code_length(bytes(data), bytes(context)))

    def next_byte_probs(self, context: bytes) -> np.ndarray:
        bits = np.array([self.code_length(bytes([b]), context) for b in range(ALPHABET)], dtype=np.float64)
        return probs_from_bits(bits)
