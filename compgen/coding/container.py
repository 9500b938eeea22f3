"""The .cg container: what a decoder needs to refuse anything it cannot reproduce.

Layout (all integers little endian)::

    0       4  magic  b"CGEN"
    4       1  format version (1)
    5       4  H = header length
    9       H  header, UTF-8 JSON: spec, fingerprint, length, crc32, coder settings
    9+H     8  P = payload length
    17+H    P  payload (range-coder words)
    17+H+P  4  CRC32 of every byte before it

A decoder checks, in order: magic, version, sizes (truncation), the file CRC
(corruption), the model fingerprint (wrong model), the coder settings (threads,
dtype, ...), then decodes and checks the original's length and CRC32. Only then are
bytes returned.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from typing import Callable

from ..errors import RefusedError

MAGIC = b"CGEN"
VERSION = 1
_PREFIX = struct.Struct("<4sBI")
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


@dataclass
class Header:
    spec: str
    fingerprint: str
    length: int
    crc32: int
    coder: dict

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True, separators=(",", ":")).encode()


def pack(header: Header, payload: bytes) -> bytes:
    head = header.to_json()
    body = _PREFIX.pack(MAGIC, VERSION, len(head)) + head + _U64.pack(len(payload)) + payload
    return body + _U32.pack(zlib.crc32(body))


def unpack(blob: bytes) -> tuple[Header, bytes]:
    """Parse and integrity-check a container; raises RefusedError with the reason."""
    if len(blob) < _PREFIX.size:
        raise RefusedError("not a compgen file (too short)" if not blob.startswith(MAGIC[: len(blob)]) or not blob
                           else "truncated compgen file")
    magic, version, hlen = _PREFIX.unpack_from(blob)
    if magic != MAGIC:
        raise RefusedError("not a compgen file (bad magic)")
    if version != VERSION:
        raise RefusedError(f"unsupported compgen format version {version} (this build reads {VERSION})")
    pos = _PREFIX.size
    if len(blob) < pos + hlen + _U64.size:
        raise RefusedError("truncated compgen file (header cut off)")
    head_bytes = blob[pos: pos + hlen]
    pos += hlen
    (plen,) = _U64.unpack_from(blob, pos)
    pos += _U64.size
    expected = pos + plen + _U32.size
    if len(blob) < expected:
        raise RefusedError(f"truncated compgen file ({len(blob)} of {expected} bytes)")
    if len(blob) > expected:
        raise RefusedError(f"corrupt compgen file ({len(blob) - expected} unexpected trailing bytes)")
    (crc,) = _U32.unpack_from(blob, pos + plen)
    if zlib.crc32(blob[: pos + plen]) != crc:
        raise RefusedError("corrupt compgen file (checksum mismatch)")
    try:
        fields = json.loads(head_bytes.decode())
        header = Header(spec=str(fields["spec"]), fingerprint=str(fields["fingerprint"]),
                        length=int(fields["length"]), crc32=int(fields["crc32"]), coder=dict(fields["coder"]))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise RefusedError("corrupt compgen file (unreadable header)") from None
    if header.length < 0:
        raise RefusedError("corrupt compgen file (negative length)")
    return header, blob[pos: pos + plen]


def read_header(blob: bytes) -> Header:
    return unpack(blob)[0]


class ModelCompressor:
    """A Model as a lossless compressor: ``compress``/``decompress`` whole buffers.

    ``last_stats`` after ``compress`` holds the ideal code length (sum of -log2 p) and
    the payload size, so callers can report coder overhead.
    """

    def __init__(self, model):
        self.model = model
        self.coder = model.payload_coder()
        self.last_stats: dict = {}

    def compress(self, data: bytes, progress: Callable[[int], None] | None = None) -> bytes:
        data = bytes(data)
        payload, settings, ideal_bits = self.coder.encode(data, progress)
        header = Header(spec=self.model.spec, fingerprint=self.model.fingerprint(),
                        length=len(data), crc32=zlib.crc32(data), coder=settings)
        blob = pack(header, payload)
        self.last_stats = {"ideal_bits": ideal_bits, "payload_bits": 8 * len(payload),
                           "container_bytes": len(blob), "input_bytes": len(data)}
        return blob

    def check_model(self, header: Header) -> None:
        if header.fingerprint != self.model.fingerprint():
            raise RefusedError(
                f"file needs model {header.spec} (fingerprint {header.fingerprint}); "
                f"this is {self.model.spec} (fingerprint {self.model.fingerprint()})"
            )

    def decompress(self, blob: bytes, progress: Callable[[int], None] | None = None) -> bytes:
        header, payload = unpack(bytes(blob))
        self.check_model(header)
        data = self.coder.decode(payload, header.length, header.coder, progress)
        if len(data) != header.length or zlib.crc32(data) != header.crc32:
            raise RefusedError("decoded data fails its checksum (model computed different probabilities?); nothing written")
        return data


def decompress(blob: bytes, model=None, progress=None) -> bytes:
    """Decode a container, loading the model named in its header unless one is given."""
    header, _ = unpack(bytes(blob))
    if model is None:
        from ..errors import CompgenError, MissingDependencyError
        from ..registry import load

        if header.spec.startswith("callable:"):
            raise RefusedError(f"file needs model {header.spec}, a Python callable: decode it with "
                               "compgen.as_compressor(model).decompress(blob)")
        try:
            model = load(header.spec)
        except RefusedError:
            raise
        except MissingDependencyError as exc:
            raise MissingDependencyError(f"file needs model {header.spec}: {exc}") from None
        except CompgenError as exc:
            raise RefusedError(f"file needs model {header.spec}, which cannot be loaded here: {exc}") from None
    return ModelCompressor(model).decompress(blob, progress)
