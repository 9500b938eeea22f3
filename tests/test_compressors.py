"""Compressor models: exact round trips through range coding, and distributions that
equal the paper's definition computed literally (one full recompression per byte).
"""

from __future__ import annotations

import random
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compgen
from compgen.compressors import deflate
from compgen.compressors.base import SINGLE_BYTES

TEXT = b"the quick brown fox jumps over the lazy dog; the quick brown fox."
RANDOM = random.Random(7).randbytes(64)

# spec -> longest sample used. xz (liblzma sets up its match finder per call, 1-5 ms)
# and brotli at quality 11 (~0.6 ms) cost 256 compressions per byte, so they get short
# inputs; faster variants of the same codecs cover longer ones.
ROUND_TRIP = {
    "gzip": 40, "zlib": 40, "deflate": 40, "zstd": 40, "bz2": 40, "ppmd": 40,
    "brotli": 3, "brotli:level=5:lgwin=16": 40, "xz": 1, "xz:level=0": 2,
    "gzip:level=1:window=8:temperature=0.5": 40,
}


def samples(n: int) -> dict[str, bytes]:
    """empty, 1-byte, text, random binary and all-same-byte inputs of up to n bytes (distinct only)."""
    out: dict[str, bytes] = {}
    for name, data in {"empty": b"", "one": b"A", "text": TEXT[:n], "random": RANDOM[:n], "same": b"\x00" * n}.items():
        if data not in out.values():
            out[name] = data
    return out


def zlib9(data: bytes) -> bytes:
    return zlib.compress(data, 9)


def callable_model():
    return compgen.as_model(zlib9, name="zlib9", decompress=zlib.decompress)


def literal_probs(model, context: bytes) -> np.ndarray:
    """The definition, written independently of the library: 2^(-8 len(C(ctx+b)) / T)."""
    ctx = context[-model.window:] if model.window else b""
    sizes = np.array([len(model.compress(ctx + bytes([b]))) for b in range(256)], dtype=np.float64)
    w = np.exp2(-8.0 * (sizes - sizes.min()) / model.temperature)
    return w / w.sum()


@pytest.mark.parametrize("spec", sorted(ROUND_TRIP))
def test_round_trip_every_codec(spec):
    model = compgen.load(spec)
    comp = compgen.as_compressor(model)
    for name, data in samples(ROUND_TRIP[spec]).items():
        blob = comp.compress(data)
        assert comp.decompress(blob) == data, (spec, name)
        stats = comp.last_stats
        assert stats["input_bytes"] == len(data)
        assert stats["payload_bits"] <= stats["ideal_bits"] * (1 + 1e-4) + 64, (spec, name, stats)
    # the file names its model: compgen.decompress rebuilds it from the header alone
    assert compgen.decompress(blob) == data


def test_round_trip_callable():
    model = callable_model()
    comp = compgen.as_compressor(model)
    for name, data in samples(40).items():
        assert comp.decompress(comp.compress(data)) == data, name
    assert model.decompress(model.compress(TEXT)) == TEXT


def test_native_codecs_invert():
    for spec in ["gzip", "zlib", "deflate", "zstd", "brotli", "xz", "bz2"]:
        m = compgen.load(spec)
        for data in (b"", TEXT, RANDOM):
            assert m.decompress(m.compress(data)) == data, spec
    for spec in ["ppmd", "ppmd:variant=I:order=4"]:  # raw PPMd streams need the length (as in 7-Zip)
        m = compgen.load(spec)
        for data in (b"", TEXT, RANDOM):
            assert m.decompress(m.compress(data), len(data)) == data, spec


# ------------------------------------------------------------ distributions
@pytest.mark.parametrize("spec", ["gzip", "zlib", "deflate", "zstd", "brotli", "xz:level=0", "bz2", "ppmd"])
def test_distribution_equals_naive(spec):
    model = compgen.load(spec)
    ctx = TEXT * 2
    p = model.next_byte_probs(ctx)
    assert p.dtype == np.float64 and p.shape == (256,)
    assert np.array_equal(p, model.naive_next_byte_probs(ctx))
    np.testing.assert_allclose(p, literal_probs(model, ctx), rtol=1e-12, atol=0)
    assert abs(p.sum() - 1.0) < 1e-12 and np.all(p > 0)


def test_distribution_callable_equals_naive():
    model = callable_model()
    p = model.next_byte_probs(TEXT)
    assert np.array_equal(p, model.naive_next_byte_probs(TEXT))
    np.testing.assert_allclose(p, literal_probs(model, TEXT), rtol=1e-12, atol=0)


@pytest.mark.parametrize("spec", ["gzip:window=16", "zstd:window=16", "bz2:window=16", "ppmd:window=16",
                                  "brotli:level=5:window=16", "gzip:window=0"])
def test_distribution_beyond_window(spec):
    """Only the last `window` bytes count: equal to the literal definition on the clipped context."""
    model = compgen.load(spec)
    long_ctx, other_prefix = RANDOM + TEXT, b"zzzz" + TEXT
    p = model.next_byte_probs(long_ctx)
    assert np.array_equal(p, model.naive_next_byte_probs(long_ctx))
    np.testing.assert_allclose(p, literal_probs(model, long_ctx), rtol=1e-12, atol=0)
    # a different prefix outside the window cannot change the prediction
    assert np.array_equal(p, model.next_byte_probs(other_prefix))


