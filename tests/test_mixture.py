"""Mixtures of Models, the ppm byte model, and the Model <-> compressor loop."""

import numpy as np
import pytest

import compgen
from compgen.coding import container
from compgen.errors import UsageError
from compgen.mixture import MixtureModel
from compgen.model import CodeLengthModel
from compgen.ppm import PpmModel

TEXT = (b"It was the best of times, it was the worst of times, it was the age of wisdom, "
        b"it was the age of foolishness, it was the epoch of belief. ") * 6


# ------------------------------------------------------------------ ppm
def test_ppm_is_a_distribution_and_learns_the_context():
    m = compgen.load("ppm:order=4")
    p = m.next_byte_probs(TEXT[:200])
    assert p.shape == (256,) and abs(p.sum() - 1) < 1e-12 and p.min() > 0
    # after "it was the " many times, "age"/"best"/"worst": the next byte is predictable
    ctx = TEXT[:300] + b"it was the "
    assert m.next_byte_probs(ctx)[ord("a")] > 0.2
    assert compgen.load("ppm").next_byte_probs(b"")[65] == pytest.approx(1 / 256)


def test_ppm_state_is_a_pure_function_of_the_context():
    a, b = PpmModel(order=3, window=64), PpmModel(order=3, window=64)
    for i in range(1, len(TEXT), 7):  # a follows the text byte by byte (sliding past 64 bytes)...
        for j in range(max(0, i - 7), i):
            a.next_byte_probs(TEXT[:j])
        # ... b jumps there from wherever it was: same floats
        np.testing.assert_array_equal(a.next_byte_probs(TEXT[:i]), b.next_byte_probs(TEXT[:i]))


def test_ppm_compresses_text_and_roundtrips():
    blob = compgen.as_compressor("ppm", store=False).compress(TEXT)
    assert len(blob) < len(TEXT) / 2
    assert compgen.decompress(blob) == TEXT


def test_ppm_bad_parameters_are_usage_errors():
    with pytest.raises(UsageError):
        compgen.load("ppm:order=99")


# ------------------------------------------------------------------ mixtures
@pytest.mark.parametrize("method", ["linear", "geometric", "logistic"])
def test_mixture_roundtrips_and_beats_its_weaker_part(method):
    spec = f"mix:ppm:order=1+ppm:order=4+method={method}"
    m = compgen.load(spec)
    assert isinstance(m, MixtureModel) and compgen.load(m.spec).spec == m.spec
    p = m.next_byte_probs(TEXT[:100])
    assert abs(p.sum() - 1) < 1e-9 and p.min() > 0
    comp = compgen.as_compressor(m, store=False)
    blob = comp.compress(TEXT)
    assert compgen.decompress(blob) == TEXT
    weak = compgen.load("ppm:order=1").code_length(TEXT)
    assert comp.last_stats["ideal_bits"] < weak


def test_mixture_weights_follow_the_better_model():
    m = compgen.load("mix:ppm:order=0+ppm:order=5+method=linear")
    m.next_byte_probs(TEXT)
    assert m._w[1] > 0.9  # the order-5 model predicts repeated text far better


def test_mixture_is_independent_of_query_order():
    a, b = compgen.load("mix:ppm:order=2+ppm:order=4"), compgen.load("mix:ppm:order=2+ppm:order=4")
    a.next_byte_probs(b"unrelated context that forces a replay")
    for n in (50, 51, 52):
        np.testing.assert_array_equal(a.next_byte_probs(TEXT[:n]), b.next_byte_probs(TEXT[:n]))


def test_mixture_samples_and_scores_like_any_model():
    m = compgen.load("mix:ppm+gzip")
    out = compgen.sample(m, prompt=TEXT[:120], n=20, seed=1)
    assert len(out) == 20 and out == compgen.sample(compgen.load("mix:ppm+gzip"), prompt=TEXT[:120], n=20, seed=1)
    assert m.code_length(TEXT[:40], TEXT[:200]) > 0


def test_mixture_spec_errors():
    with pytest.raises(UsageError, match="two models"):
        compgen.load("mix:ppm")
    with pytest.raises(UsageError, match="method"):
        compgen.load("mix:ppm+gzip+method=bogus")


# ------------------------------------------------------------------ Model <-> compressor
@pytest.mark.parametrize("spec", ["ppm:order=3", "gzip", "mix:ppm:order=1+ppm:order=3"])
def test_model_to_compressor_to_model_is_the_identity(spec):
    m = compgen.load(spec)
    comp = compgen.as_compressor(m)
    for back in (compgen.as_model(comp), compgen.as_model(comp.compress)):
        assert back is m
    ctx = TEXT[:150]
    np.testing.assert_array_equal(compgen.as_model(comp).next_byte_probs(ctx), m.next_byte_probs(ctx))


def test_compressor_to_model_to_compressor_keeps_sizes():
    comp = compgen.as_compressor("ppm:order=3")
    again = compgen.as_compressor(compgen.as_model(comp))
    assert again.compress(TEXT) == comp.compress(TEXT)
    gz = compgen.load("gzip")
    assert compgen.as_model(gz.compress) is gz  # a codec Model's own compress is that Model


def test_fractional_code_lengths_become_an_exact_model():
    ref = compgen.load("ppm:order=2")

    class Lengths:  # offers exact fractional bits only
        def code_length(self, data, context=b""):
            return ref.code_length(data, context)

    m = compgen.as_model(Lengths(), name="ppm-lengths")
    assert isinstance(m, CodeLengthModel)
    np.testing.assert_allclose(m.next_byte_probs(TEXT[:90]), ref.next_byte_probs(TEXT[:90]), rtol=1e-9)


def test_codec_model_header_is_compact():
    blob = compgen.as_compressor("ppm", store=False).compress(TEXT)
    assert container.header_size(blob) <= 48


def test_sigmoid_never_overflows_and_matches_the_plain_formula_where_finite():
    import warnings

    from compgen.mixture import sigmoid

    z = np.concatenate([np.linspace(-40, 40, 2001), [-699.9, 699.9, 710.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = 1.0 / (1.0 + np.exp(-z))
        assert np.array_equal(sigmoid(z), plain)  # bit for bit: old files still decode
        far = sigmoid(np.array([-701.0, -740.0, -1e6, 1e6]))
    assert far[0] > 0 and far[1] > 0 and far[2] == 0.0 and far[3] == 1.0
    assert np.all(np.diff(sigmoid(np.linspace(-900, -600, 301))) >= 0)


def test_a_logistic_mix_of_many_models_prints_no_overflow_warning():
    import warnings

    mix = compgen.load("mix:" + "+".join(["ppm:order=1", "ppm:order=2", "ppm:order=3"] * 4))
    data = b"abracadabra " * 20
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bits = mix.code_length(data)
    assert 0 < bits < 8 * len(data)
