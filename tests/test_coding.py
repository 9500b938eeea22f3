"""The range coder: exact round trips, code length within 0.01% + 64 bits of the ideal,
identical codes from the single-symbol and batch APIs, invalid input refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from compgen.coding.range_coder import SymbolDecoder, SymbolEncoder, coder_probs
from compgen.errors import RefusedError


def random_stream(n: int, seed: int, concentration: float = 0.3):
    """n 256-way distributions and symbols drawn from them."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(256, concentration), size=n)
    cdf = probs.cumsum(axis=1)
    symbols = (cdf < rng.random(n)[:, None] * cdf[:, -1:]).sum(axis=1).clip(0, 255)
    return symbols.astype(np.int32), probs


def ideal_bits(symbols, probs) -> float:
    rows = probs[np.arange(len(symbols)), symbols] / probs.sum(axis=1)
    return float(-np.log2(rows).sum())


def test_code_length_bound_1e5_symbols():
    symbols, probs = random_stream(100_000, seed=1)
    enc = SymbolEncoder()
    enc.encode_batch(symbols, probs)
    payload = enc.finish()
    ideal = ideal_bits(symbols, probs)
    assert enc.ideal_bits == pytest.approx(ideal, rel=1e-12)
    assert 8 * len(payload) <= ideal * (1 + 1e-4) + 64, (8 * len(payload), ideal)
    assert np.array_equal(SymbolDecoder(payload).decode_batch(probs), symbols)


def test_single_and_batch_apis_give_the_same_code():
    symbols, probs = random_stream(20_000, seed=2, concentration=1.0)
    one = SymbolEncoder()
    for s, p in zip(symbols, probs):
        one.encode(int(s), p)
    batch = SymbolEncoder()
    batch.encode_batch(symbols, probs)
    assert one.finish() == batch.finish()
    assert one.ideal_bits == pytest.approx(batch.ideal_bits, rel=1e-9)
    assert one.count == batch.count == len(symbols)
    dec = SymbolDecoder(one.finish())
    assert [dec.decode(p) for p in probs] == symbols.tolist()
    assert dec.maybe_exhausted()


def test_unnormalised_and_zero_probabilities():
    """Rows need not sum to 1, and a zero-probability symbol is still codable (never lost)."""
    rng = np.random.default_rng(3)
    probs = rng.random((500, 256)) * 7.0
    probs[:, 0] = 0.0
    symbols = rng.integers(0, 256, 500).astype(np.int32)
    symbols[::10] = 0
    enc = SymbolEncoder()
    for s, p in zip(symbols, probs):
        enc.encode(int(s), p)
    dec = SymbolDecoder(enc.finish())
    assert [dec.decode(p) for p in probs] == symbols.tolist()


def test_float32_and_strided_inputs_decode_like_float64():
    symbols, probs = random_stream(300, seed=4)
    enc = SymbolEncoder()
    for s, p in zip(symbols, probs):
        enc.encode(int(s), p)
    payload = enc.finish()
    wide = np.zeros((300, 512))
    wide[:, ::2] = probs
    dec = SymbolDecoder(payload)
    assert [dec.decode(row[::2]) for row in wide] == symbols.tolist()  # non-contiguous views
    dec = SymbolDecoder(payload)
    assert [dec.decode(list(p)) for p in probs] == symbols.tolist()  # plain lists


@pytest.mark.parametrize("probs", [np.full(256, np.nan), np.zeros(256), np.r_[-0.5, np.ones(255)],
                                   np.r_[np.inf, np.ones(255)]])
def test_invalid_distributions_refused(probs):
    enc = SymbolEncoder()
    with pytest.raises(ValueError) as err:
        enc.encode(1, probs)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError):
        coder_probs(probs)
    with pytest.raises(ValueError):
        enc.encode_batch(np.array([1]), probs[None, :])


@pytest.mark.parametrize("symbol", [-1, 256, 1000])
def test_symbol_outside_alphabet_refused(symbol):
    with pytest.raises(ValueError):
        SymbolEncoder().encode(symbol, np.ones(256))


def test_ragged_payload_refused():
    with pytest.raises(RefusedError):
        SymbolDecoder(b"\x00\x01\x02")


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(0, 60), size=st.integers(2, 300))
def test_round_trip_any_distributions(data, n, size):
    probs = data.draw(hnp.arrays(np.float64, (n, size), elements=st.floats(0, 1e6, allow_subnormal=False)))
    probs[:, 0] += 1e-3  # at least one positive entry per row
    symbols = np.array(data.draw(st.lists(st.integers(0, size - 1), min_size=n, max_size=n)), dtype=np.int32)
    enc = SymbolEncoder()
    for s, p in zip(symbols, probs):
        enc.encode(int(s), p)
    payload = enc.finish()
    dec = SymbolDecoder(payload)
    assert [dec.decode(p) for p in probs] == symbols.tolist()
    assert dec.maybe_exhausted()
    batch = SymbolEncoder()
    batch.encode_batch(symbols, probs)
    assert batch.finish() == payload


def test_garbage_payload_never_crashes():
    """Random words decode to some symbols or a RefusedError; the container's CRC does the rest."""
    rng = np.random.default_rng(5)
    _, probs = random_stream(200, seed=6)
    for _ in range(20):
        dec = SymbolDecoder(rng.integers(0, 2**32, 8, dtype=np.uint64).astype("<u4").tobytes())
        try:
            out = [dec.decode(p) for p in probs]
        except RefusedError:
            continue
        assert all(0 <= s < 256 for s in out)
