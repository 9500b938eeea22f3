"""Teacher-forced scoring of long data: batched windows equal the old per-window path."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

import compgen  # noqa: E402
from compgen.lm.model import score_windows  # noqa: E402
from test_lm import TEXT, _save_byte_lm, _save_token_lm  # noqa: E402

LONG = b"".join(TEXT[i:] + TEXT[:i] for i in range(0, 60, 7))  # ~700 bytes, several windows


@pytest.fixture(scope="module")
def lms(tmp_path_factory):
    base = tmp_path_factory.mktemp("score_lms")
    return {"tok": compgen.load(f"hf:{_save_token_lm(base / 'tok')}:threads=1"),
            "byte": compgen.load(f"byte-lm:{_save_byte_lm(base / 'byte')}:threads=1")}


def old_token_bits(model, tokens, ctx, window):
    """The previous implementation: one window per forward, overlap 1/4, float64 log-softmax."""
    w = window - 1
    overlap = min(w // 4, 512)
    seq = np.concatenate([ctx[-overlap:] if overlap else ctx[:0], tokens])
    bits, start = 0.0, len(seq) - len(tokens)
    while start < len(seq):
        lo = max(0, start - overlap)
        hi = min(len(seq), lo + w)
        logp = model.target_logprobs(np.concatenate([[model.codec.bos_id], seq[lo:hi]]))
        bits -= float(logp[start - lo:].sum()) / np.log(2)
        start = hi
    return bits


@pytest.mark.parametrize("kind", ["tok", "byte"])
def test_fast_path_equals_old_per_window_computation(lms, kind):
    m = lms[kind]
    tokens = np.asarray(m.codec.encode(LONG), dtype=np.int64)
    ctx = np.asarray(m.codec.encode(TEXT), dtype=np.int64)
    window = 48 if kind == "tok" else 96
    assert len(tokens) > 3 * window  # several windows
    for c in (np.zeros(0, dtype=np.int64), ctx):
        old = old_token_bits(m, tokens, c, window)
        new = m.token_bits(tokens, c, window=window, overlap=(window - 1) // 4, batch=1)
        assert abs(new - old) < 1e-6, (new, old)


@pytest.mark.parametrize("kind", ["tok", "byte"])
def test_batched_windows_equal_unbatched(lms, kind):
    m = lms[kind]
    tokens = np.asarray(m.codec.encode(LONG), dtype=np.int64)
    one = m.token_bits(tokens, window=64, overlap=16, batch=1)
    for batch in (2, 3, 8):
        assert abs(m.token_bits(tokens, window=64, overlap=16, batch=batch) - one) < 1e-4
    # a different overlap is a different (still positive, finite) figure
    other = m.token_bits(tokens, window=64, overlap=0, batch=4)
    assert np.isfinite(other) and other > 0 and other != one


def test_fast_log_softmax_is_within_1e_8_of_float64(lms):
    m = lms["tok"]
    win = [np.concatenate([[m.codec.bos_id], m.codec.encode(LONG)[:80]])]
    a = m.windows_logprobs(win, float64=True)[0]
    b = m.windows_logprobs(win, float64=False)[0]
    assert a.shape == b.shape == (80,)
    assert np.max(np.abs(a - b)) < 1e-8


@pytest.mark.parametrize("n,first,room,overlap", [(1000, 0, 100, 25), (1000, 37, 100, 0), (5, 0, 100, 10),
                                                 (301, 1, 50, 49)])
def test_score_windows_score_every_token_once(n, first, room, overlap):
    spans = score_windows(n, first, room, overlap)
    scored = [i for lo, hi, start in spans for i in range(start, hi)]
    assert scored == list(range(first, n))
    for lo, hi, start in spans:
        assert hi - lo <= room
        assert start - lo == min(overlap, start)


def test_code_length_uses_the_scoring_window(lms):
    m = lms["tok"]
    w, overlap, batch = m.score_settings()
    assert w == m.position_limit() - 1 or w == 1023  # SCORE_WINDOW, capped by the model's positions
    assert m.code_length(LONG) == pytest.approx(m.token_bits(m.codec.encode(LONG)), abs=1e-9)


# ------------------------------------------------------------------ score / bench columns
@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    return _save_token_lm(tmp_path_factory.mktemp("score_cli") / "tok")


def _text(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    words = TEXT.split()
    return b" ".join(words[i] for i in rng.integers(0, len(words), n // 4))[:n]


def test_bench_lm_rows_cover_the_codec_chunks_beside_the_coded_subset(tok_dir, tmp_path):
    import csv
    import json

    from compgen.cli import main

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_bytes(_text(1200, 1))
    (data / "b.txt").write_bytes(_text(700, 2))
    out = tmp_path / "out"
    spec = f"hf:{tok_dir}:threads=1"
    rc = main(["-q", "bench", "--models", f"gzip,{spec}", "--data", f"text:{data}", "--chunk", "256",
               "--mode", "chunked", "--lm-max-bytes", "512", "--verify", "--no-cli-check", "-o", str(out)])
    assert rc == 0
    res = json.loads((out / "bench.json").read_text())
    rows = {(r["route"], r["spec"].split(":")[0]): r for r in res["summary"]}
    codec, xent, coded = rows[("native", "gzip")], rows[("xent", "hf")], rows[("model", "hf")]
    assert xent["units"] == codec["units"] == 8 and xent["input_bytes"] == codec["input_bytes"] == 1900
    assert coded["units"] == 2 and coded["input_bytes"] == 512 and coded["verified"] == 2
    assert xent["xent_bits_per_byte"] > 0 and xent["output_bytes"] is None
    assert "LM cross-entropy (8 chunks)" in xent["measure"] and "coded, verified (2 chunks)" == coded["measure"]
    # the cross-entropy units are the codec's chunks, one for one
    keys = lambda route, name: sorted((u["file"], u["offset"], u["input_bytes"]) for u in res["units"]  # noqa: E731
                                      if u["route"] == route and u["spec"].startswith(name))
    assert keys("xent", "hf") == keys("native", "gzip")
    with open(out / "bench.csv") as f:
        measures = {r["measure"] for r in csv.DictReader(f)}
    assert {"LM cross-entropy (8 chunks)", "coded, verified (2 chunks)"} <= measures
    md = (out / "bench.md").read_text()
    assert "[LM cross-entropy (8 chunks)]" in md and "[coded, verified (2 chunks)]" in md
    # the cross-entropy units are the model's code_length of those chunks
    m = compgen.load(spec)
    u = next(u for u in res["units"] if u["route"] == "xent")
    path = next(p for p in (data / u["file"], tmp_path / u["file"], data / u["file"].split("/")[-1]) if p.exists())
    piece = path.read_bytes()[u["offset"]: u["offset"] + u["input_bytes"]]
    assert u["xent_bits"] == pytest.approx(m.code_length(piece), abs=1e-6)


def test_score_lm_column_verify_and_binary_skip(tok_dir, tmp_path):
    import json

    from compgen.cli import main

    (tmp_path / "t.txt").write_bytes(_text(600, 3))
    (tmp_path / "b.bin").write_bytes(bytes(range(256)) * 2)
    spec = f"hf:{tok_dir}:threads=1"
    rc = main(["-q", "score", "-m", f"gzip,{spec}", str(tmp_path / "t.txt"), str(tmp_path / "b.bin"), "--verify",
               "--json", str(tmp_path / "s.json")])
    assert rc == 0
    rows = {(r["file"].split("/")[-1], r["model"].split(":")[0]): r for r in json.loads((tmp_path / "s.json").read_text())}
    lm = rows[("t.txt", "hf")]
    assert lm["measure"] == "cross-entropy (teacher-forced)" and lm["verified"] is True
    assert lm["bits"] == pytest.approx(compgen.load(spec).code_length((tmp_path / "t.txt").read_bytes()), abs=1e-6)
    assert lm["coded_bits_per_byte"] > 0
    assert rows[("b.bin", "hf")]["measure"] == "skipped (binary)" and rows[("b.bin", "hf")]["bits"] is None
    assert rows[("b.bin", "gzip")]["verified"] is True and rows[("b.bin", "gzip")]["bits_per_byte"] > 0
    rc = main(["-q", "score", "-m", spec, str(tmp_path / "b.bin"), "--lm-binary", "--json", str(tmp_path / "s2.json")])
    assert rc == 0 and json.loads((tmp_path / "s2.json").read_text())[0]["bits"] > 0


def test_binary_detection():
    from compgen.commands.score import looks_binary

    assert looks_binary(b"PK\x03\x04\x00\x00") and looks_binary(bytes(range(1, 32)) * 10)
    assert not looks_binary("Fraunhofer Institut f\u00fcr\n\tx".encode("latin-1")) and not looks_binary(b"")
    assert not looks_binary("na\u00efve caf\u00e9\r\n".encode()) and not looks_binary(TEXT)


def test_segment_option_codes_chunks_as_independent_streams(tok_dir):
    """segment=N: K chunks of N bytes become K cold-started lockstep streams; the file records
    its stream count, so a model without the option decodes it, and the coded bits match the
    chunks' own cold-start cross-entropies (no context crosses a chunk boundary)."""
    from compgen.coding.container import read_header

    chunks = [_text(256, s) for s in range(4)]
    data = b"".join(chunks)
    batched = compgen.load(f"hf:{tok_dir}:threads=1:segment=256:mix=0:head=0")  # the LM alone
    plain = compgen.load(f"hf:{tok_dir}:threads=1")
    comp = compgen.as_compressor(batched)
    blob = comp.compress(data)
    assert read_header(blob).coder["streams"] == 4
    assert compgen.as_compressor(plain).decompress(blob) == data
    alone = sum(plain.token_bits(plain.codec.encode(c)) for c in chunks)
    assert abs(comp.last_stats["ideal_bits"] - alone) < 0.01 * alone
    with pytest.raises(compgen.errors.UsageError):
        compgen.load(f"hf:{tok_dir}:threads=1:segment=-1")


def test_score_dtype_bf16_scoring_is_close_and_auto_keeps_tiny_models_float32(tok_dir):
    """score_dtype=bfloat16 runs teacher-forced scoring under bf16 autocast: the bits stay
    close to float32's; 'auto' keeps small models on float32 (no speed to gain)."""
    exact = compgen.load(f"hf:{tok_dir}:threads=1")
    fast = compgen.load(f"hf:{tok_dir}:threads=1:score_dtype=bfloat16")
    assert not exact.scoring_bf16() and fast.scoring_bf16()
    assert fast.spec.endswith("score_dtype=bfloat16")
    data = _text(3000, 7)
    a, b = exact.code_length(data), fast.code_length(data)
    assert a != b and abs(a - b) < 0.02 * a
    with pytest.raises(compgen.errors.UsageError):
        compgen.load(f"hf:{tok_dir}:threads=1:score_dtype=float16")
