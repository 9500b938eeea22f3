"""Online adaptive head: a per-token-id bias in log space, learned from the file as it is coded.

The LM's distribution at every step of the lockstep coder is reweighted by a bias vector
``b`` over the vocabulary,

    p(x) = softmax(logits + b)(x) = e_lm(x) * exp(b(x)) / Z,

and after each step ``b`` moves down the gradient of the coded tokens' code lengths
(``-log p(x)``), which is ``p - onehot(x)`` for each coded token:

    b <- b - lr * sum_rows p_row + lr * sum_rows onehot(x_row)

The vector is shared by every stream of the batch (like the in-file n-gram of
:mod:`compgen.lm.token_mix`): a token joins it after its step, on both sides. It learns
what the file uses more or less often than the LM expects (names, a topic's words,
markup), which a 512-token window forgets.

Determinism: the LM's float32 ``e_lm`` reaches the head through the same path as without
it (:class:`compgen.lm.coder.Stages`: max-shift, floor, float32 exp); from there every
operation is float64 numpy arithmetic in a fixed order (no BLAS, no threads), so encoder
and decoder compute the same bits. ``lr`` is a multiple of ``2**-16`` (the file stores
the integer), so both sides use the very same float. The bias is clipped to
``[-BIAS_LIMIT, BIAS_LIMIT]`` so that every token keeps a positive probability.

Cost per 32-stream SmolLM2 step (49,152 ids): ~2 ms for the float64 weighting, ~1 ms
for the gradient, 49,152 exps for the new weights (figures in docs/lm.md).
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError

LR_UNIT = 1 << 16  # lr is stored in the file as round(lr * LR_UNIT)
# alice29, SmolLM2, 32 streams, against the n-gram alone: lr 0.02 / 0.05 / 0.1 -> -2.9 / -3.5 / -3.7 %
# (window 512), 0.05 / 0.1 / 0.2 -> -3.5 / -3.75 / -3.77 % (window 2048); docs/lm.md
DEFAULT_LR = 0.1
BIAS_LIMIT = 20.0  # nats: exp(-2 * 20) ~ 4e-18 keeps every token positive in float64


def lr_units(lr) -> int:
    """A learning rate as the integer the file stores (1 .. LR_UNIT - 1)."""
    try:
        value = float(lr)
    except (TypeError, ValueError):
        raise UsageError(f"head_lr must be a number, not {lr!r}") from None
    units = int(round(value * LR_UNIT))
    if not 1 <= units < LR_UNIT:
        raise UsageError(f"head_lr must be in [{1 / LR_UNIT:.6f}, 1), not {lr!r}")
    return units


def lr_text(units: int) -> str:
    """The shortest decimal that reads back as the same ``units`` (for specs)."""
    for digits in range(1, 12):
        text = f"{units / LR_UNIT:.{digits}g}"
        if int(round(float(text) * LR_UNIT)) == units:
            return text
    return repr(units / LR_UNIT)


class AdaptiveHead:
    """The bias vector and its update (see module doc). ``units``: lr * LR_UNIT."""

    def __init__(self, vocab: int, units: int, width: int | None = None):
        """``width`` >= vocab: length of the weight vector (the coder pads the vocabulary to
        whole blocks; padding ids get weight 0 and never occur)."""
        if not 1 <= int(units) < LR_UNIT:
            raise ValueError("adaptive head lr out of range")
        self.vocab = int(vocab)
        self.lr = int(units) / LR_UNIT
        self.bias = np.zeros(self.vocab, dtype=np.float64)
        self.w = np.zeros(max(self.vocab, int(width or 0)), dtype=np.float64)
        self.w[: self.vocab] = 1.0  # exp(b - max b) with b == 0

    def weigh(self, e: np.ndarray) -> np.ndarray:
        """float64 e_lm * exp(b - max b) for float32 rows ``e`` [rows, width] (unnormalised)."""
        return np.multiply(e, self.w, dtype=np.float64)

    def gradient(self, flat: np.ndarray, rows) -> np.ndarray:
        """sum over ``rows`` of the normalised distributions flat[row, :vocab] / Z_row."""
        g = np.zeros(self.vocab, dtype=np.float64)
        for r in rows:
            row = flat[r, : self.vocab]
            g += row * (1.0 / float(row.sum()))
        return g

    def learn(self, g: np.ndarray, tokens) -> None:
        """One step of every coded row: b -= lr * (sum p - sum onehot), clipped, new weights."""
        b = self.bias
        b -= self.lr * g
        for x in tokens:  # in row order, the same on both sides
            b[int(x)] += self.lr
        np.clip(b, -BIAS_LIMIT, BIAS_LIMIT, out=b)
        np.exp(b - b.max(), out=self.w[: self.vocab])
