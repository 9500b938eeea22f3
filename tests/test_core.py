"""The Model protocol, the registry and the Python API exactly as the README shows it."""

from __future__ import annotations

import pickle
import zlib

import numpy as np
import pytest

import compgen
from compgen.errors import MissingDependencyError, UsageError
from compgen.model import Model, probs_from_bits
from compgen.registry import entries, load, parse_spec, parse_value, split_specs


class Order0(Model):
    """A non-compressor Model (adaptive byte counts) to show as_compressor takes any Model."""

    name = "order0"

    @property
    def spec(self):
        return "order0"

    def fingerprint_data(self):
        return {"kind": "order0"}

    def next_byte_probs(self, context):
        counts = np.bincount(np.frombuffer(bytes(context), dtype=np.uint8), minlength=256) + 0.5
        return counts / counts.sum()


def test_readme_python_api():
    gz = compgen.load("gzip:level=9")
    p = gz.next_byte_probs(b"The quick brown f")
    assert isinstance(p, np.ndarray) and p.dtype == np.float64 and p.shape == (256,)
    assert abs(p.sum() - 1) < 1e-12
    bits = gz.code_length(b"some data", context=b"earlier data")
    assert bits == 8 * (len(zlib.compress(b"earlier datasome data", 9)) - len(zlib.compress(b"earlier data", 9)))
    comp = compgen.as_compressor(gz)
    data = b"The quick brown fox jumps over the lazy dog"
    blob = comp.compress(data)
    assert comp.decompress(blob) == data
    m = compgen.as_model(lambda d: zlib.compress(d, 6), name="mine")
    assert m.spec == "callable:mine"
    assert compgen.as_compressor(m).decompress(compgen.as_compressor(m).compress(b"xyz")) == b"xyz"


def test_any_model_round_trips_and_pays_its_predictive_length():
    model = Order0()
    comp = compgen.as_compressor(model)
    data = b"mississippi river, mississippi delta"
    blob = comp.compress(data)
    assert comp.decompress(blob) == data
    ideal = model.predictive_code_length(data)
    from compgen.coding.byte_coder import FLOOR
    # the coder floors each probability at 2^-16: it pays at most -log2(1 - 256 FLOOR) bits more per byte
    floor_cost = len(data) * -np.log2(1 - 256 * FLOOR)
    assert ideal - 1e-9 <= comp.last_stats["ideal_bits"] <= ideal + floor_cost
    assert comp.last_stats["payload_bits"] <= ideal * (1 + 1e-4) + floor_cost + 64
    assert model.code_length(data) == pytest.approx(ideal)  # the generic definition


def test_codec_model_distribution_kept_and_coder_pays_its_ideal():
    from compgen.coding.byte_coder import ByteRangeCoder

    gz = compgen.load("gzip:window=64")
    data = b"to be or not to be, to be or not to be"
    # the Model's own distribution (the paper's) still codes exactly through the generic coder
    payload, _, raw_bits = ByteRangeCoder(gz).encode(data)
    assert ByteRangeCoder(gz).decode(payload, len(data), {"coder": "byte-range-v2"}) == data
    assert raw_bits >= gz.predictive_code_length(data) - 1e-6
    # the compressor side (codec-mix) is a different, better code, and pays its ideal
    comp = compgen.as_compressor(gz, store=False)
    blob = comp.compress(data)
    assert comp.decompress(blob) == data
    ideal = comp.last_stats["ideal_bits"]
    assert ideal < gz.predictive_code_length(data)
    assert comp.last_stats["payload_bits"] <= ideal * (1 + 1e-4) + 64


@pytest.mark.parametrize("spec", ["gzip", "zlib:level=3", "deflate:window=100", "zstd:level=3", "brotli:lgwin=16",
                                  "xz:level=2:extreme=1", "bz2:level=1", "ppmd:order=4:mem=1M",
                                  "gzip:temperature=0.5", "lzma", "bzip2"])
def test_spec_round_trip_and_fingerprint_stable(spec):
    m = load(spec)
    again = load(m.spec)
    assert again.spec == m.spec
    assert again.fingerprint() == m.fingerprint()
    assert isinstance(m.fingerprint(), str) and len(m.fingerprint()) >= 16


