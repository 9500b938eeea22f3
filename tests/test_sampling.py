"""Sampling: samplers on any Model, span scoring routes, copy guard, CLI."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import compgen
from compgen import samplers
from compgen.cli import main
from compgen.compressors.spans import scorer_for
from compgen.data.corpus import default_corpus
from compgen.sampling import CopyGuard, first_unit, generate, suffix_array


class ToyModel(compgen.Model):
    """Not a compressor: after byte x it prefers x+1 in 'abcd ', with a little mass elsewhere."""

    name = "toy"
    ALPH = b"abcd "

    @property
    def spec(self):
        return "toy"

    def fingerprint_data(self):
        return {"kind": "toy"}

    def next_byte_probs(self, context):
        p = np.full(256, 1e-4)
        last = context[-1:] or b" "
        i = self.ALPH.find(last)
        nxt = self.ALPH[(i + 1) % len(self.ALPH)] if i >= 0 else self.ALPH[0]
        for j, b in enumerate(self.ALPH):
            p[b] += 0.05 * (j + 1)
        p[nxt] += 1.0
        return p / p.sum()


ALL = [samplers.Greedy(), samplers.Temperature(1.0), samplers.TopK(3, temperature=1.0),
       samplers.TopP(0.9, temperature=1.0), samplers.Beam(width=3, horizon=4, branch=3, temperature=0.5)]


@pytest.fixture(scope="module")
def prime():
    return default_corpus()[:12000]


# ------------------------------------------------------------ samplers on any Model
@pytest.mark.parametrize("sampler", ALL, ids=lambda s: type(s).__name__)
def test_every_sampler_on_toy_model_is_seeded(sampler):
    toy = ToyModel()
    a = compgen.sample(toy, prompt=b"a", n=30, sampler=sampler, seed=3)
    b = compgen.sample(toy, prompt=b"a", n=30, sampler=sampler, seed=3)
    assert a == b and len(a) == 30


def test_greedy_follows_the_argmax_chain():
    out = compgen.sample(ToyModel(), prompt=b"a", n=10, sampler=samplers.Greedy())
    assert out == b"bcd abcd a"


def test_temperature_seeds_differ_and_follow_the_model():
    toy = ToyModel()
    outs = {compgen.sample(toy, prompt=b"a", n=40, sampler=samplers.Temperature(1.0), seed=s) for s in range(4)}
    assert len(outs) > 1
    # most transitions are the model's favourite one
    text = b"a" + outs.pop()
    fav = sum(ToyModel.ALPH.find(text[i + 1:i + 2]) == (ToyModel.ALPH.find(text[i:i + 1]) + 1) % 5
              for i in range(len(text) - 1))
    assert fav > 0.5 * (len(text) - 1)


def test_topk1_and_tiny_topp_equal_greedy():
    toy = ToyModel()
    g = compgen.sample(toy, prompt=b"c", n=15, sampler=samplers.Greedy())
    assert compgen.sample(toy, prompt=b"c", n=15, sampler=samplers.TopK(1), seed=5) == g
    assert compgen.sample(toy, prompt=b"c", n=15, sampler=samplers.TopP(1e-6), seed=5) == g


def test_distributions():
    bits = np.array([3.0, 1.0, 2.0, np.inf])
    p = samplers.Temperature(1.0).distribution(bits)
    assert p[3] == 0 and np.isclose(p.sum(), 1) and np.isclose(p[1] / p[2], 2.0)
    k = samplers.TopK(2).distribution(bits)
    assert k[0] == 0 and k[1] > 0 and k[2] > 0
    tp = samplers.TopP(0.5).distribution(bits)
    assert tp[1] == 1.0
    hot = samplers.Temperature(100.0).distribution(bits)
    assert hot[0] > 0.3  # high temperature flattens


def test_span_mode_works_for_a_non_compressor():
    text = compgen.sample(ToyModel(), prompt=b"a", prime=b"abcd abcd abcd abcd dcba abcd " * 20, n=25,
                          mode="span", span=6, candidates=8, seed=1, max_copy=0, self_copy=0)
    assert len(text) == 25


@pytest.mark.parametrize("bad", [lambda: samplers.TopK(0), lambda: samplers.TopP(0), lambda: samplers.TopP(1.5),
                                 lambda: samplers.Temperature(0), lambda: samplers.Beam(width=0),
                                 lambda: samplers.from_name("nope")])
def test_bad_sampler_settings_raise(bad):
    with pytest.raises(samplers.SamplerError):
        bad()


# ------------------------------------------------------------ compressors
def test_gzip_span_sampling_is_reproducible_and_wordy(prime):
    gz = compgen.load("gzip")
    sampler = samplers.TopP(0.9, temperature=0.7)
    a = compgen.sample(gz, prompt=b"The ", prime=prime, n=120, sampler=sampler, seed=0)
    assert a == compgen.sample(gz, prompt=b"The ", prime=prime, n=120, sampler=sampler, seed=0)
    assert len(a) == 120
    vocab = set(re.findall(rb"[a-z]+", prime.lower()))
    words = re.findall(rb"[a-z]+", a.lower())
    assert len(words) >= 10
    assert sum(w in vocab for w in words) / len(words) >= 0.85


def test_beam_on_small_gzip_context(prime):
    gz = compgen.load("gzip")
    beam = samplers.Beam(width=4, horizon=12, branch=4)
    a = compgen.sample(gz, prompt=b"The ", prime=prime[:4000], n=40, sampler=beam, seed=2)
    assert a == compgen.sample(gz, prompt=b"The ", prime=prime[:4000], n=40, sampler=beam, seed=2)
    assert len(a) == 40
    # byte-level beam: the paper's per-byte distributions, tiny settings
    small = samplers.Beam(width=2, horizon=2, branch=2, temperature=0)
    b = compgen.sample(gz, prompt=b"The ", prime=prime[:2000], n=3, sampler=small, mode="byte", window=1500)
    assert len(b) == 3


def test_byte_mode_uses_the_paper_distribution(prime):
    gz = compgen.load("gzip")
    ctx = prime[:3000] + b"\n\nThe "
    greedy = compgen.sample(gz, prompt=b"The ", prime=prime[:3000], n=1, sampler=samplers.Greedy(), mode="byte",
                            max_copy=0, self_copy=0)
    assert greedy == bytes([int(np.argmax(gz.next_byte_probs(ctx)))])


@pytest.mark.parametrize("spec", ["gzip", "zstd", "xz", "bz2", "brotli:level=5", "ppmd"])
def test_span_scorers_are_exact_for_their_route(spec, prime):
    model = compgen.load(spec)
    scorer = scorer_for(model)
    fixed, recent = prime[:2800], prime[2800:3000]
    cands = [b"is a thing that is not a", b"zzqxj kkwp vbq jjxzq zzv", prime[3000:3024]]
    scorer.prepare(fixed)
    bits = scorer.bits(recent, cands)
    assert bits.shape == (3,) and np.all(np.isfinite(bits))
    if spec == "gzip":  # byte-identical to recompressing fixed + recent + c
        ctx = fixed + recent
        assert list(bits) == [8 * (len(model.compress(ctx + c)) - len(model.compress(ctx))) for c in cands]
    assert bits[1] > bits[2]  # gibberish costs more than text the context predicts


def test_copy_guard_blocks_prime_and_self_copies():
    prime = b"the quick brown fox jumps over the lazy dog " * 3
    g = CopyGuard(prime, max_copy=12, self_copy=8)
    assert not g.ok(b"xx the quick ", b"brown ")  # "the quick br..." is 12+ bytes of the prime
    assert g.ok(b"xx the quick ", b"yellow ")
    g.observe(b"hello wonderful world ")
    assert not g.ok(b"hello wonderful world and hello w", b"onderful")
    assert g.rejected == 2


def test_guard_keeps_output_off_the_prime(prime):
    gz = compgen.load("gzip")
    out = compgen.sample(gz, prompt=b"The ", prime=prime, n=150, seed=4, max_copy=20)
    assert not any(out[i:i + 20] in prime for i in range(len(out) - 19))


def test_first_unit_and_suffix_array():
    assert first_unit(b"thee, my lord") == b"thee, "
    assert first_unit(b"\n\nMENENIUS:\nWhat") == b"\n\nMENENIUS:\n"
    assert first_unit(b"wink'st thou") == b"wink'st "
    data = bytes(np.random.default_rng(0).integers(97, 100, 300, dtype=np.uint8))
    sa = suffix_array(data, depth=8)
    keys = [data[i:i + 8] for i in sa]
    assert keys == sorted(keys) and sorted(sa.tolist()) == list(range(len(data)))


def test_models_choose_their_mode_and_modes_plug_in(prime):
    from compgen.sampling import MODES, SamplingMode, register_mode

    assert generate(compgen.load("gzip"), b"The ", prime, 5).settings["mode"] == "span"
    assert generate(ToyModel(), b"a", b"", 5).settings["mode"] == "byte"

    @register_mode
    class Echo(SamplingMode):  # a mode that repeats the last context byte
        name = "echo-test"

        def step(self, state, sampler, rng, guard, stats):
            return state.context()[-1:]

    class EchoToy(ToyModel):
        sampling_mode = "echo-test"

    try:
        r = generate(EchoToy(), b"xy", b"", 4)
        assert r.text == b"yyyy" and r.settings["mode"] == "echo-test"
    finally:
        del MODES["echo-test"]
    with pytest.raises(compgen.errors.UsageError, match="mode must be auto, byte or span"):
        generate(ToyModel(), b"a", b"", 5, mode="echo-test")


def test_max_seconds_and_stats(prime):
    r = generate(compgen.load("gzip"), b"The ", prime, 50, max_seconds=1e-9)
    assert r.stats["stopped"] == "max_seconds" and len(r.text) < 50


# ------------------------------------------------------------ CLI
def test_cli_sample_json(tmp_path, capfdbinary, prime):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(prime)
    out = tmp_path / "s.json"
    rc = main(["sample", "-m", "gzip", "--prime", str(corpus), "--prompt", "The ", "-n", "60", "--seed", "1",
               "--json", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    printed = capfdbinary.readouterr().out
    assert printed.startswith(b"The ")
    sample = doc["sample"].encode()
    assert len(sample) == 60 and sample in printed
    assert doc["settings"]["seed"] == 1 and doc["settings"]["mode"] == "span"
    assert doc["stats"]["bytes"] == 60 and doc["stats"]["seconds"] >= 0
    again = tmp_path / "t.json"
    main(["sample", "-m", "gzip", "--prime", str(corpus), "--prompt", "The ", "-n", "60", "--seed", "1",
          "--json", str(again), "-q"])
    assert json.loads(again.read_text())["sample"] == doc["sample"]


def test_cli_beam_and_default_corpus(capfdbinary):
    rc = main(["sample", "-m", "gzip", "-n", "30", "--sampler", "beam", "--beam-width", "3", "--horizon", "8",
               "--no-prompt", "-q"])
    assert rc == 0
    assert len(capfdbinary.readouterr().out.rstrip(b"\n")) >= 30 - 2  # utf-8 never split here in practice


@pytest.mark.parametrize("argv", [
    ["sample", "-n", "-1"],
    ["sample", "--sampler", "nope"],
    ["sample", "--sampler", "top-p", "--top-p", "2"],
    ["sample", "--sampler", "beam", "--beam-width", "0"],
    ["sample", "--prime", "/nonexistent/corpus.txt"],
    ["sample", "--json", "/nonexistent/dir/out.json"],
    ["sample", "-m", "nosuchcodec"],
    ["sample", "--window", "0"],
])
def test_cli_bad_args_one_line(argv, capfd):
    rc = main(argv)
    err = capfd.readouterr().err
    assert rc != 0
    assert err.count("\n") == 1 and err.startswith("cgz: ") and "Traceback" not in err


def test_demo_runs(capfdbinary):
    assert main(["demo", "-n", "40"]) == 0
    out = capfdbinary.readouterr()
    assert out.out.startswith(b"The ") and b"bytes/s" in out.err
