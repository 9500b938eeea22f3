"""``mix:A+B[+C]``: a mixture of Models is a Model.

Each component predicts the next byte; the mixture combines the distributions with
weights learned online from the bytes seen so far in the context (so it compresses,
samples and scores like any Model, and adapts to the file). Three ways to combine:

- ``linear``: p = sum_i w_i p_i, w the Bayesian posterior over components, shrunk
  towards uniform each byte (``share``) so a component can come back (fixed share).
- ``geometric``: p proportional to prod_i p_i^w_i, w by online gradient descent on the
  code length (Mattern's geometric mixing; the 256-way form of logistic mixing).
- ``logistic``: the byte as 8 binary decisions (high bit first); at each, the
  components' bit probabilities are mixed in the stretch domain, PAQ style, with one
  weight vector per bit position learned by gradient descent.

Measured (benchmarks/mixing.py, alice29 first 20 KB, ppm:order=2 + ppm:order=6, alone
3.061 / 2.874 bits/byte): linear 2.858, geometric 2.829, logistic 2.745 (at ~1.5 KB/s
against ~3.2 KB/s); ppm + gzip on 3 KB: 3.658 / 3.617 / 3.487. Logistic is the default.

The weights are a pure function of the context: the state follows the context byte by
byte when it is extended (coding, scoring, sampling) and is replayed from the start
otherwise, so encoder and decoder compute identical floats.
"""

from __future__ import annotations

import numpy as np

from .errors import UsageError
from .model import ALPHABET, Model

METHODS = ("linear", "geometric", "logistic")
DEFAULT_METHOD = "logistic"  # measured best: benchmarks/mixing.py
_OPTIONS = {"method": str, "lr": float, "share": float}
_EPS = 1e-12
_STRETCH_LIMIT = 12.0



_SIGMOID_FLOOR = -700.0  # e^700 is still finite in float64; e^710 is not


def sigmoid(z):
    """``1 / (1 + e^-z)`` that never overflows (many components push ``z`` far below zero).

    Bit-identical to the plain formula wherever that one is finite, so files written
    before decode the same; below -700 it is ``e^z``, the formula's limit (0 past -745).
    """
    z = np.asarray(z, dtype=np.float64)
    low = z < _SIGMOID_FLOOR
    plain = 1.0 / (1.0 + np.exp(-np.where(low, 0.0, z)))
    return np.where(low, np.exp(np.where(low, z, 0.0)), plain)