def test_gzip_full_window_context():
    """At (and past) deflate's own 32 KB window the copy route still equals recompression."""
    model = compgen.load("gzip")
    ctx = (TEXT + RANDOM) * 400  # 51 KB: clipped to the last 32768 bytes
    assert len(ctx) > model.window == 32768
    fast = model.joint_sizes(SINGLE_BYTES, model.clip_context(ctx))
    naive = model.naive_joint_sizes(SINGLE_BYTES, ctx)
    assert np.array_equal(fast, naive)
    assert np.array_equal(model.next_byte_probs(ctx), model.naive_next_byte_probs(ctx))


@pytest.mark.parametrize("n", [32767, 32768])
def test_gzip_at_the_window_boundary(n):
    """ctx + b exactly fills (or just overflows) deflate's window: still identical."""
    from compgen.data.corpus import default_corpus

    model = compgen.load("gzip")
    ctx = default_corpus()[50_000: 50_000 + n]
    assert np.array_equal(model.joint_sizes(SINGLE_BYTES, model.clip_context(ctx)),
                          model.naive_joint_sizes(SINGLE_BYTES, ctx))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ctx=st.binary(max_size=300) | st.text("ab c\n", max_size=300).map(str.encode),
       codec=st.sampled_from(["gzip", "zlib", "deflate"]),
       level=st.integers(0, 9),
       window=st.sampled_from([None, 1, 7, 64, 4096]),
       temperature=st.sampled_from([1.0, 0.5, 3.0]),
       copy_min=st.sampled_from([0, 1024]))
def test_deflate_copy_route_equals_naive(ctx, codec, level, window, temperature, copy_min):
    """Both exact routes (state copy, and recompression for short contexts) equal the naive one."""
    model = compgen.load(codec, level=level, window=window, temperature=temperature)
    saved, deflate.COPY_MIN_CONTEXT = deflate.COPY_MIN_CONTEXT, copy_min
    try:
        p = model.next_byte_probs(ctx)
    finally:
        deflate.COPY_MIN_CONTEXT = saved
    assert np.array_equal(p, model.naive_next_byte_probs(ctx))
    assert abs(p.sum() - 1.0) < 1e-12


@settings(max_examples=25, deadline=None)
@given(ctx=st.binary(max_size=200), cands=st.lists(st.binary(max_size=40), min_size=1, max_size=12))
def test_deflate_multibyte_candidates_equal_naive(ctx, cands):
    model = compgen.load("gzip", threads=2)
    clipped = model.clip_context(ctx)
    naive = model.naive_joint_sizes(cands, ctx)
    assert np.array_equal(model.joint_sizes(cands, clipped), naive)
    saved, deflate.COPY_MIN_CONTEXT = deflate.COPY_MIN_CONTEXT, 0
    try:
        assert np.array_equal(model.joint_sizes(cands, clipped), naive)
    finally:
        deflate.COPY_MIN_CONTEXT = saved


@pytest.mark.parametrize("delta", [-1, 0, 3000])
def test_deflate_routes_agree_around_the_switch(delta):
    model = compgen.load("zlib")
    n = deflate.COPY_MIN_CONTEXT + delta
    ctx = ((TEXT + RANDOM) * (n // len(TEXT + RANDOM) + 1))[:n]
    assert np.array_equal(model.next_byte_probs(ctx), model.naive_next_byte_probs(ctx))


@pytest.mark.parametrize("spec", ["gzip", "zstd", "brotli:level=5", "bz2", "ppmd", "xz:level=0"])
def test_code_length_is_conditional_compressed_size(spec):
    model = compgen.load(spec)
    ctx, data = TEXT, b" and then some more"
    expected = 8 * (len(model.compress(ctx + data)) - len(model.compress(ctx)))
    assert model.code_length(data, context=ctx) == expected
    assert list(model.code_lengths([data, b""], ctx)) == [expected, 0.0]


def test_threads_do_not_change_results():
    one = compgen.load("gzip", threads=1).next_byte_probs(TEXT)
    two = compgen.load("gzip", threads=2).next_byte_probs(TEXT)
    assert np.array_equal(one, two)


def test_temperature_sharpens():
    cold = compgen.load("gzip:temperature=0.25").next_byte_probs(TEXT * 3)
    warm = compgen.load("gzip:temperature=4").next_byte_probs(TEXT * 3)
    entropy = lambda p: -(p * np.log2(p)).sum()  # noqa: E731
    assert entropy(cold) < entropy(warm)
    assert cold.argmax() == warm.argmax()


def test_zstd_prefix_sizes_are_real_compressions():
    import zstandard

    model = compgen.load("zstd")
    cands = [b" quick brown", b"xyzzy plugh"]
    sizes = model.prefix_sizes(cands, TEXT)
    d = zstandard.ZstdCompressionDict(TEXT, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    for c, s in zip(cands, sizes):
        blob = zstandard.ZstdCompressor(level=19, dict_data=d, write_checksum=False, write_content_size=False,
                                        write_dict_id=False).compress(c)
        assert s == len(blob)
    assert sizes[0] < sizes[1]  # the continuation seen in the context is cheaper
