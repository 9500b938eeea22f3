"""A bounded slice of the fuzz campaign (benchmarks/fuzz.py runs the long one): mutated
containers of every coder decode to the exact input or are refused with one line."""

from __future__ import annotations

import importlib.util
import random

import pytest
from conftest import load_benchmark
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

fuzz = load_benchmark("fuzz")
container = fuzz.container


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    lm_dir = None
    if importlib.util.find_spec("torch") and importlib.util.find_spec("transformers"):
        lm_dir = str(tmp_path_factory.mktemp("tiny-lm"))
    items = fuzz.build_corpus(lm_dir, long_lm=False)  # the 3 KB LM file is for the long campaign
    assert {"codec-mix gzip", "codec-mix zstd", "byte-range-v3", "stored"} <= {it["coder"] for it in items}
    if lm_dir:
        assert {"lm", "lm-tok", "lm-head", "7bit"} <= {it["coder"] for it in items}
        heads = {container.read_header(it["blob"]).coder["lm"]["head"] if it["coder"] == "7bit" else
                 container.read_header(it["blob"]).coder["head"] for it in items if it["coder"].startswith(("lm", "7"))}
        assert 0 in heads and len(heads - {0}) >= 2  # files without the adaptive head and with two lrs
    return items


@settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, 10 ** 6), seed=st.integers(0, 2 ** 32 - 1))
def test_mutants_decode_exactly_or_are_refused(corpus, index, seed):
    item = corpus[index % len(corpus)]
    kind, mutant = fuzz.mutate(item["blob"], random.Random(seed))
    outcome, secs, detail = fuzz.classify(item, mutant)
    assert outcome in ("exact", "refused"), (item["coder"], kind, outcome, detail, mutant.hex())
    if outcome == "exact":
        assert mutant == item["blob"] or kind.endswith("resealed")


def test_mutants_through_the_cli_exit_3_with_one_line(corpus):
    result = fuzz.cli_check(corpus, 6, seed=11)
    assert result["run"] == 6 and result["bad"] == [], result["bad"]
    assert set(result["exit_codes"]) <= {0, 3}
