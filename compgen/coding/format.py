"""The pieces of the .cg header every coder shares: varints, a bounds-checked reader,
and the table of coder formats (id <-> name <-> settings packer).

A leaf module: it knows no coder and no model family. Each family registers its own
formats (``compgen.formats`` lists them), so reading a header never imports a model.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Callable

from ..errors import RefusedError

_U32 = struct.Struct("<I")


# ------------------------------------------------------------------ varints
def put_varint(out: bytearray, value: int) -> None:
    if value < 0:
        raise ValueError("varint must be >= 0")
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


class Reader:
    """Bounds-checked cursor over a buffer; every failure is a one-line refusal."""

    def __init__(self, buf: bytes, pos: int = 0, end: int | None = None, what: str = "header"):
        self.buf, self.pos, self.what = buf, pos, what
        self.end = len(buf) if end is None else end

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise RefusedError(f"truncated compgen file ({self.what} cut off)")
        chunk = self.buf[self.pos: self.pos + n]
        self.pos += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def varint(self, limit: int = 1 << 63) -> int:
        value = shift = 0
        for i in range(10):
            b = self.byte()
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                if b == 0 and i > 0:
                    raise RefusedError(f"corrupt compgen file (non-canonical number in the {self.what})")
                if value > limit:
                    raise RefusedError(f"corrupt compgen file (implausible number {value} in the {self.what})")
                return value
            shift += 7
        raise RefusedError(f"corrupt compgen file (overlong number in the {self.what})")

    def u32(self) -> int:
        return _U32.unpack(self.take(4))[0]

    def done(self) -> bool:
        return self.pos == self.end


# ------------------------------------------------------------ coder formats
@dataclass(frozen=True)
class CoderFormat:
    """How one payload coder's settings dict is packed into the header."""

    id: int
    name: str
    pack: Callable[[dict], bytes]
    unpack: Callable[[bytes], dict]


_BY_ID: dict[int, CoderFormat] = {}
_BY_NAME: dict[str, CoderFormat] = {}


def register_coder(fmt: CoderFormat) -> None:
    if not 1 <= fmt.id <= 255:
        raise ValueError("coder ids are 1..255")
    _BY_ID[fmt.id] = fmt
    _BY_NAME[fmt.name] = fmt


def json_settings(name: str) -> tuple[Callable[[dict], bytes], Callable[[bytes], dict]]:
    """A generic settings packer (compact JSON without the coder name), for coders
    that have no binary layout of their own."""

    def pack(settings: dict) -> bytes:
        rest = {k: v for k, v in settings.items() if k != "coder"}
        return json.dumps(rest, sort_keys=True, separators=(",", ":")).encode() if rest else b""

    def unpack(raw: bytes) -> dict:
        fields = json.loads(raw.decode()) if raw else {}
        if not isinstance(fields, dict):
            raise ValueError("settings are not a mapping")
        return {"coder": name, **fields}

    return pack, unpack


def _registered(table: dict, key, missing: Exception) -> CoderFormat:
    fmt = table.get(key)
    if fmt is None:
        raise missing
    return fmt


def coder_format(name: str) -> CoderFormat:
    return _registered(_BY_NAME, name, ValueError(f"coder {name!r} has no registered container format"))


def format_by_id(coder_id: int) -> CoderFormat:
    return _registered(_BY_ID, coder_id, RefusedError(
        f"file was written by an unknown coder (id {coder_id}); a newer compgen may read it"))
