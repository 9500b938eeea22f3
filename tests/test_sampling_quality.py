"""Sample quality figures, the --quality plumbing (a tiny byte LM stands in for SmolLM2),
window choice and phrase commits."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

import compgen
from compgen.cli import main
from compgen.data import default_corpus
from compgen.sampling import generate
from compgen.sampling.quality import Fluency, copied_share, text_quality
from compgen.sampling.loop import WINDOW_PROPOSALS
from compgen.sampling.window import best_block

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def prime():
    return default_corpus()[:12000]


@pytest.fixture(scope="module")
def byte_lm_dir(tmp_path_factory):
    from transformers import GPT2Config, GPT2LMHeadModel

    path = tmp_path_factory.mktemp("ref") / "byte"
    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=257, n_positions=512, bos_token_id=256,
                     eos_token_id=256)
    GPT2LMHeadModel(cfg).save_pretrained(path)
    with open(path / "compgen.json", "w") as f:
        json.dump({"kind": "byte-lm", "bos_id": 256, "context": 512, "params": 0, "train": {}}, f)
    return str(path)


def test_copied_share_follows_the_greedy_definition():
    rng = np.random.default_rng(0)
    corpus = bytes(rng.integers(97, 123, 3000, dtype=np.uint8))
    fresh = bytes(rng.integers(48, 58, 60, dtype=np.uint8))  # digits: never in the corpus
    sample = fresh[:30] + corpus[100:140] + fresh[30:]  # 40 copied bytes of 100
    assert copied_share(corpus, sample) == pytest.approx(0.4)
    assert copied_share(corpus, sample[:30] + corpus[100:131] + fresh[30:]) == 0  # 31 bytes: below the run
    assert copied_share(corpus, b"") == 0


def test_text_quality_columns():
    corpus = b"the cat sat on the mat and the dog ran far away from home"
    loop = b"the cat sat on the cat sat on the cat sat on"
    q = text_quality(corpus, loop)
    assert q["valid_words"] == 1.0 and q["distinct4"] < 0.5 and q["copied"] == 0
    q = text_quality(corpus, b"the zebra sat on a xylophone quietly")
    assert 0 < q["valid_words"] < 1 and q["distinct4"] == 1.0


def test_fluency_is_reference_bits_per_byte_and_cached(byte_lm_dir, tmp_path):
    spec = f"byte-lm:{byte_lm_dir}:threads=1"
    cache = str(tmp_path / "fl.json")
    fl = Fluency(spec, cache_path=cache)
    prompt, sample = b"The ", b"cat sat on the mat."
    bpb = fl.bpb(prompt, sample)
    lm = fl.lm
    ids = lambda t: np.array([256, *t], dtype=np.int64)  # noqa: E731
    bits = lambda t: -lm.target_logprobs(ids(t)).sum() / math.log(2)  # noqa: E731
    assert bpb == pytest.approx((bits(prompt + sample) - bits(prompt)) / len(sample), abs=1e-3)
    assert bpb > 0
    fl.save()
    again = Fluency(spec, cache_path=cache)
    assert again.bpb(prompt, sample) == bpb and again._lm is None  # from the cache, no LM loaded
    assert again.bpb(prompt, b"dog") != bpb and again._lm is not None


def test_cli_sample_quality(byte_lm_dir, tmp_path, capfd, prime, monkeypatch):
    monkeypatch.setenv("COMPGEN_CACHE", str(tmp_path / "cache"))
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(prime)
    out = tmp_path / "s.json"
    rc = main(["sample", "--prime", str(corpus), "--prompt", "The ", "-n", "80", "--quality",
               "--reference", f"byte-lm:{byte_lm_dir}:threads=1", "--json", str(out)])
    err = capfd.readouterr().err
    assert rc == 0 and "quality: fluency" in err
    q = json.loads(out.read_text())["quality"]
    assert 0 < q["fluency"] < 20 and q["valid_words"] > 0.8 and q["copied"] <= 0.1 and q["bytes"] == 80
    assert os.path.exists(tmp_path / "cache" / "fluency-cache.json")


def test_cli_quality_bad_reference_fails_before_sampling(capfd):
    rc = main(["sample", "-n", "5", "--quality", "--reference", "nosuchlm"])
    out = capfd.readouterr()
    assert rc == 2 and out.err.count("\n") == 1 and not out.out


def test_best_window_avoids_an_untypical_tail():
    prose = default_corpus()[:100000]
    tail = b"\n".join(b"(%03d) 555-%04d  fax" % (i % 1000, i) for i in range(1500))
    block = best_block(compgen.load("gzip"), prose + tail, b"The ", 8192)
    assert len(block) == 8192 and block in prose
    r = generate(compgen.load("gzip"), b"The ", prose + tail, 60, seed=0, window_from="best")
    assert r.settings["window_from"] == "best" and b"555-" not in r.text and b"fax" not in r.text
    # with proposals from the window, all suffix lengths at once (the settings before back-off)
    # the tail window is the phone list
    tail_sample = generate(compgen.load("gzip"), b"The ", prose + tail, 60, seed=0, window_from="tail",
                           **WINDOW_PROPOSALS).text
    assert b"555-" in tail_sample or b"fax" in tail_sample


def test_phrase_commit_keeps_the_guard(prime):
    gz = compgen.load("gzip")
    r = generate(gz, b"The ", prime, 150, seed=3, commit=3, max_copy=32)
    assert len(r.text) == 150 and r.stats["steps"] < generate(gz, b"The ", prime, 150, seed=3, max_copy=32).stats["steps"]
    assert not any(r.text[i:i + 32] in prime for i in range(len(r.text) - 31))
    with pytest.raises(compgen.errors.UsageError):
        generate(gz, b"The ", prime, 10, commit=0)
