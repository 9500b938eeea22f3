"""PPMd (pyppmd, variant H as in 7-Zip, or I) as a Model.

PPMd has no window of its own: its model restarts when ``mem_size`` is full, so the
default window is the memory size. Sampling usually wants a smaller ``window``.
Sizes are computed in recycled worker processes (:mod:`.ppmd_worker`): pyppmd leaks
~7 KB per call, which at 256 calls per byte would otherwise exhaust memory, and
pyppmd holds the GIL, so the processes are also what scores candidates in parallel.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyppmd

from .base import CompressorModel
from .ppmd_worker import PpmdWorkers


class PpmdModel(CompressorModel):
    name = "ppmd"
    releases_gil = False

    def __init__(self, order: int = 6, mem: int = 16 << 20, variant: str = "H", **kw):
        order, mem, variant = int(order), int(mem), str(variant).upper()
        if not 2 <= order <= 64:
            raise ValueError("ppmd order must be 2..64")
        if not (1 << 11) <= mem <= (1 << 31) - 1:
            raise ValueError("ppmd mem must be 2 KiB .. 2 GiB")
        if variant not in ("H", "I"):
            raise ValueError("ppmd variant must be H or I")
        self.order, self.mem, self.variant = order, mem, variant
        self.codec_window = mem
        super().__init__(**kw)
        self._workers: PpmdWorkers | None = None

    def codec_params(self) -> dict:
        return {"order": self.order, "mem": self.mem, "variant": self.variant}

    def library_version(self) -> str:
        return f"pyppmd {pyppmd.__version__}"

    def compress(self, data: bytes) -> bytes:
        return pyppmd.compress(data, max_order=self.order, mem_size=self.mem, variant=self.variant)

    def workers(self) -> PpmdWorkers:
        if self._workers is None:
            self._workers = PpmdWorkers(self.order, self.mem, self.variant, processes=self.threads)
        return self._workers

    def compressed_size(self, data: bytes) -> int:
        return self.workers().sizes(b"", [bytes(data)])[0]

    def joint_sizes(self, candidates: Sequence[bytes], context: bytes) -> np.ndarray:
        return np.array(self.workers().sizes(bytes(context), [bytes(c) for c in candidates]), dtype=np.int64)

    def close(self) -> None:
        super().close()
        if self._workers is not None:
            self._workers.close()
            self._workers = None

    def __getstate__(self):
        state = super().__getstate__()
        state["_workers"] = None
        return state

    def decompress(self, blob: bytes, length: int | None = None) -> bytes:
        """Inverse of :meth:`compress`. A raw PPMd stream (as 7-Zip stores it) has no end
        marker, so the original ``length`` must be given, as 7-Zip keeps it in its header."""
        if length is None:
            raise ValueError("a raw PPMd stream does not record its length: call decompress(blob, length)")
        cls = pyppmd.Ppmd8Decoder if self.variant == "I" else pyppmd.Ppmd7Decoder
        return cls(self.order, self.mem).decode(blob, int(length)) if length else b""