def test_fingerprint_changes_with_everything_that_changes_predictions():
    prints = {load(s).fingerprint() for s in
              ["gzip", "gzip:level=6", "zlib", "deflate", "gzip:window=100", "gzip:temperature=2", "zstd",
               "zstd:level=3", "brotli", "brotli:lgwin=16", "xz", "xz:extreme=1", "bz2", "ppmd",
               "ppmd:order=8", "ppmd:variant=I"]}
    assert len(prints) == 16
    # a callable's fingerprint follows its behaviour
    a = compgen.as_model(lambda d: zlib.compress(d, 9), name="f")
    b = compgen.as_model(lambda d: zlib.compress(d, 1), name="f")
    assert a.fingerprint() != b.fingerprint()


def test_fingerprint_includes_library_versions():
    data = load("zstd").fingerprint_data()
    assert "zstandard" in data["library"]
    assert "zlib" in load("gzip").fingerprint_data()["library"]


def test_default_windows_are_the_codecs_own():
    assert load("gzip").window == 32768
    assert load("bz2:level=3").window == 300_000
    assert load("xz:level=0").window == 1 << 18
    assert load("zstd:level=19").window == 1 << 23
    assert load("gzip:window=0").next_byte_probs(b"anything") == pytest.approx(
        load("gzip:window=0").next_byte_probs(b""))


def test_as_model_forms():
    gz = load("gzip")
    assert compgen.as_model(gz) is gz
    assert compgen.as_model("zstd:level=3").spec == "zstd:level=3"
    with pytest.raises(TypeError):
        compgen.as_model(42)
    assert compgen.as_compressor("gzip:level=1").model.spec == "gzip:level=1"


def test_probs_from_bits():
    p = probs_from_bits(np.array([8.0, 16.0, 8.0]))
    assert p.tolist() == pytest.approx([256 / 513, 1 / 513, 256 / 513])
    assert probs_from_bits(np.array([1e6, 1e6 + 8])).sum() == pytest.approx(1.0)  # no underflow
    with pytest.raises(ValueError):
        probs_from_bits(np.zeros(3), temperature=0)


def test_registry_parsing():
    assert parse_value("9") == 9 and parse_value("0.5") == 0.5 and parse_value("16M") == 16 << 20
    assert parse_value("1k") == 1024 and parse_value("H") == "H"
    assert split_specs("gzip, zstd:level=19,,ppmd") == ["gzip", "zstd:level=19", "ppmd"]
    entry, kwargs = parse_spec("ppmd:order=8:window=8192")
    assert entry.name == "ppmd" and kwargs == {"order": 8, "window": 8192}
    entry, kwargs = parse_spec("hf:./some/dir:threads=2")
    assert entry.name == "hf" and kwargs == {"path": "./some/dir", "threads": 2}
    assert load("gzip:level=9", level=1).level == 1  # overrides win
    names = {e.name for e in entries()}
    assert {"gzip", "zlib", "deflate", "zstd", "brotli", "xz", "bz2", "ppmd", "smollm2", "hf"} <= names


@pytest.mark.parametrize("spec, words", [("nosuch", "unknown model"), ("", "empty"), ("gzip:9", "KEY=VALUE"),
                                         ("gzip:level=10", "level"), ("gzip:bogus=1", "bad parameters"),
                                         ("hf", "needs a path"), ("gzip:level", "KEY=VALUE"),
                                         ("gzip:window=-1", "window"), ("gzip:temperature=0", "temperature")])
def test_bad_specs_are_usage_errors(spec, words):
    with pytest.raises(UsageError) as err:
        load(spec)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_missing_dependency_is_reported(monkeypatch):
    from compgen import registry

    monkeypatch.setitem(registry.REGISTRY, "ghost", registry.Entry("ghost", "no_such_module:X", "test", ("ghostlib",)))
    with pytest.raises(MissingDependencyError) as err:
        load("ghost")
    assert "ghostlib" in str(err.value)


def test_models_pickle_without_their_pool():
    gz = load("gzip", threads=2)
    gz.next_byte_probs(b"x" * 50)
    clone = pickle.loads(pickle.dumps(gz))
    assert np.array_equal(clone.next_byte_probs(b"hello"), gz.next_byte_probs(b"hello"))
