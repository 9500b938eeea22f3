"""How the LM coder's settings are packed into a .cg header (torch-free: read before the model loads).

Layout of ``lm-lockstep-v3`` (coder id 3), 10-20 bytes in all::

    flags    1  bit 0: token codec (else bytes), bit 1: in-file token model mixed in,
                bit 2: bf16 stepping (matrix products and KV cache; files without it are float32),
                bit 3: finished streams leave the lockstep batch (files without it step every stream to the end),
                bit 4: adaptive head (a learned per-token log-space bias, compgen.lm.adaptive_head),
                bit 5: while a ring cache fills, attention reads the whole ring with the empty slots masked
                       (files without it read the filled slots only: a strided slice, ~4x slower per step)
    streams  varint   segments coded in lockstep (their sizes follow from the length)
    window   varint   tokens the model attends to
    threads  varint   torch threads (changes the floats; named in the refusal)
    tokens   varint   tokens coded (bounds the decoder's work)
    env      2        digest of the CPU path (ATen capability)
    probe    4        CRC32 of the first logits row (same machine, same floats?)
    raw      varint n, then (n > 0) a bitmap of ceil(streams / 8) bytes: segments stored raw
    head     (bit 4 only) varint: the head's learning rate in units of 2^-16 (1 .. 65535)

Files without bit 4 (every file before the head existed) or bit 5 decode exactly as before.

dtype, weights and library versions are covered by the model fingerprint. Files of
coder v2 (compact JSON, id 2) are still recognised, and refused by name.
"""

from __future__ import annotations

import struct
import zlib

from ..coding.format import CoderFormat, Reader, json_settings, put_varint
from .adaptive_head import LR_UNIT

NAME = "lm-lockstep-v3"
OLD_NAMES = ("lm-lockstep-v2",)
_FLAG_TOKENS, _FLAG_MIX, _FLAG_BF16, _FLAG_COMPACT, _FLAG_HEAD, _FLAG_RING = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_FLAGS = _FLAG_TOKENS | _FLAG_MIX | _FLAG_BF16 | _FLAG_COMPACT | _FLAG_HEAD | _FLAG_RING


def env_digest(cpu_path: str) -> int:
    """16 bits naming the CPU path the floats were computed on."""
    return zlib.crc32(f"cpu={cpu_path}".encode()) & 0xFFFF


def pack(s: dict) -> bytes:
    head = int(s.get("head") or 0)
    if not 0 <= head < LR_UNIT:
        raise ValueError("adaptive head lr out of range")
    out = bytearray([(_FLAG_TOKENS if s["codec"] == "tokens" else 0) | (_FLAG_MIX if s.get("mix") else 0)
                     | (_FLAG_BF16 if s.get("bf16") else 0) | (_FLAG_COMPACT if s.get("compact") else 0)
                     | (_FLAG_HEAD if head else 0) | (_FLAG_RING if s.get("ring") else 0)])
    for key in ("streams", "window", "threads", "tokens"):
        put_varint(out, int(s[key]))
    out += struct.pack("<HI", int(s["env"]) & 0xFFFF, int(s["probe"]) & 0xFFFFFFFF)
    raw = sorted(int(i) for i in s.get("raw", ()))
    put_varint(out, len(raw))
    if raw:
        bitmap = bytearray(-(-int(s["streams"]) // 8))
        for i in raw:
            bitmap[i >> 3] |= 1 << (i & 7)
        out += bitmap
    if head:
        put_varint(out, head)
    return bytes(out)


def unpack(raw_bytes: bytes) -> dict:
    r = Reader(raw_bytes, what="LM coder settings")
    flags = r.byte()
    if flags & ~_FLAGS:
        raise ValueError("unknown LM coder flags")
    s = {"coder": NAME, "codec": "tokens" if flags & _FLAG_TOKENS else "bytes", "mix": bool(flags & _FLAG_MIX),
         "bf16": bool(flags & _FLAG_BF16), "compact": bool(flags & _FLAG_COMPACT),
         "ring": bool(flags & _FLAG_RING)}
    for key in ("streams", "window", "threads", "tokens"):
        s[key] = r.varint(1 << 40)
    s["env"], s["probe"] = struct.unpack("<HI", r.take(6))
    n_raw = r.varint(s["streams"])
    raw: list[int] = []
    if n_raw:
        bitmap = r.take(-(-s["streams"] // 8))
        raw = [i for i in range(s["streams"]) if bitmap[i >> 3] >> (i & 7) & 1]
        if len(raw) != n_raw:
            raise ValueError("raw segment count disagrees with its bitmap")
    s["raw"] = raw
    s["head"] = r.varint(LR_UNIT - 1) if flags & _FLAG_HEAD else 0
    if flags & _FLAG_HEAD and not s["head"]:
        raise ValueError("adaptive head flag without a learning rate")
    if not r.done():
        raise ValueError("trailing bytes in LM coder settings")
    return s


FORMATS = (CoderFormat(2, OLD_NAMES[0], *json_settings(OLD_NAMES[0])), CoderFormat(3, NAME, pack, unpack))
