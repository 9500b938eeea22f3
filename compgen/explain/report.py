"""What a page shows: the explained input and its per-model lengths, as plain data.

:class:`Report` is what :mod:`.html` and :mod:`.static` render; :func:`explain_input`
fills it from a data argument (``PATH``, ``text:PATH``, ``image:PATH``, ``audio:PATH``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .byte_lengths import ByteLengths

#: default cut per modality when --bytes is not given (bytes of the modality's stream)
DEFAULT_CUT = {"bytes": 32768, "text": 32768, "image": 262144, "audio": 163840}


@dataclass
class Report:
    source: str  # the data argument
    modality: str  # bytes / text / image / audio
    data: bytes  # the explained bytes (all pieces, in order)
    models: list[ByteLengths] = field(default_factory=list)
    cut: str = ""  # what was left out, stated on the page ("" = nothing)
    original_bytes: int = 0
    picture: np.ndarray | None = None  # image: uint8 [H, W] of the patches explained
    patch: tuple[int, int] | None = None
    grid: tuple[int, int] | None = None  # image: patches per column, per row explained
    rate: int = 16000  # audio samples per second
    pieces: int = 1  # pieces coded on their own (patches, chunks)
    diff: tuple[int, int] = (0, 1)  # models compared in the difference view
    smooth: int = 1  # bytes averaged for the colours (display only)
    notes: list[str] = field(default_factory=list)

    def picture_bits(self, k: int) -> np.ndarray:
        """Model ``k``'s bits of an image laid out as the picture (patch by patch)."""
        rows, cols = self.patch
        n_r, n_c = self.grid
        bits = self.models[k].bits
        out = np.zeros((n_r * rows, n_c * cols))
        for p in range(len(bits) // (rows * cols)):
            i, j = divmod(p, n_c)
            out[i * rows:(i + 1) * rows, j * cols:(j + 1) * cols] = bits[p * rows * cols:(p + 1) * rows * cols].reshape(
                rows, cols)
        return out
