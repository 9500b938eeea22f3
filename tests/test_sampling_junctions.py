"""Junction planning in span mode (issue 13, round 4): a copied run ends at the word
boundary whose tail re-joins the corpus after the longest context."""

from __future__ import annotations

import numpy as np
import pytest

import compgen
from compgen.cli import main
from compgen.compressors.spans import scorer_for
from compgen.data import default_corpus
from compgen.sampling import generate
from compgen.sampling.guard import CopyGuard
from compgen.sampling.junctions import PIVOT_ENOUGH, cut_points, plan_cut
from compgen.sampling.modes import SampleSetup
from compgen.sampling.span_mode import SpanMode


@pytest.fixture(scope="module")
def prime():
    return default_corpus()[:20000]


def test_cut_points_are_word_starts_inside_the_span():
    assert cut_points(b"the cat, sat on") == [4, 9, 13]  # "on" may be cut short: no boundary after it
    assert cut_points(b"word") == [] and cut_points(b"") == []


def test_plan_is_default_for_codecs_and_keeps_the_guard(prime):
    gz = compgen.load("gzip")
    r = generate(gz, b"The ", prime, 200, seed=3)
    assert r.settings["plan"] == "overlap" and r.stats["planned_cuts"] > 0
    assert len(r.text) == 200
    assert not any(r.text[i:i + 32] in prime for i in range(len(r.text) - 31))
    assert generate(gz, b"The ", prime, 200, seed=3).text == r.text  # same seed, same bytes
    off = generate(gz, b"The ", prime, 200, seed=3, plan="off")
    assert "planned_cuts" not in off.stats and off.text != r.text


def _mode(prime):
    gz = compgen.load("gzip")
    scorer = scorer_for(gz)
    fixed = prime[:8000]
    scorer.prepare(fixed)
    setup = SampleSetup(gz, scorer, prime, fixed, 8064, 64, 32, 100000, "prime",  # every occurrence: no random picks
                        options={"commit": 2, "backoff": 4, "ladder": (16, 12, 10, 8, 6, 5, 4, 3, 2, 1),
                                 "plan": "overlap", "pool_text": prime})
    return SpanMode(setup)


def test_cut_is_the_latest_boundary_with_the_best_pivot(prime):
    """Brute force: among the boundaries the guard allows, the planner's cut has the highest
    back-off level (capped at PIVOT_ENOUGH) with the run's own continuation excluded, and is
    the latest such; the next step then does not continue the run."""
    mode = _mode(prime)
    guard = CopyGuard(prime, 32, 16)
    at = prime.index(b" of the ", 10000) + len(b" of the ")
    text = b"Zq Xv. " + prime[at - 12:at]  # a 12-byte run of the prime: the guard ends it within 20 bytes
    span = prime[at:at + 32]
    recent = text[-64:]
    stats = {}
    piece, left = plan_cut(mode, text, recent, span, b"", np.random.default_rng(0), guard, stats)
    assert stats["planned_cuts"] == 1 and span.startswith(piece) and len(piece) in cut_points(span)
    allowed = [c for c in cut_points(span) if guard.ok(text, span[:c])]
    assert allowed and len(allowed) < len(cut_points(span))  # the guard does end this run inside the span
    levels = {}
    for c in allowed:
        found, _, _, level = mode.backoff_candidates(text + span[:c], (recent + span[:c])[-64:],
                                                     np.random.default_rng(1), guard, exclude=span[c:c + 12])
        if found:
            levels[c] = min(level, PIVOT_ENOUGH)
    best = max(levels.values())
    assert len(piece) == max(c for c, v in levels.items() if v == best)
    nxt, _, _, _ = mode.backoff_candidates(text + piece, (recent + piece)[-64:], np.random.default_rng(1), guard,
                                           exclude=left)
    assert left == span[len(piece):len(piece) + 12]
    assert not any(s.startswith(span[len(piece):len(piece) + 12]) for s in nxt)


def test_no_junction_ahead_commits_the_unit(prime):
    mode = _mode(prime)
    guard = CopyGuard(prime, 32, 16)
    span = b"zq xv wk yj qz vx kw jy zq xv wk"  # not in the prime: the guard lets all of it through
    piece, left = plan_cut(mode, b"The ", b"The ", span, b"zq xv ", np.random.default_rng(0), guard, {})
    assert (piece, left) == (b"zq xv ", b"")


def test_bad_plan(prime, capfd):
    with pytest.raises(compgen.errors.UsageError):
        generate(compgen.load("gzip"), b"The ", prime, 10, plan="clause")
    with pytest.raises(SystemExit) as e:  # argparse refuses an unknown choice
        main(["sample", "--plan", "nope", "-n", "5"])
    assert e.value.code == 2 and "--plan" in capfd.readouterr().err
