"""The .cg container refuses everything it cannot reproduce exactly: truncation at any
offset, any flipped byte, trailing garbage, bad magic, unknown versions, the wrong model,
and headers edited consistently (valid file CRC) but lying about the original."""

from __future__ import annotations

import json
import struct
import zlib

import pytest

import compgen
from compgen.coding import container
from compgen.coding.container import Header, pack, unpack
from compgen.errors import RefusedError

DATA = b"abracadabra, abracadabra! " * 2


@pytest.fixture(scope="module")
def gz9():
    return compgen.load("gzip:level=9")


@pytest.fixture(scope="module")
def blob(gz9):
    return compgen.as_compressor(gz9).compress(DATA)


def refused(blob: bytes, model=None) -> str:
    """The refusal message; fails the test if the blob is accepted."""
    with pytest.raises(RefusedError) as err:
        compgen.decompress(blob, model=model)
    message = str(err.value)
    assert message and "\n" not in message
    return message


def repack(blob: bytes, **fields) -> bytes:
    """Edit header fields and re-seal the file with a valid CRC."""
    header, payload = unpack(blob)
    data = dict(header.__dict__)
    data.update(fields)
    return pack(Header(**data), payload)


def test_valid_file(blob, gz9):
    assert blob.startswith(b"CGEN")
    header = container.read_header(blob)
    assert (header.spec, header.length, header.crc32) == ("gzip", len(DATA), zlib.crc32(DATA))
    assert compgen.load(header.spec).spec == gz9.spec  # defaults left out of the stored spec
    assert header.fingerprint == gz9.fingerprint()
    assert compgen.decompress(blob) == DATA


def test_truncated_at_every_offset(blob):
    messages = {refused(blob[:cut]) for cut in range(len(blob))}
    assert all(("truncated" in m or "not a compgen file" in m) for m in messages), messages


def test_every_byte_flipped(blob):
    for i in range(len(blob)):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(blob)
            bad[i] ^= mask
            refused(bytes(bad))


def test_trailing_garbage(blob):
    for tail in (b"\x00", b"garbage", blob):
        assert "trailing" in refused(blob + tail)


def test_bad_magic_and_empty():
    assert "not a compgen file" in refused(b"")
    assert "not a compgen file" in refused(b"GZIP" + b"\x00" * 40)
    assert "not a compgen file" in refused(b"\x1f\x8b\x08\x00")


def reseal(body: bytes) -> bytes:
    return bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))


@pytest.mark.parametrize("version", [0, 3, 255])
def test_unknown_version(blob, version):
    body = bytearray(blob[:-4])
    body[4] = version
    assert f"version {version}" in refused(reseal(body))


def test_version_1_refused_by_name():
    head = json.dumps({"spec": "gzip", "fingerprint": "0" * 20, "length": 1, "crc32": 0, "coder": {}}).encode()
    body = struct.pack("<4sBI", b"CGEN", 1, len(head)) + head + struct.pack("<Q", 4) + b"\0" * 4
    message = refused(reseal(body))
    assert "version 1" in message and "compgen 0.1" in message


def test_header_is_compact(blob):
    """Spec once, binary fields, varint lengths: a codec-model file spends < 48 bytes on framing."""
    header, payload = unpack(blob)
    assert len(blob) - len(payload) <= 48
    assert blob.count(b"gzip") == 1


@pytest.mark.parametrize("spec", ["gzip", "zstd", "brotli", "xz", "bz2", "ppmd"])
def test_every_codec_header_within_48_bytes(spec):
    """The header stores the spec without its default settings (ppmd's full spec alone is 35 bytes)."""
    pytest.importorskip({"zstd": "zstandard", "brotli": "brotli", "ppmd": "pyppmd"}.get(spec, "zlib"))
    model = compgen.load(spec)
    out = compgen.as_compressor(model).compress(DATA)
    header, payload = unpack(out)
    assert not header.stored and len(out) - len(payload) <= 48
    assert header.spec == spec and compgen.load(header.spec).fingerprint() == model.fingerprint()
    assert compgen.decompress(out) == DATA


def test_stored_spec_keeps_settings_that_matter():
    assert compgen.load("gzip:level=6").stored_spec == "gzip:level=6"
    assert compgen.load("zstd:level=19:window=4096").stored_spec == "zstd:window=4096"
    assert compgen.load("ppmd:order=8:mem=16777216").stored_spec == "ppmd:order=8"


