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
    assert (header.spec, header.length, header.crc32) == ("gzip:level=9", len(DATA), zlib.crc32(DATA))
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


def test_unknown_version(blob):
    body = bytearray(blob[:-4])
    body[4] = 2
    resealed = bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))
    message = refused(resealed)
    assert "version 2" in message


def test_wrong_model_names_the_needed_one(blob):
    message = refused(blob, model=compgen.load("gzip:level=6"))
    assert "gzip:level=9" in message and "gzip:level=6" in message
    with pytest.raises(RefusedError):
        compgen.as_compressor(compgen.load("zstd")).decompress(blob)


def test_edited_fingerprint_refused(blob):
    message = refused(repack(blob, fingerprint="0" * 20))
    assert "needs model gzip:level=9" in message


def test_edited_spec_refused(blob):
    assert "needs model" in refused(repack(blob, spec="gzip:level=6"))
    assert "cannot be loaded" in refused(repack(blob, spec="nosuchcodec"))


@pytest.mark.parametrize("field, delta", [("crc32", 1), ("length", -1), ("length", 1), ("length", 5)])
def test_header_lies_about_the_original(blob, field, delta):
    """Consistent file, wrong original length or CRC32: the decoded checksum refuses it."""
    header = container.read_header(blob)
    bad = repack(blob, **{field: getattr(header, field) + delta})
    message = refused(bad)
    assert "checksum" in message or "past the stated length" in message, message


def test_unreadable_and_odd_headers(blob):
    header, payload = unpack(blob)

    def seal(head: bytes, pay: bytes = payload) -> bytes:
        body = struct.pack("<4sBI", b"CGEN", 1, len(head)) + head + struct.pack("<Q", len(pay)) + pay
        return body + struct.pack("<I", zlib.crc32(body))

    assert "unreadable header" in refused(seal(b"{not json"))
    assert "unreadable header" in refused(seal(b"[1, 2]"))
    assert "unreadable header" in refused(seal(json.dumps({"spec": "gzip"}).encode()))
    assert "unreadable header" in refused(seal(b"\xff\xfe"))
    assert "negative length" in refused(seal(json.dumps({**header.__dict__, "length": -3}).encode()))
    assert "32-bit words" in refused(seal(header.to_json(), payload + b"\x00"))


def test_coder_settings_checked(blob):
    assert "coder" in refused(repack(blob, coder={"coder": "something-else"}))


def test_callable_file_needs_the_callable():
    model = compgen.as_model(lambda d: zlib.compress(d, 9), name="mine")
    blob = compgen.as_compressor(model).compress(b"hello")
    assert "callable" in refused(blob)
    assert compgen.as_compressor(model).decompress(blob) == b"hello"
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
