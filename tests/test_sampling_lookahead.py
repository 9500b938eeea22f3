"""Two-step look-ahead in span mode (issue 13): the cheapest words are re-scored with what
the next step could really add after them, not with the rest of their own span."""

from __future__ import annotations

import numpy as np
import pytest

import compgen
from compgen.cli import main
from compgen.data import default_corpus
from compgen.sampling import generate
from compgen.sampling.guard import CopyGuard
from compgen.sampling.modes import SampleSetup
from compgen.sampling.span_mode import SpanMode
from compgen.compressors.spans import scorer_for


@pytest.fixture(scope="module")
def prime():
    return default_corpus()[:20000]


def test_lookahead_is_recorded_and_keeps_the_guard(prime):
    gz = compgen.load("gzip")
    r = generate(gz, b"The ", prime, 200, seed=3, lookahead=4)
    assert r.settings["lookahead"] == 4 and r.stats["lookahead_steps"] > 0
    assert len(r.text) == 200
    assert not any(r.text[i:i + 32] in prime for i in range(len(r.text) - 31))
    assert generate(gz, b"The ", prime, 200, seed=3, lookahead=4).text == r.text  # same seed, same bytes
    off = generate(gz, b"The ", prime, 200, seed=3, lookahead=0)
    assert "lookahead_steps" not in off.stats and off.settings["lookahead"] == 0


def test_lookahead_scores_the_unit_with_the_best_next_step(prime):
    """Each re-scored unit's figure is the codec's cheapest span-long continuation that starts
    with that unit and goes on with a next-step candidate; the units are first-step ones."""
    gz = compgen.load("gzip")
    scorer = scorer_for(gz)
    fixed = prime[:8000]
    scorer.prepare(fixed)
    setup = SampleSetup(gz, scorer, prime, fixed, 8064, 64, 32, 100000, "prime",  # every occurrence: no random picks
                        options={"commit": 2, "backoff": 4, "ladder": (16, 8, 4, 2, 1), "lookahead": 3,
                                 "pool_text": prime})
    mode = SpanMode(setup)
    guard = CopyGuard(prime, 32, 16)
    at = prime.index(b" of the ", 10000) + len(b" of the ")
    text = prime[at - 50:at]  # a common context: many continuations compete
    recent = text[-64:]
    spans, units, _, _ = mode.backoff_candidates(text, recent, np.random.default_rng(0), guard)
    bits = scorer.bits(recent, spans)
    _, picked, joint = mode.look_ahead(text, recent, spans, units, bits, np.random.default_rng(1), guard, {})
    assert 2 <= len(picked) <= 3 and len(set(picked)) == len(picked) and set(picked) <= set(units)
    for u, j in zip(picked, joint):
        nxt, _, _, _ = mode.backoff_candidates(text + u, (recent + u)[-64:], np.random.default_rng(1), guard)
        assert j == pytest.approx(min(scorer.bits(recent, [(u + s)[:32] for s in nxt])))


def test_bad_lookahead(prime, capfd):
    with pytest.raises(compgen.errors.UsageError):
        generate(compgen.load("gzip"), b"The ", prime, 10, lookahead=-1)
    assert main(["sample", "--lookahead", "-1", "-n", "5"]) == 2
    assert capfd.readouterr().err.count("\n") == 1
