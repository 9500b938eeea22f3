"""Any ``bytes -> bytes`` callable as a Model.

The fingerprint hashes the callable's code and its output on fixed probe inputs, so a
changed function (or a changed library under it) is noticed when decoding.
"""

from __future__ import annotations

import hashlib
from typing import Callable

from .base import CompressorModel

_PROBES = (b"", b"a", b"abracadabra " * 8, bytes(range(256)))


class CallableModel(CompressorModel):
    codec_window = 1 << 16

    def __init__(self, fn: Callable[[bytes], bytes], name: str | None = None,
                 decompress: Callable[[bytes], bytes] | None = None, gil_free: bool = False, **kw):
        if not callable(fn):
            raise TypeError("fn must be callable")
        self.fn = fn
        self._decompress = decompress
        self.label = name or getattr(fn, "__name__", "callable")
        self.releases_gil = bool(gil_free)
        super().__init__(**kw)

    @property
    def name(self):  # type: ignore[override]
        return f"callable:{self.label}"

    @property
    def spec(self) -> str:  # not loadable from a string; the label names it for errors
        extra = f":window={self.window}" if self.window != self.codec_window else ""
        return f"callable:{self.label}{extra}"

    def fingerprint_data(self) -> dict:
        h = hashlib.sha256()
        code = getattr(self.fn, "__code__", None)
        if code is not None:
            h.update(code.co_code)
            h.update(repr(code.co_consts).encode())
        for probe in _PROBES:
            h.update(bytes(self.fn(probe)))
        data = super().fingerprint_data()
        data.update(label=self.label, behaviour=h.hexdigest())
        return data

    def compress(self, data: bytes) -> bytes:
        return bytes(self.fn(bytes(data)))

    def decompress(self, blob: bytes) -> bytes:
        if self._decompress is None:
            raise NotImplementedError(f"{self.label}: no decompress function given")
        return self._decompress(blob)
