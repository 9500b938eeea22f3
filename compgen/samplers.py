"""How to pick a continuation from a model's scores: Greedy, Temperature, TopK, TopP, Beam.

Every sampler sees candidates (single bytes, or multi-byte spans in span mode) with
their code lengths in bits; ``p(c) ∝ 2^(-bits / temperature)``. Working on code
lengths rather than probabilities lets the same rules drive an LM (bits = -log2 p)
and a compressor (bits = compressed length), which is the whole point of compgen.
Randomness comes only from the ``numpy.random.Generator`` passed in: same seed, same
choices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import UsageError


class SamplerError(UsageError, ValueError):
    """A sampler was given impossible settings."""


def weights(bits: np.ndarray, temperature: float) -> np.ndarray:
    """``2^(-bits/T)`` normalised; infinite bits get weight 0 (at least one must be finite)."""
    bits = np.asarray(bits, dtype=np.float64)
    finite = np.isfinite(bits)
    if not finite.any():
        raise ValueError("no candidate has a finite code length")
    w = np.zeros_like(bits)
    b = bits[finite]
    w[finite] = np.exp2(-(b - b.min()) / temperature)
    return w / w.sum()


class Sampler:
    """Base: ``choose(bits, rng) -> index`` of the chosen candidate."""

    temperature: float = 1.0

    def choose(self, bits: np.ndarray, rng: np.random.Generator) -> int:
        p = self.distribution(np.asarray(bits, dtype=np.float64))
        return int(rng.choice(len(p), p=p))

    def distribution(self, bits: np.ndarray) -> np.ndarray:
        return weights(bits, self.temperature)

    def settings(self) -> dict:
        return {"sampler": type(self).__name__.lower(), **{k: v for k, v in vars(self).items()}}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


def _check_temperature(t) -> float:
    t = float(t)
    if not t > 0 or not np.isfinite(t):
        raise SamplerError(f"temperature must be > 0 (got {t})")
    return t


class Greedy(Sampler):
    """Always the cheapest candidate (first one on ties, so fully deterministic)."""

    def choose(self, bits, rng):
        return int(np.argmin(np.asarray(bits, dtype=np.float64)))

    def distribution(self, bits):
        p = np.zeros(len(bits))
        p[int(np.argmin(bits))] = 1.0
        return p


class Temperature(Sampler):
    """Sample from ``2^(-bits/T)``: T=1 is the model's own distribution."""

    def __init__(self, temperature: float = 1.0):
        self.temperature = _check_temperature(temperature)


class TopK(Sampler):
    """Sample among the ``k`` cheapest candidates only."""

    def __init__(self, k: int = 8, temperature: float = 1.0):
        if int(k) < 1:
            raise SamplerError(f"top-k needs k >= 1 (got {k})")
        self.k = int(k)
        self.temperature = _check_temperature(temperature)

    def distribution(self, bits):
        p = weights(bits, self.temperature)
        if self.k < len(p):
            order = np.argsort(np.asarray(bits, dtype=np.float64), kind="stable")
            keep = np.zeros(len(p), dtype=bool)
            keep[order[: self.k]] = True
            p = np.where(keep, p, 0.0)
            p /= p.sum()
        return p


class TopP(Sampler):
    """Nucleus sampling: the smallest set of candidates holding probability >= p."""

    def __init__(self, p: float = 0.9, temperature: float = 1.0):
        p = float(p)
        if not 0 < p <= 1:
            raise SamplerError(f"top-p needs 0 < p <= 1 (got {p})")
        self.p = p
        self.temperature = _check_temperature(temperature)

    def distribution(self, bits):
        q = weights(bits, self.temperature)
        order = np.argsort(-q, kind="stable")
        cum = np.cumsum(q[order])
        n_keep = int(np.searchsorted(cum, self.p * (1 - 1e-12)) + 1)
        keep = np.zeros(len(q), dtype=bool)
        keep[order[:n_keep]] = True
        q = np.where(keep, q, 0.0)
        return q / q.sum()


@dataclass
class Beam(Sampler):
    """Beam search over multi-byte continuations, then commit a little and re-plan.

    ``width`` beams are extended (byte mode: by each beam's ``branch`` most likely
    bytes; span mode: by ``branch`` proposed words) until they are ``horizon`` bytes
    long; the finished beams are scored on exactly their first ``horizon`` bytes and
    one is drawn with ``temperature`` (0 = best beam). Its first ``commit`` units
    (bytes in byte mode, words in span mode) are emitted and the search restarts.
    """

    width: int = 8
    horizon: int = 16
    branch: int = 8
    temperature: float = 0.5
    commit: int = 1

    def __post_init__(self):
        for name in ("width", "horizon", "branch", "commit"):
            if int(getattr(self, name)) < 1:
                raise SamplerError(f"beam {name} must be >= 1 (got {getattr(self, name)})")
            setattr(self, name, int(getattr(self, name)))
        t = float(self.temperature)
        if t < 0 or not np.isfinite(t):
            raise SamplerError(f"beam temperature must be >= 0 (got {t})")
        self.temperature = t

    def choose(self, bits, rng):
        if self.temperature == 0:
            return int(np.argmin(np.asarray(bits, dtype=np.float64)))
        return super().choose(bits, rng)

    def distribution(self, bits):
        if self.temperature == 0:
            return Greedy().distribution(bits)
        return weights(bits, self.temperature)


def from_name(name: str, temperature: float | None = None, top_k: int | None = None,
              top_p: float | None = None, **beam) -> Sampler:
    """CLI helper: ``greedy|temperature|top-k|top-p|beam`` plus its settings."""
    name = name.lower().replace("_", "-")
    t = {} if temperature is None else {"temperature": temperature}
    if name == "greedy":
        return Greedy()
    if name in ("temperature", "temp", "sample"):
        return Temperature(**t)
    if name in ("top-k", "topk"):
        return TopK(top_k if top_k is not None else 8, **t)
    if name in ("top-p", "topp", "nucleus"):
        return TopP(top_p if top_p is not None else 0.9, **t)
    if name == "beam":
        return Beam(**{k: v for k, v in beam.items() if v is not None}, **t)
    raise SamplerError(f"unknown sampler {name!r} (choose greedy, temperature, top-k, top-p, beam)")


def from_cli(args) -> Sampler:
    """The sampler ``sample`` options name (``--sampler``, ``-t``, ``--top-p``, ...), with the
    CLI's default temperature (0.7; beam keeps its own)."""
    t = args.temperature
    if t is None and args.sampler.lower() != "beam":
        t = 0.7
    return from_name(args.sampler, temperature=t, top_k=args.top_k, top_p=args.top_p,
                     width=args.beam_width, horizon=args.horizon, branch=args.branch, commit=args.commit)


__all__ = ["Sampler", "Greedy", "Temperature", "TopK", "TopP", "Beam", "SamplerError", "from_name", "from_cli",
           "weights"]
