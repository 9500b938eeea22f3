"""Bounded memory and work: PPMd scoring does not grow, hostile lengths are refused early,
codec models as compressors round-trip, beat their raw distribution and never expand."""

from __future__ import annotations

import os
import random
import zlib

import numpy as np
import pytest

import compgen
from compgen.coding import container
from compgen.coding.byte_coder import GAP_UNIT, MIN_BITS, NAME_V1, NAME_V2, TAIL_BITS, floored, max_symbols
from compgen.coding.range_coder import SymbolEncoder
from compgen.errors import RefusedError
from compgen.model import Model

WORDS = ("the of and to in is was that for it with as his on be at by this had not are but from or have an they "
         "which one you were her all she there would their we him been has when who will more no if out so said "
         "what up its about into than them can only other new some could time these two may then do first").split()


def english(n: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    out = []
    while sum(len(w) + 1 for w in out) < n:
        out.append(rng.choice(WORDS))
    return (" ".join(out) + ".\n").encode()[:n]


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Counting(Model):
    """Order-1 counts over the context; counts its calls so tests can see how much work a refusal took."""

    name = "counting"
    calls = 0

    @property
    def spec(self):
        return "counting"

    def fingerprint_data(self):
        return {"kind": "counting"}

    @property
    def max_context(self):
        return 32

    def next_byte_probs(self, context):
        Counting.calls += 1
        counts = np.ones(256)
        for a, b in zip(context, context[1:]):
            if context and a == context[-1]:
                counts[b] += 30
        return counts / counts.sum()


# ------------------------------------------------------------------ memory
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_thousands_of_ppmd_scorings_keep_process_memory_bounded():
    model = compgen.load("ppmd:order=6", threads=1)
    ctx = english(600)
    model.next_byte_probs(ctx)  # start the worker
    before = rss()
    for i in range(40):  # 40 x 256 = 10,240 PPMd compressions; in-process pyppmd would leak ~70 MB
        p = model.next_byte_probs(ctx[: 500 + i])
        assert abs(p.sum() - 1) < 1e-9
    grown = rss() - before
    workers = model.workers()
    assert grown < 12 << 20, grown
    assert all(w.rss_mb < 400 for w in workers.workers)
    model.close()


def test_ppmd_workers_are_recycled_and_exact():
    import pyppmd

    from compgen.compressors.ppmd_worker import PpmdWorkers

    workers = PpmdWorkers(6, 16 << 20, "H", processes=2, recycle_mb=30)
    ctx = english(480, seed=1)
    cands = [bytes([b]) for b in range(256)]
    expect = [len(pyppmd.compress(ctx + c, max_order=6, mem_size=16 << 20, variant="H")) for c in cands[:16]]
    peak = 0
    for _ in range(20):
        got = workers.sizes(ctx, cands)
        peak = max(peak, *(w.rss_mb for w in workers.workers))
    assert got[:16] == expect
    assert workers.spawned > 2  # replaced once past 30 MB
    assert peak < 30 + 60  # a worker is retired the request after it passes the limit
    workers.close()


# ------------------------------------------------------------ hostile input
def _edit(blob: bytes, **fields) -> bytes:
    header, payload = container.unpack(blob)
    h = container.Header(header.spec, header.fingerprint, header.length, header.crc32, dict(header.coder),
                         header.stored)
    for k, v in fields.items():
        setattr(h, k, v)
    return container.pack(h, payload)


def test_floor_gives_every_symbol_a_minimum_cost():
    rng = np.random.default_rng(0)
    for p in [np.eye(256)[7], rng.dirichlet(np.ones(256) * 0.01), np.full(256, 1 / 256)]:
        q = floored(p)
        assert q.min() >= 2.0 ** -16 * 0.999 and -np.log2(q.max()) >= MIN_BITS * 0.999
        assert abs(q.sum() - 1) < 1e-12


def test_impossible_length_is_refused_before_any_model_call():
    model = Counting()
    data = english(200)
    blob = compgen.as_compressor(model, store=False).compress(data)
    payload = container.unpack(blob)[1]
    for length in (max_symbols(len(payload)) + 1, 1 << 40, (1 << 63) - 1):
        Counting.calls = 0
        with pytest.raises(RefusedError, match="cannot hold"):
            container.decompress(_edit(blob, length=length), model=model)
        assert Counting.calls == 0


def test_plausible_but_false_length_stops_soon_after_the_payload_is_spent():
    """A v2 file (no recorded code length): the tail check stops the decoder."""
    model = Counting()
    data = english(300)
    blob = compgen.as_compressor(model, store=False).compress(data)
    blob = _edit(blob, coder={"coder": NAME_V2})
    assert container.decompress(blob, model=model) == data  # v2 files still decode
    payload = container.unpack(blob)[1]
    claim = min(max_symbols(len(payload)), 100_000)
    assert claim > len(data) + 5 * TAIL_BITS / MIN_BITS
    Counting.calls = 0
    with pytest.raises(RefusedError):
        container.decompress(_edit(blob, length=claim), model=model)
    assert Counting.calls <= len(data) + TAIL_BITS / MIN_BITS + 64


@pytest.mark.parametrize("extra", [1, 3, 30, 3000])
def test_recorded_code_length_stops_a_longer_claim_right_after_the_real_end(extra):
    """v3 records its code length: a stated length ``extra`` bytes too long is refused within
    GAP_UNIT / MIN_BITS (~22) symbols of the real end, not after the tail's ~1,400."""
    model = Counting()
    data = english(300)
    blob = compgen.as_compressor(model, store=False).compress(data)
    header = container.read_header(blob)
    assert header.coder["coder"] == "byte-range-v3" and -8 <= header.coder["gap"] <= 64
    Counting.calls = 0
    with pytest.raises(RefusedError, match="recorded code length|cannot hold"):
        container.decompress(_edit(blob, length=len(data) + extra), model=model)
    assert Counting.calls <= len(data) + GAP_UNIT / MIN_BITS + 2


def test_a_gap_that_understates_the_code_length_is_refused_not_decoded_wrong():
    model = Counting()
    data = english(200)
    blob = compgen.as_compressor(model, store=False).compress(data)
    coder = container.read_header(blob).coder
    for gap in (coder["gap"] + 1, coder["gap"] + 40, 1 << 30):
        with pytest.raises(RefusedError):
            container.decompress(_edit(blob, coder=dict(coder, gap=gap)), model=model)
    assert container.decompress(_edit(blob, coder=dict(coder, gap=coder["gap"] - 3)), model=model) == data


def test_codec_mix_v1_files_still_decode():
    gz = compgen.load("gzip:level=6")
    data = english(150, seed=4)
    blob = compgen.as_compressor(gz, store=False).compress(data)
    coder = container.read_header(blob).coder
    assert coder["coder"] == "codec-mix-v2"
    old = {k: v for k, v in coder.items() if k != "gap"} | {"coder": "codec-mix-v1"}
    assert container.decompress(_edit(blob, coder=old)) == data
    with pytest.raises(RefusedError, match="recorded code length|cannot hold"):
        container.decompress(_edit(blob, length=len(data) + 1000))


def test_codec_file_with_huge_length_refused_at_once():
    gz = compgen.load("gzip:level=6")
    blob = compgen.as_compressor(gz, store=False).compress(english(120))
    with pytest.raises(RefusedError, match="cannot hold"):
        container.decompress(_edit(blob, length=10 ** 12))


def test_version_1_byte_coder_files_still_decode():
    model = Counting()
    data = english(90)
    enc = SymbolEncoder()
    for i, b in enumerate(data):  # what byte-range-v1 wrote: the raw distribution, no floor
        enc.encode(b, model.next_byte_probs(data[max(0, i - 32): i]))
    header = container.Header("counting", model.fingerprint(), len(data), zlib.crc32(data), {"coder": NAME_V1})
    assert container.decompress(container.pack(header, enc.finish()), model=model) == data


# ------------------------------------------------------ codecs as compressors
@pytest.mark.parametrize("spec", ["gzip", "zstd:level=3", "bz2", "xz:level=2", "brotli:level=5", "ppmd:order=4:mem=1M"])
def test_each_codec_round_trips_and_beats_its_raw_distribution(spec):
    model = compgen.load(spec)
    data = english(160, seed=2)
    comp = compgen.as_compressor(model, store=False)
    blob = comp.compress(data)
    assert comp.decompress(blob) == data
    assert container.decompress(blob) == data  # model rebuilt from the header
    assert comp.last_stats["ideal_bits"] < model.predictive_code_length(data[:60]) * len(data) / 60
    assert len(blob) < len(data)
    model.close()


def test_codec_compressor_never_expands_past_the_header():
    data = os.urandom(300)
    for spec in ("gzip", "bz2"):
        comp = compgen.as_compressor(spec)
        blob = comp.compress(data)
        assert len(blob) <= len(data) + 29 + len(comp.model.spec)
        assert comp.decompress(blob) == data


def test_codec_mix_settings_from_the_header_are_checked():
    gz = compgen.load("gzip:level=6:window=64")
    blob = compgen.as_compressor(gz, store=False).compress(english(80))
    settings = dict(container.unpack(blob)[0].coder, window=1 << 20)
    with pytest.raises(RefusedError, match="window"):
        container.decompress(_edit(blob, coder=settings))
