"""The LM coder's adaptive head (compgen.lm.adaptive_head): exact round trips with and without
it, its settings flag, old files, refusals, its update rule, and the benchmark harness."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_benchmark

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

import compgen  # noqa: E402
from compgen.coding import container  # noqa: E402
from compgen.errors import RefusedError, UsageError  # noqa: E402
from compgen.lm import settings as lm_settings  # noqa: E402
from compgen.lm.adaptive_head import BIAS_LIMIT, DEFAULT_LR, LR_UNIT, AdaptiveHead, lr_units  # noqa: E402

fuzz = load_benchmark("fuzz")


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("head-lm"))
    fuzz.tiny_token_lm(d)  # a 2-layer Llama over a 300-token BPE, from a config
    return d


@pytest.fixture(scope="module")
def text():
    return fuzz.lm_texts()["lm"] * 3  # repeats: something for the in-file models to learn


def _load(tok_dir, extra=""):
    return compgen.load(f"hf:{tok_dir}:threads=1:segment=300{extra}")  # 3 streams in lockstep


def _code(model, data):
    comp = compgen.as_compressor(model, store=False)
    blob = comp.compress(data)
    return blob, comp.last_stats["ideal_bits"]


def _reseal_settings(blob, **changes):
    header, payload = container.unpack(blob)
    header.coder = dict(header.coder, **changes)
    return container.pack(header, payload)


def test_roundtrip_with_and_without_head_and_the_head_learns(tok_dir, text):
    bits = {}
    for mix in (0, 1):
        for head in (0, 1):
            model = _load(tok_dir, f":mix={mix}:head={head}")
            blob, bits[mix, head] = _code(model, text)
            coder = container.read_header(blob).coder
            assert coder["head"] == (lr_units(DEFAULT_LR) if head else 0) and coder["mix"] == bool(mix)
            assert coder["streams"] == 3
            assert compgen.decompress(blob) == text  # the spec in the file rebuilds the model
    # an untrained model: the head learns the file's token frequencies, alone and with the n-gram
    assert bits[0, 1] < 0.97 * bits[0, 0]
    assert bits[1, 1] < bits[1, 0]


def test_default_is_on_for_token_lms_and_decoding_follows_the_file(tok_dir, text):
    on, off = _load(tok_dir), _load(tok_dir, ":head=0")
    assert on.head_units() == lr_units(DEFAULT_LR) and off.head_units() == 0
    blob_on, _ = _code(on, text)
    blob_off, _ = _code(off, text)
    assert compgen.as_compressor(off).decompress(blob_on) == text
    assert compgen.as_compressor(on).decompress(blob_off) == text


def test_head_lr_in_spec_and_file(tok_dir, text):
    model = _load(tok_dir, ":head_lr=0.2")
    assert "head_lr=0.2" in model.spec and compgen.load(model.spec).head_lr == model.head_lr == lr_units(0.2)
    blob, _ = _code(model, text)
    assert container.read_header(blob).coder["head"] == round(0.2 * LR_UNIT)
    assert compgen.as_compressor(_load(tok_dir)).decompress(blob) == text  # the file's lr, not the model's
    for bad in (":head=2", ":head_lr=0", ":head_lr=1.5", ":head_lr=fast"):
        with pytest.raises(UsageError, match="head"):
            _load(tok_dir, bad)


def test_settings_flag_packs_and_old_layout_is_unchanged():
    s = {"codec": "tokens", "mix": True, "bf16": False, "compact": True, "streams": 3, "window": 512, "threads": 2,
         "tokens": 99, "env": 7, "probe": 12345, "raw": [1]}
    old = lm_settings.pack(s)  # a file written before the head: no "head" key at all
    assert lm_settings.pack(dict(s, head=0)) == old and not old[0] & 0x10
    assert lm_settings.unpack(old)["head"] == 0
    new = lm_settings.pack(dict(s, head=3277))
    assert new[0] == old[0] | 0x10 and new[: len(old)][1:] == old[1:] and len(new) == len(old) + 2
    back = lm_settings.unpack(new)
    assert back["head"] == 3277 and back["raw"] == [1] and back["mix"] and back["tokens"] == 99
    with pytest.raises(ValueError, match="learning rate"):
        lm_settings.unpack(new[:-2] + b"\x00")  # flag without an lr
    with pytest.raises(RefusedError):
        lm_settings.unpack(new[:-1])  # lr cut off
    with pytest.raises(RefusedError):
        lm_settings.unpack(new[:-2] + b"\x80\x80\x04")  # lr past 2^16
    with pytest.raises(ValueError):
        lm_settings.pack(dict(s, head=LR_UNIT))


def test_file_without_the_flag_decodes_as_before(tok_dir, text):
    """A head-less file (what every file before the head is) has the old settings bytes and
    decodes under a model whose default is the head."""
    blob, bits = _code(_load(tok_dir, ":head=0"), text)
    header = container.read_header(blob)
    coder = dict(header.coder)
    coder.pop("head")
    raw = blob[blob.index(lm_settings.pack(coder)):]
    assert raw[0] & 0x10 == 0
    assert compgen.as_compressor(_load(tok_dir)).decompress(blob) == text
    # and the head-less coder's bits are the LM + n-gram path of before (float32 exps)
    _, again = _code(_load(tok_dir, ":head=0"), text)
    assert again == bits


def test_edited_head_settings_are_refused_never_decoded_wrong(tok_dir, text):
    model = _load(tok_dir)
    blob, _ = _code(model, text)
    units = container.read_header(blob).coder["head"]
    for change in ({"head": 0}, {"head": units + 1}, {"head": units * 2}, {"head": 1}):
        with pytest.raises(RefusedError):
            compgen.as_compressor(model).decompress(_reseal_settings(blob, **change))
    off_blob, _ = _code(_load(tok_dir, ":head=0"), text)
    with pytest.raises(RefusedError):
        compgen.as_compressor(model).decompress(_reseal_settings(off_blob, head=units))
    with pytest.raises(RefusedError, match="threads"):
        compgen.as_compressor(compgen.load(f"hf:{tok_dir}:threads=2")).decompress(blob)
    with pytest.raises(RefusedError, match="adaptive-head"):
        model.payload_coder().check_settings(dict(container.read_header(blob).coder, head=-1))


def test_update_rule_is_the_code_length_gradient():
    head = AdaptiveHead(5, lr_units(0.25), width=8)
    e = np.array([[1.0, 2.0, 3.0, 4.0, 0.5, 0, 0, 0], [4.0, 1.0, 1.0, 1.0, 1.0, 0, 0, 0]], dtype=np.float32)
    flat = head.weigh(e)
    assert flat.dtype == np.float64 and np.array_equal(flat, e.astype(np.float64))  # zero bias: unchanged
    g = head.gradient(flat, [0, 1])
    e64 = e.astype(np.float64)
    expect = e64[0, :5] / e64[0, :5].sum() + e64[1, :5] / e64[1, :5].sum()
    assert np.allclose(g, expect, rtol=1e-12) and abs(g.sum() - 2.0) < 1e-12
    head.learn(g, [3, 3])
    bias = -0.25 * expect
    bias[3] += 0.5
    assert np.allclose(head.bias, bias, rtol=1e-12)
    p_before = e[0, 3] / e[0, :5].sum()
    after = head.weigh(e)
    assert after[0, 3] / after[0].sum() > p_before and np.all(after[:, 5:] == 0)  # padding ids stay 0
    for _ in range(2000):  # a token coded over and over: the bias saturates, nothing overflows
        head.learn(head.gradient(head.weigh(e), [0]), [4])
    assert head.bias.max() <= BIAS_LIMIT and head.bias.min() >= -BIAS_LIMIT
    w = head.weigh(e)
    assert np.all(w[:, :5] > 0) and np.isfinite(w).all()


def test_benchmark_harness_matches_the_coder(tok_dir, text):
    """benchmarks/head.py measures many settings in one pass; each equals the real coder's bits
    (to the summation order: the harness sums per step, the coder per stream)."""
    bench = load_benchmark("head")
    model = _load(tok_dir, ":head=0")
    res = bench.measure(model, text, [bench.Config(c) for c in ("mix", "mix+head0.1", "head0.2", "mix+stream0.05")])
    _, mix_bits = _code(_load(tok_dir, ":head=0"), text)
    _, head_bits = _code(_load(tok_dir), text)
    _, lr_bits = _code(_load(tok_dir, ":mix=0:head_lr=0.2"), text)
    n = len(text)
    assert res["configs"]["mix"]["ideal_bpb"] == pytest.approx(mix_bits / n, rel=1e-12)
    assert res["configs"]["mix+head0.1"]["ideal_bpb"] == pytest.approx(head_bits / n, rel=1e-12)
    assert res["configs"]["head0.2"]["ideal_bpb"] == pytest.approx(lr_bits / n, rel=1e-12)
    assert res["configs"]["mix+stream0.05"]["ideal_bpb"] < res["configs"]["mix"]["ideal_bpb"]
