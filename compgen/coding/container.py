"""The .cg container: what a decoder needs to refuse anything it cannot reproduce.

Format version 2, compact and binary (integers little endian; ``varint`` is unsigned
LEB128, minimal length)::

    magic      4  b"CGEN"
    version    1  2
    flags      1  bit 0: stored (the payload is the original bytes); other bits 0
    spec       varint n, n bytes UTF-8: the model's spec once, without settings left at their defaults
    fingerprint 10 the model's fingerprint (20 hex digits) as bytes
    length     varint: original bytes
    crc32      4  CRC32 of the original
    coder      (coded files only) 1 byte coder id, varint n, n bytes of packed settings
    payload    varint P, P bytes (range-coder words, or the original when stored)
    file crc   4  CRC32 of every byte before it

A codec-model file spends ~25 bytes plus its spec on this (JSON headers of version 1
cost ~200); an LM file adds its coder's packed settings. A file whose model would
expand it is written *stored*: the output never exceeds the input by more than the
header. A decoder checks, in order: magic, version, sizes (truncation, trailing
bytes), the file CRC (corruption), the header fields, the model fingerprint (wrong
model), the coder settings (threads, dtype, ...), a bound on the length the payload
can hold, then decodes and checks the original's length and CRC32. Only then are
bytes returned.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Callable

from ..errors import RefusedError
from .format import (CoderFormat, Reader, coder_format, format_by_id, json_settings,  # noqa: F401 (re-exported)
                     put_varint, register_coder)

MAGIC = b"CGEN"
VERSION = 2
FLAG_STORED = 0x01
FINGERPRINT_BYTES = 10
MAX_SPEC = 4096
MAX_SETTINGS = 1 << 16
_U32 = struct.Struct("<I")


# ------------------------------------------------------------------ header
@dataclass
class Header:
    spec: str
    fingerprint: str
    length: int
    crc32: int
    coder: dict = field(default_factory=dict)  # empty when stored
    stored: bool = False


def _fingerprint_bytes(fp: str) -> bytes:
    try:
        raw = bytes.fromhex(fp)
    except ValueError:
        raw = b""
    if len(raw) != FINGERPRINT_BYTES:
        raise ValueError(f"fingerprint must be {2 * FINGERPRINT_BYTES} hex digits, got {fp!r}")
    return raw


def pack(header: Header, payload: bytes) -> bytes:
    out = bytearray(MAGIC)
    out.append(VERSION)
    out.append(FLAG_STORED if header.stored else 0)
    spec = header.spec.encode()
    if len(spec) > MAX_SPEC:
        raise ValueError("model spec too long for a compgen file")
    put_varint(out, len(spec))
    out += spec
    out += _fingerprint_bytes(header.fingerprint)
    put_varint(out, header.length)
    out += _U32.pack(header.crc32 & 0xFFFFFFFF)
    if not header.stored:
        fmt = coder_format(str(header.coder.get("coder")))
        settings = fmt.pack(header.coder)
        if len(settings) > MAX_SETTINGS:
            raise ValueError("coder settings too large for a compgen file")
        out.append(fmt.id)
        put_varint(out, len(settings))
        out += settings
    put_varint(out, len(payload))
    out += payload
    out += _U32.pack(zlib.crc32(out))
    return bytes(out)


def unpack(blob: bytes) -> tuple[Header, bytes]:
    """Parse and integrity-check a container; raises RefusedError with the reason."""
    blob = bytes(blob)
    if len(blob) < 5:
        if not blob or not blob.startswith(MAGIC[: len(blob)]):
            raise RefusedError("not a compgen file (too short)")
        raise RefusedError("truncated compgen file")
    if blob[:4] != MAGIC:
        raise RefusedError("not a compgen file (bad magic)")
    version = blob[4]
    if version == 1:
        raise RefusedError("compgen format version 1 (compgen 0.1, JSON header) is no longer read: "
                           "decompress it with compgen 0.1 and compress it again")
    if version != VERSION:
        raise RefusedError(f"unsupported compgen format version {version} (this build reads {VERSION})")
    # Sizes first: walk the fields far enough to find the payload's end, then check the CRC
    # before trusting any field's content.
    r = Reader(blob, 5)
    flags = r.byte()
    spec_raw = r.take(r.varint(MAX_SPEC))
    fp_raw = r.take(FINGERPRINT_BYTES)
    length = r.varint()
    crc32 = r.u32()
    coder_id, settings_raw = 0, b""
    stored = bool(flags & FLAG_STORED)
    if not stored:
        coder_id = r.byte()
        settings_raw = r.take(r.varint(MAX_SETTINGS))
    plen = r.varint()
    pstart = r.pos
    expected = pstart + plen + 4
    if len(blob) < expected:
        raise RefusedError(f"truncated compgen file ({len(blob)} of {expected} bytes)")
    if len(blob) > expected:
        raise RefusedError(f"corrupt compgen file ({len(blob) - expected} unexpected trailing bytes)")
    if zlib.crc32(blob[: pstart + plen]) != _U32.unpack_from(blob, pstart + plen)[0]:
        raise RefusedError("corrupt compgen file (checksum mismatch)")
    if flags & ~FLAG_STORED:
        raise RefusedError(f"corrupt compgen file (unknown flags {flags:#04x})")
    try:
        spec = spec_raw.decode()
    except UnicodeDecodeError:
        raise RefusedError("corrupt compgen file (unreadable header)") from None
    if not spec:
        raise RefusedError("corrupt compgen file (empty model spec)")
    if not spec.isprintable():  # a spec is echoed in messages: keep them one line
        raise RefusedError("corrupt compgen file (unprintable model spec)")
    payload = blob[pstart: pstart + plen]
    coder: dict = {}
    if stored:
        if plen != length:
            raise RefusedError("corrupt compgen file (stored payload length differs from the original's)")
    else:
        fmt = format_by_id(coder_id)
        try:
            coder = fmt.unpack(settings_raw)
        except RefusedError:
            raise
        except Exception:
            raise RefusedError(f"corrupt compgen file (unreadable {fmt.name} settings)") from None
    header = Header(spec=spec, fingerprint=fp_raw.hex(), length=length, crc32=crc32, coder=coder, stored=stored)
    return header, payload


def read_header(blob: bytes) -> Header:
    return unpack(blob)[0]


def header_size(blob: bytes) -> int:
    """Bytes of a file that are not payload (for reports)."""
    header, payload = unpack(blob)
    return len(blob) - len(payload)


# -------------------------------------------------------------- compressor
class ModelCompressor:
    """A Model as a lossless compressor: ``compress``/``decompress`` whole buffers.

    ``last_stats`` after ``compress`` holds the ideal code length (sum of -log2 p), the
    payload size and whether the file was stored, so callers can report coder overhead.
    ``store=False`` always writes the coded payload (to measure a coder, or test it).
    """

    def __init__(self, model, store: bool = True):
        self.model = model
        self.store = store
        self.coder = model.payload_coder()
        self.last_stats: dict = {}

    def compress(self, data: bytes, progress: Callable[[int], None] | None = None) -> bytes:
        data = bytes(data)
        spec, fp, crc = self.model.stored_spec, self.model.fingerprint(), zlib.crc32(data)
        stored = pack(Header(spec, fp, len(data), crc, stored=True), data)
        if self.store and looks_incompressible(data):  # don't spend minutes of model time to store anyway
            if progress:
                progress(len(data))
            self.last_stats = {"ideal_bits": None, "payload_bits": 8 * len(data), "container_bytes": len(stored),
                               "input_bytes": len(data), "stored": True, "skipped_model": True}
            return stored
        payload, settings, ideal_bits = self.coder.encode(data, progress)
        blob = pack(Header(spec, fp, len(data), crc, coder=settings), payload)
        if self.store and len(stored) <= len(blob):  # the model lost to 8 bits/byte: never expand past the header
            blob = stored
        self.last_stats = {"ideal_bits": ideal_bits, "payload_bits": 8 * len(payload),
                           "container_bytes": len(blob), "input_bytes": len(data),
                           "stored": blob is stored}
        return blob

    def check_model(self, header: Header) -> None:
        if header.fingerprint != self.model.fingerprint():
            raise RefusedError(
                f"file needs model {header.spec} (fingerprint {header.fingerprint}); "
                f"this is {self.model.spec} (fingerprint {self.model.fingerprint()})"
            )

    def decompress(self, blob: bytes, progress: Callable[[int], None] | None = None) -> bytes:
        header, payload = unpack(bytes(blob))
        return self.decode(header, payload, progress)

    def decode(self, header: Header, payload: bytes, progress: Callable[[int], None] | None = None) -> bytes:
        if header.stored:
            data = payload
        else:
            self.check_model(header)
            bound = getattr(self.coder, "max_length", None)
            if bound is not None:
                limit = bound(len(payload), header.coder)
                if limit is not None and header.length > limit:
                    raise RefusedError(f"corrupt compgen file (a {len(payload)}-byte payload cannot hold "
                                       f"{header.length} bytes under this coder)")
            data = self.coder.decode(payload, header.length, header.coder, progress)
        return check_original(header, data)


INCOMPRESSIBLE_MIN = 4096


def looks_incompressible(data: bytes) -> bool:
    """Deflate cannot shrink it at all (random or already-compressed bytes, >= 4 KiB): no byte
    model we ship beats 8 bits/byte there, and finding out would cost minutes of model time."""
    return len(data) >= INCOMPRESSIBLE_MIN and len(zlib.compress(data, 6)) >= len(data)


def check_original(header: Header, data: bytes) -> bytes:
    """The last gate: the decoded bytes are the original's length and CRC32, or nothing."""
    if len(data) != header.length or zlib.crc32(data) != header.crc32:
        raise RefusedError("decoded data fails its checksum (model computed different probabilities?); nothing written")
    return data


def decompress(blob: bytes, model=None, progress=None) -> bytes:
    """Decode a container, loading the model named in its header unless one is given."""
    header, payload = unpack(bytes(blob))
    if header.stored:  # no model needed to read stored bytes back
        data = check_original(header, payload)
        if progress:
            progress(len(data))
        return data
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
    return ModelCompressor(model).decode(header, payload, progress)
