"""The result of explaining one input under one Model: bits per byte, and how they were found.

Its own module so that the routes that compute it (``lengths``, ``tokens``) and the page
that shows it (``report``) all import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ByteLengths:
    """Bits of every byte of one input under one Model."""

    spec: str
    bits: np.ndarray  # float64 per byte
    total: float  # the Model's code length of the input (sum of ``bits`` up to float rounding)
    method: str  # how the values were computed, for the page
    resolution: int = 1  # bytes that share one value (strided routes)
    tokens: list = field(default_factory=list)  # token LMs: (start, end, bits, [(text, prob), ...])
    seconds: float = 0.0
    label: str = ""  # the spec as the user wrote it (the page's short name)

    @property
    def name(self) -> str:
        return self.label or self.spec

    @property
    def bits_per_byte(self) -> float:
        return self.total / len(self.bits) if len(self.bits) else 0.0
