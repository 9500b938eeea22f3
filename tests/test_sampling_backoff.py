"""Back-off proposals (issue 13): the longest matching context decides which continuations
compete; the whole prime as the proposal pool, bounded; the fast suffix array."""

from __future__ import annotations

import numpy as np
import pytest

import compgen
from compgen.cli import main
from compgen.data import default_corpus
from compgen.sampling import SpanProposer, generate, suffix_array
from compgen.sampling import loop, proposals


@pytest.fixture(scope="module")
def prime():
    return default_corpus()[:20000]


def test_fast_suffix_array_equals_prefix_doubling(monkeypatch):
    data = bytes(np.random.default_rng(1).integers(97, 101, 2000, dtype=np.uint8))
    fast = suffix_array(data, depth=12)
    monkeypatch.setattr(proposals, "FAST_SORT_BYTES", 0)
    assert (fast == suffix_array(data, depth=12)).all()
    # a NUL byte in the data takes the doubling path, which still sorts (end of data first)
    nul = data[:500] + b"\0" + data[500:]
    monkeypatch.setattr(proposals, "FAST_SORT_BYTES", 1 << 28)
    sa = suffix_array(nul, depth=6)
    assert [nul[i:i + 6] for i in sa] == sorted(nul[i:i + 6] for i in sa)


def test_levels_are_longest_first_and_continue_the_suffix(prime):
    p = SpanProposer(prime, span=10, candidates=16, ladder=(12, 6, 3, 1))
    recent = prime[5000:5040]
    seen = []
    for k, found in p.levels(recent, np.random.default_rng(0), 16):
        seen.append(k)
        for c in found:
            assert len(c) == 10 and recent[-k:] + c in prime
    assert seen == sorted(seen, reverse=True) and seen[0] == 12  # the 12-byte suffix occurs (at 5028)


def test_backoff_one_follows_the_longest_context():
    # "zebra crossing" occurs once after "the quick "; shorter contexts offer many other words
    filler = b" ".join(b"the %s ran." % w for w in (b"dog", b"cat", b"fox", b"owl", b"elk", b"bee") * 40)
    prime = filler + b" the quick zebra crossing at night. " + filler
    gz = compgen.load("gzip")
    for seed in range(3):
        r = generate(gz, b"so the quick ", prime, 6, seed=seed, backoff=1, commit=1, max_copy=0)
        assert r.text.startswith(b"zebra"), r.text
        assert r.settings["backoff"] == 1 and r.stats["backoff_levels"][0] >= len(b"the quick ")


def test_defaults_keep_the_copy_guard(prime):
    gz = compgen.load("gzip")
    r = generate(gz, b"The ", prime, 200, seed=2)
    s = r.settings
    assert (s["backoff"], s["pool"], s["commit"], s["span"]) == (4, "prime", 2, 32)
    assert len(r.text) == 200
    assert not any(r.text[i:i + 32] in prime for i in range(len(r.text) - 31))
    # the back-off chose from long contexts at least once (the point of it)
    assert max(r.stats["backoff_levels"]) >= 8
    # a non-compressor keeps byte mode and no back-off
    assert loop.default_settings(compgen.load("gzip"))["backoff"] == 4


def test_proposal_pool_is_bounded_around_the_window(monkeypatch):
    monkeypatch.setattr(loop, "POOL_LIMIT", 1000)
    prime = bytes(range(65, 91)) * 400  # 10,400 bytes
    fixed = prime[6000:6400]
    pool = loop.proposal_pool(prime, fixed, "prime")
    assert len(pool) == 1000 and fixed in pool
    assert loop.proposal_pool(prime, fixed, "window") == fixed
    assert loop.proposal_pool(prime[:800], fixed, "prime") == prime[:800]


def test_bad_backoff_settings(prime, capfd):
    gz = compgen.load("gzip")
    with pytest.raises(compgen.errors.UsageError):
        generate(gz, b"The ", prime, 10, backoff=-1)
    with pytest.raises(compgen.errors.UsageError):
        generate(gz, b"The ", prime, 10, ladder=(4, 0))
    assert main(["sample", "--backoff", "-2", "-n", "5"]) == 2
    assert capfd.readouterr().err.count("\n") == 1


def test_every_quality_benchmark_row_runs(prime):
    """Each row of ``benchmarks/sampling.py --quality`` is a valid generate() call that
    applies the options it names (a row that silently ran the defaults would mislabel a figure)."""
    from conftest import load_benchmark

    bench = load_benchmark("sampling")
    rows = {**bench.QUALITY_BEFORE, **bench.QUALITY_ROUND1, **bench.QUALITY_ABLATIONS}
    assert "gzip round 1" in rows and "gzip uniform scores" in rows
    small = prime[:6000]
    for label, row in rows.items():
        if row["model"] not in ("gzip", "zstd"):
            continue  # same options on the slower codecs; gzip and zstd cover every option used
        opts = dict(row["options"])
        sampler = opts.pop("sampler", None)
        model = compgen.load(row["model"])
        if opts.get("scorer") == "uniform":
            opts["scorer"] = bench.UniformScorer(model)
        r = generate(model, b"The ", small, 12, sampler, seed=0, **opts)
        assert len(r.text) == 12, label
        for key in ("backoff", "pool", "commit", "span", "window_from", "max_copy", "lookahead", "candidates"):
            if key in opts:
                assert r.settings[key] == opts[key], (label, key)
