"""BPE tokenizers with byte fallback (compgen.lm.bpe) and token LMs trained on them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("tokenizers")

from compgen.errors import CompgenError, UsageError  # noqa: E402
from compgen.lm import bpe  # noqa: E402

VOCAB = 320


def corpus(n_words: int = 6000, seed: int = 0) -> bytes:
    """English-like text from a small word list (made here, no files needed)."""
    words = ("the cat sat on a mat and then the dog ran after it while people watched "
             "from their windows , . ; café naïve über — “quoted” 42 1997").split()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(words), size=n_words)
    lines, line = [], []
    for i in picks:
        line.append(words[i])
        if len(line) >= 12:
            lines.append(" ".join(line))
            line = []
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture(scope="module")
def tokdir(tmp_path_factory):
    return bpe.train_tokenizer(corpus(), VOCAB, tmp_path_factory.mktemp("tok") / "bpe")


@pytest.fixture(scope="module")
def tok(tokdir):
    return bpe.load_tokenizer(tokdir)


# ------------------------------------------------------------------ tokenizer
def test_files_and_vocabulary(tokdir, tok):
    names = {p.name for p in tokdir.iterdir()}
    assert {"tokenizer.json", "tokenizer_config.json", "compgen-tokenizer.json"} <= names
    meta = json.loads((tokdir / "compgen-tokenizer.json").read_text())
    assert meta["vocab_size"] == tok.vocab_size == VOCAB
    assert meta["train_bytes"] == len(corpus())
    # 256 byte tokens + BOS + merges; BOS stands for no bytes
    assert tok.codec.table[tok.bos_id] is None
    assert sum(t is not None for t in tok.codec.table) == VOCAB - 1
    assert tok.token_lengths().max() > 1  # merges exist


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_round_trip_random_bytes(tok, data):
    ids = tok.encode(data)
    assert all(isinstance(i, int) and 0 <= i < tok.vocab_size and i != tok.bos_id for i in ids)
    assert tok.decode(ids) == data


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_round_trip_any_text(tok, text):
    data = text.encode("utf-8", errors="surrogatepass")
    assert tok.decode(tok.encode(data)) == data


def test_empty_input(tok):
    assert tok.encode(b"") == []
    assert tok.decode([]) == b""
    assert math.isnan(bpe.tokens_per_byte(tok, b""))


@pytest.mark.parametrize("data", [b"\xff", b"\x80abc", b"caf\xc3", b"\xed\xa0\x80 surrogate", b"\xc0\xaf",
                                  "naïve".encode("latin-1"), b"ok \xf4\x90\x80\x80 beyond U+10FFFF",
                                  "é".encode("utf-8") + b"\xe9" + "é".encode("utf-8")])
def test_invalid_utf8(tok, data):
    ids = tok.encode(data)
    assert tok.decode(ids) == data


def test_every_byte_value(tok):
    for b in range(256):
        ids = tok.encode(bytes([b]))
        assert len(ids) == 1 and tok.decode(ids) == bytes([b])
    data = bytes(range(256)) * 3
    assert tok.decode(tok.encode(data)) == data


def test_merges_compress_training_like_text(tok):
    text = corpus(2000, seed=7)  # same words, other order
    ids = tok.encode(text)
    assert len(ids) < 0.6 * len(text)
    assert bpe.tokens_per_byte(tok, text) == pytest.approx(len(ids) / len(text))
    rnd = np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    assert bpe.tokens_per_byte(tok, rnd) > 0.9  # random bytes hardly merge


def test_decode_refuses_bos(tok):
    from compgen.errors import RefusedError

    with pytest.raises(RefusedError):
        tok.decode([tok.bos_id])


def test_training_is_deterministic(tmp_path, tokdir):
    again = bpe.train_tokenizer(corpus(), VOCAB, tmp_path / "again")
    assert (again / "tokenizer.json").read_bytes() == (tokdir / "tokenizer.json").read_bytes()
    other = bpe.train_tokenizer(corpus(seed=3), VOCAB, tmp_path / "other")
    assert (other / "tokenizer.json").read_bytes() != (tokdir / "tokenizer.json").read_bytes()


def test_bad_requests(tmp_path):
    with pytest.raises(UsageError):
        bpe.train_tokenizer(corpus(), 100, tmp_path / "small")
    with pytest.raises(CompgenError):
        bpe.train_tokenizer(b"", 300, tmp_path / "empty")
    with pytest.raises(UsageError):
        bpe.load_tokenizer(tmp_path / "nowhere")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "tokenizer.json").write_text("{not json")
    with pytest.raises(CompgenError):
        bpe.load_tokenizer(tmp_path / "junk")
    with pytest.raises(UsageError):
        bpe.resolve_tokenizer("nonsense-name", b"abc")
    assert bpe.resolve_tokenizer("bytes") is None and bpe.resolve_tokenizer(None) is None
    assert [bpe.parse_bpe_name(n) for n in ("bpe1k", "BPE4K", "bpe300", "bytes")] == [1024, 4096, 300, None]


# ------------------------------------------------------------------ token LMs
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def token_lm(tmp_path_factory, tokdir):
    from compgen.lm.train import Shape, TrainSettings, train

    out = tmp_path_factory.mktemp("tlm") / "lm"
    settings_ = TrainSettings(steps=30, batch_size=8, lr=1e-2, warmup=5, eval_every=15, eval_bytes=3000,
                              checkpoint_minutes=0, threads=1, seed=0)
    meta = train(corpus(), out, Shape(layers=1, width=32, heads=1, ffn=64, context=32), settings_,
                 corpus_name="words", tokenizer=str(tokdir))
    return out, meta


def test_token_lm_directory(token_lm, tok):
    out, meta = token_lm
    on_disk = json.loads((out / "compgen.json").read_text())
    assert on_disk["kind"] == "token-lm" and on_disk["vocab_size"] == VOCAB and on_disk["bos_id"] == tok.bos_id
    assert on_disk["tokenizer"]["digest"] == tok.digest()
    assert 0 < on_disk["tokenizer"]["train_tokens_per_byte"] < 0.6
    assert (out / "tokenizer.json").read_bytes() == (tok.path / "tokenizer.json").read_bytes()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["vocab_size"] == VOCAB
    t = on_disk["train"]
    assert t["steps"] == 30 and t["tokens_seen"] == 30 * 8 * 31
    assert t["complete"] and math.isfinite(t["heldout_bits_per_byte"])
    # it learnt something: random init is ~log2(320)/(bytes per token) ~ 8.3 * 0.4 bits/byte at best
    assert t["heldout_bits_per_byte"] < t["history"][0]["heldout_bpb"] + 1e-9
    assert bpe.load_tokenizer(out).digest() == tok.digest()


def test_reload_scores_the_same_bits(token_lm, tok):
    from transformers import AutoModelForCausalLM

    from compgen.lm.train import heldout_bits_per_byte, split_corpus

    out, meta = token_lm
    net = AutoModelForCausalLM.from_pretrained(out)
    _, held, _ = split_corpus(corpus(), 0.05)
    ids = np.asarray(tok.encode(held.tobytes()), dtype=np.int64)
    torch.set_num_threads(1)
    again = heldout_bits_per_byte(net, ids, 32, bos_id=tok.bos_id, token_lens=tok.token_lengths())
    assert again == pytest.approx(meta["train"]["heldout_bits_per_byte"], abs=1e-5)


def test_loads_as_model_with_exact_byte_view(token_lm, tok):
    import compgen

    out, _ = token_lm
    m = compgen.load(f"byte-lm:{out}:threads=1")
    assert m.codec.kind == "tokens" and m.codec.digest() == tok.digest()
    assert m.n_params == json.loads((out / "compgen.json").read_text())["params"]
    p = m.next_byte_probs(b"the cat sat on ")
    assert p.shape == (256,) and abs(p.sum() - 1) < 1e-9 and (p > 0).all()
    text = corpus(300, seed=11)[:1500]
    bits = m.code_length(text)
    assert bits == compgen.load(f"byte-lm:{out}:threads=1").code_length(text)
    # bits/byte = log2(ppl per token) * tokens/byte, by construction of the teacher-forced score
    n_tok = len(tok.encode(text))
    ppl = 2 ** (bits / n_tok)
    assert math.log2(ppl) * n_tok / len(text) == pytest.approx(bits / len(text))
    assert bits / len(text) < 8  # better than raw bytes on text like its training data
    hf = compgen.load(f"hf:{out}:threads=1")  # transformers' own tokenizer reading the same files
    assert hf.codec.digest() == m.codec.digest()


def test_compress_round_trip(token_lm):
    import compgen

    out, _ = token_lm
    m = compgen.load(f"byte-lm:{out}:threads=1")
    comp = compgen.as_compressor(m)
    for data in (corpus(120, seed=5)[:700], b"\x00\xff binary \x80\x81 and text caf\xc3\xa9\n" * 4, b""):
        blob = comp.compress(data)
        assert compgen.decompress(blob) == data
        assert comp.decompress(blob) == data


def test_named_tokenizer_trains_on_the_training_split(tmp_path, tok):
    from compgen.lm.train import Shape, TrainSettings, train

    s = TrainSettings(steps=2, batch_size=2, lr=1e-2, warmup=1, eval_every=0, eval_bytes=500,
                      checkpoint_minutes=0, threads=1, final_eval_bytes=500)
    meta = train(corpus(), tmp_path / "named", Shape(1, 32, 1, 64, 32), s, tokenizer=f"bpe{VOCAB}")
    data = corpus()
    cut = meta["train"]["heldout_start"]
    ref = bpe.train_tokenizer(data[:cut], VOCAB, tmp_path / "ref")
    assert (tmp_path / "named" / "tokenizer.json").read_bytes() == (ref / "tokenizer.json").read_bytes()


def test_cli_tokenizer_flag(tmp_path, capsys):
    from compgen.cli import main

    src = tmp_path / "c.txt"
    src.write_bytes(corpus())
    out = tmp_path / "cli"
    base = ["train", "--corpus", str(src), "--layers", "1", "--width", "32", "--context", "32", "--steps", "3",
            "--threads", "1", "--eval-every", "0", "-o", str(out)]
    assert main(base + ["--tokenizer", "bpe9"]) == 2
    assert main(base + ["--tokenizer", "wordpiece"]) == 2
    assert not out.exists()
    assert main(base + ["--tokenizer", f"bpe{VOCAB}", "-q"]) == 0
    meta = json.loads((out / "compgen.json").read_text())
    assert meta["kind"] == "token-lm" and meta["vocab_size"] == VOCAB