class MixtureModel(Model):
    name = "mix"

    def __init__(self, components: list[Model], method: str = DEFAULT_METHOD, lr: float | None = None,
                 share: float = 1e-3):
        if len(components) < 2:
            raise UsageError("a mixture needs at least two models: mix:A+B")
        if method not in METHODS:
            raise UsageError(f"mixing method must be one of {', '.join(METHODS)}, not {method!r}")
        self.components = list(components)
        self.method = method
        self.lr = float(lr) if lr is not None else {"linear": 0.0, "geometric": 0.02, "logistic": 0.02}[method]
        self.share = float(share)
        self._restart()

    # ---------------------------------------------------------------- identity
    @property
    def spec(self) -> str:
        opts = [] if self.method == DEFAULT_METHOD else [f"method={self.method}"]
        return "mix:" + "+".join([m.spec for m in self.components] + opts)

    def fingerprint_data(self) -> dict:
        return {"kind": "mixture", "method": self.method, "lr": self.lr, "share": self.share,
                "components": [m.fingerprint() for m in self.components]}

    @property
    def max_context(self) -> int | None:
        return None  # the weights depend on every byte seen

    # ---------------------------------------------------------------- state
    def _restart(self) -> None:
        k = len(self.components)
        self._seen = bytearray()
        self._pending: list[np.ndarray] | None = None  # components' dists after _seen
        if self.method == "logistic":
            self._w = np.full((8, k), 0.3)
        elif self.method == "geometric":
            self._w = np.full(k, 1.0 / k)
        else:
            self._w = np.full(k, 1.0 / k)

    def _component_probs(self, context: bytes) -> list[np.ndarray]:
        out = []
        for m in self.components:
            limit = m.max_context
            ctx = context if limit is None else context[len(context) - int(limit):] if limit else b""
            p = np.asarray(m.next_byte_probs(bytes(ctx)), dtype=np.float64)
            out.append(np.maximum(p, _EPS) / np.maximum(p, _EPS).sum())
        return out

    def _learn(self, dists: list[np.ndarray], x: int) -> None:
        P = np.stack(dists)  # [k, 256]
        if self.method == "linear":
            post = self._w * P[:, x]
            post /= post.sum()
            self._w = (1 - self.share) * post + self.share / len(post)
        elif self.method == "geometric":
            logp = np.log2(P)
            q = self._geometric(P)
            grad = logp[:, x] - logp @ q  # d log q(x) / d w_i
            self._w = np.clip(self._w + self.lr * grad, -4.0, 4.0)
        else:
            for d, (prefix_sum, _node, bit) in enumerate(self._bit_path(P, x)):
                st = self._stretch(prefix_sum)
                p1 = float(sigmoid(float(self._w[d] @ st)))
                self._w[d] = self._w[d] + self.lr * (bit - p1) * st

    def _advance(self, context: bytes) -> None:
        if not context.startswith(bytes(self._seen)):
            self._restart()
        for i in range(len(self._seen), len(context)):
            dists = self._pending if self._pending is not None else self._component_probs(context[:i])
            self._learn(dists, context[i])
            self._seen.append(context[i])
            self._pending = None

    # ---------------------------------------------------------------- combination
    def _geometric(self, P: np.ndarray) -> np.ndarray:
        logq = self._w @ np.log(P)
        q = np.exp(logq - logq.max())
        return q / q.sum()

    @staticmethod
    def _stretch(p1: np.ndarray) -> np.ndarray:
        p1 = np.clip(p1, 1e-6, 1 - 1e-6)
        return np.clip(np.log(p1 / (1 - p1)), -_STRETCH_LIMIT, _STRETCH_LIMIT)

    @staticmethod
    def _bit_path(P: np.ndarray, x: int):
        """Along x's bits: (each component's p(bit=1 | prefix), node, bit) per depth."""
        lo, size = 0, ALPHABET
        for _ in range(8):
            half = size // 2
            mass = P[:, lo: lo + size].sum(axis=1)
            ones = P[:, lo + half: lo + size].sum(axis=1)
            bit = 1 if x >= lo + half else 0
            yield ones / mass, lo, bit
            lo, size = (lo + half if bit else lo), half

    def _logistic(self, P: np.ndarray) -> np.ndarray:
        # p(byte) = product over its 8 bits of the mixed bit probabilities: all 255 nodes at once
        k = P.shape[0]
        q = np.ones(1)
        level = P  # [k, 256] -> nodes of shrinking size
        for d in range(8):
            nodes = 2 ** d
            blocks = level.reshape(k, nodes, 2, -1).sum(axis=3)  # [k, nodes, 2]
            p1 = blocks[:, :, 1] / blocks.sum(axis=2)
            st = self._stretch(p1)  # [k, nodes]
            m1 = sigmoid(self._w[d] @ st)  # [nodes]
            q = np.stack([q * (1 - m1), q * m1], axis=1).reshape(-1)
        return q / q.sum()

    def next_byte_probs(self, context: bytes) -> np.ndarray:
        context = bytes(context)
        self._advance(context)
        P = self._component_probs(context)
        self._pending = P
        S = np.stack(P)
        if self.method == "linear":
            q = self._w @ S
        elif self.method == "geometric":
            q = self._geometric(S)
        else:
            q = self._logistic(S)
        return q / q.sum()


def load_mixture(components: str = "", **options) -> MixtureModel:
    """``mix:A+B[+C]``; a part ``method=linear|geometric|logistic`` (or ``lr=``, ``share=``) sets an option."""
    from .registry import load

    models, opts = [], dict(options)
    for part in filter(None, (p.strip() for p in str(components).split("+"))):
        key, eq, value = part.partition("=")
        if eq and key in _OPTIONS and ":" not in key:
            opts[key] = _OPTIONS[key](value)
        else:
            models.append(load(part))
    try:
        return MixtureModel(models, **opts)
    except TypeError as exc:
        raise UsageError(f"bad mixture options: {exc}") from None