def test_stored_when_the_model_expands(gz9):
    import random

    noise = random.Random(1).randbytes(3000)
    comp = compgen.as_compressor(gz9)
    out = comp.compress(noise)
    header = container.read_header(out)
    assert header.stored and comp.last_stats["stored"]
    assert len(out) <= len(noise) + 48
    assert compgen.decompress(out) == noise
    assert comp.decompress(out) == noise
    flipped = bytearray(out)
    flipped[100] ^= 1  # inside the stored bytes
    assert "checksum" in refused(bytes(flipped))
    lie = repack(out, crc32=header.crc32 ^ 1)  # consistent file, wrong original CRC
    assert "checksum" in refused(lie)
    assert "stored payload length" in refused(repack(out, length=len(noise) + 1))


def test_wrong_model_names_the_needed_one(blob):
    message = refused(blob, model=compgen.load("gzip:level=6"))
    assert "needs model gzip (" in message and "this is gzip:level=6" in message
    with pytest.raises(RefusedError):
        compgen.as_compressor(compgen.load("zstd")).decompress(blob)


def test_edited_fingerprint_refused(blob):
    message = refused(repack(blob, fingerprint="0" * 20))
    assert "needs model gzip (" in message


def test_edited_spec_refused(blob):
    assert "needs model" in refused(repack(blob, spec="gzip:level=6"))
    assert "cannot be loaded" in refused(repack(blob, spec="nosuchcodec"))


@pytest.mark.parametrize("field, delta", [("crc32", 1), ("length", -1), ("length", 1), ("length", 5)])
def test_header_lies_about_the_original(blob, field, delta):
    """Consistent file, wrong original length or CRC32: the decoded checksum refuses it (or, for a
    longer length, the recorded code length does, before the checksum)."""
    header = container.read_header(blob)
    bad = repack(blob, **{field: getattr(header, field) + delta})
    message = refused(bad)
    assert "checksum" in message or "past the stated length" in message or "recorded code length" in message, message


def build(*, flags=0, spec=b"gzip:level=9", fp=b"\0" * 10, length=b"\x05", crc=b"\0" * 4,
          coder=b"\x01\x00", payload=b"\x04\0\0\0\0") -> bytes:
    """A v2 file from raw field bytes (lengths pre-encoded), sealed with a valid file CRC."""
    return reseal(b"CGEN\x02" + bytes([flags]) + bytes([len(spec)]) + spec + fp + length + crc + coder + payload)


def test_odd_headers_refused_with_reasons(blob):
    assert "unreadable header" in refused(build(spec=b"\xff\xfe"))
    assert "empty model spec" in refused(build(spec=b""))
    assert "unknown flags" in refused(build(flags=0x82))
    assert "non-canonical" in refused(build(length=b"\x85\x00"))
    assert "overlong" in refused(build(length=b"\xff" * 11))
    assert "unknown coder" in refused(build(coder=b"\x7f\x00"))
    assert "unreadable byte-range-v1 settings" in refused(build(coder=b"\x01\x01x"))
    assert "unreadable lm-lockstep-v2 settings" in refused(build(coder=b"\x02\x02[1"))
    assert "truncated" in refused(build(payload=b"\x10\0\0"))
    header, payload = unpack(blob)
    assert "32-bit words" in refused(pack(header, payload + b"\x00"))


def test_coder_settings_checked(blob):
    assert "coder" in refused(repack(blob, coder={"coder": "lm-lockstep-v2", "tokens": 3}))


def test_callable_file_needs_the_callable():
    model = compgen.as_model(lambda d: zlib.compress(d, 9), name="mine")
    blob = compgen.as_compressor(model).compress(DATA)
    assert "callable" in refused(blob)
    assert compgen.as_compressor(model).decompress(blob) == DATA
    other = compgen.as_model(lambda d: zlib.compress(d, 1), name="mine")
    assert "needs model" in refused(blob, model=other)


def test_refusal_rate_is_total(blob):
    """Every single-byte corruption and every truncation: count them, all refused."""
    cases = [blob[:cut] for cut in range(len(blob))]
    for i in range(len(blob)):
        bad = bytearray(blob)
        bad[i] = (bad[i] + 1) % 256
        cases.append(bytes(bad))
    refused_count = 0
    for case in cases:
        try:
            out = compgen.decompress(case)
        except RefusedError:
            refused_count += 1
        else:
            assert out == DATA  # never reached: would mean wrong bytes could escape
    assert refused_count == len(cases)
