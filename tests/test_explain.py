"""`cgz explain`: per-byte code lengths that add up to each Model's code length, the page
they are drawn on (checked in a real headless Chromium when one is installed), the
static PNG, and one-line refusals of bad input."""

from __future__ import annotations

import html
import io
import json
import os
import re
import shutil
import subprocess
import zlib

import numpy as np
import pytest

import compgen
from compgen.explain.lengths import byte_lengths, deflate_prefix_sizes, ppmd_prefix_sizes

WORDS = (b"the cat sat on the mat while a quick brown fox jumped over the lazy dog; "
         b"she said, `what is the use of a book without pictures or conversations?' ")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Each test gets an empty explain cache (it lives under XDG_CACHE_HOME)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def text(n: int, seed: int = 0) -> bytes:
    """English-like bytes: shuffled words of WORDS (repeats for the codecs to find)."""
    rng = np.random.default_rng(seed)
    words = WORDS.split(b" ")
    out = bytearray()
    while len(out) < n:
        out += words[int(rng.integers(len(words)))] + (b"\n" if rng.random() < 0.08 else b" ")
    return bytes(out[:n])


# ------------------------------------------------------------------ exact routes
def test_deflate_route_is_every_prefix_compressed():
    gz = compgen.load("gzip")
    for data in (text(1500), text(6000, seed=1)):  # one thread, then the two-thread split
        sizes = deflate_prefix_sizes(gz, data)
        picks = range(len(data) + 1) if len(data) < 2000 else list(range(0, len(data) + 1, 97)) + [len(data)]
        assert [sizes[i] for i in picks] == [len(zlib.compress(data[:i], 9, 31)) for i in picks]


def test_ppmd_route_is_every_prefix_compressed():
    import pyppmd

    rng = np.random.default_rng(3)
    # random bytes make the range coder emit 0x00 / 0xFF often: the pending-byte rule is exercised
    for data in (text(1200), bytes(rng.integers(0, 256, 1500, dtype=np.uint8))):
        model = compgen.load("ppmd")
        try:
            sizes = ppmd_prefix_sizes(model, data)
        finally:
            model.close()
        ref = [len(pyppmd.compress(data[:i], max_order=6, mem_size=16 << 20, variant="H")) for i in range(len(data) + 1)]
        assert sizes == ref


@pytest.mark.parametrize("spec", ["gzip", "ppmd", "zstd", "bz2", "ppm", "ppmd:variant=I"])
def test_bytes_add_up_to_the_models_code_length(spec):
    data = text(2500, seed=2)
    model = compgen.load(spec)
    try:
        res = byte_lengths(model, data, budget=2.0)
        assert len(res.bits) == len(data)
        assert abs(res.total - model.code_length(data)) <= 1e-6
        assert abs(res.bits.sum() - res.total) <= 1e-6
        assert res.resolution >= 1
    finally:
        getattr(model, "close", lambda: None)()


def test_codec_bytes_are_the_growth_of_the_compressed_prefix():
    data = text(800, seed=4)
    gz = compgen.load("gzip")
    res = byte_lengths(gz, data)
    for i in (0, 10, 399, 799):
        expect = 8 * (len(zlib.compress(data[:i + 1], 9, 31)) - len(zlib.compress(data[:i], 9, 31)))
        assert res.bits[i] == expect


def test_strided_route_spreads_each_step_evenly():
    data = text(3000, seed=5)
    model = compgen.load("bz2")
    res = byte_lengths(model, data, stride=100)
    assert res.resolution == 100
    assert np.allclose(res.bits[:100], res.bits[0])
    assert abs(res.total - model.code_length(data)) <= 1e-6


# ------------------------------------------------------------------ language models
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    path = tmp_path_factory.mktemp("explain_lm")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=160, special_tokens=["<|endoftext|>", "<esc>"], show_progress=False)
    tok.train_from_iterator([WORDS.decode()] * 20, trainer)  # bytes outside WORDS are escaped
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   additional_special_tokens=["<esc>"])
    torch.manual_seed(7)
    cfg = GPT2Config(n_layer=2, n_embd=64, n_head=2, vocab_size=len(fast), n_positions=256, bos_token_id=0,
                     eos_token_id=0)
    GPT2LMHeadModel(cfg).save_pretrained(path)
    fast.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def tok_lm(tok_dir):
    return compgen.load(f"hf:{tok_dir}:threads=1")


def test_token_lm_bytes_tokens_and_total(tok_lm):
    data = text(1500, seed=6) + b"\x01 caf\xc3\xa9 " + text(300, seed=7)  # an escaped byte, UTF-8
    res = byte_lengths(tok_lm, data)
    assert abs(res.total - tok_lm.code_length(data)) <= 1e-6
    assert abs(res.bits.sum() - res.total) <= 1e-6
    spans = [(a, b) for a, b, *_ in res.tokens]
    assert spans[0][0] == 0 and spans[-1][1] == len(data)
    assert all(b == c for (_, b), (c, _) in zip(spans, spans[1:], strict=False))  # the tokens tile the bytes
    for a, b, tb, _, preds in res.tokens:
        assert abs(res.bits[a:b].sum() - tb) <= 1e-9
        probs = [p for _, p in preds]
        assert len(probs) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-9
    assert any(t[3].startswith("<escaped 0x01") for t in res.tokens)


def test_token_split_follows_the_models_prefix_probabilities(tok_lm):
    """Byte j of a token costs -log2 M(t[:j+1]) / M(t[:j]): checked against a brute-force
    softmax over the whole vocabulary at the first multi-byte token."""
    data = text(400, seed=8)
    res = byte_lengths(tok_lm, data)
    ids = tok_lm.codec.encode(data)
    table = tok_lm.codec.table
    k = next(i for i, t in enumerate(ids) if i > 3 and len(table[t]) >= 3)
    logits = tok_lm.all_logits(np.concatenate([[tok_lm.codec.bos_id], ids[:k]])[None, :])[0, -1].astype(np.float64)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    tok = table[ids[k]]
    start = sum(len(table[t]) for t in ids[:k])
    mass = [1.0] + [sum(p[v] for v, u in enumerate(table) if u and u.startswith(tok[:j])) for j in range(1, len(tok))]
    for j in range(len(tok) - 1):
        assert abs(res.bits[start + j] - (-np.log2(mass[j + 1] / mass[j]))) < 1e-3


def test_seven_bit_total(tok_dir):
    model = compgen.load(f"7bit:hf:{tok_dir}:threads=1")
    data = bytes(np.random.default_rng(9).integers(0, 256, 700, dtype=np.uint8))
    res = byte_lengths(model, data)
    assert abs(res.total - model.code_length(data)) <= 1e-6
    assert abs(res.bits.sum() - res.total) <= 1e-6


# ------------------------------------------------------------------ the command
def test_bad_input_is_one_line_and_leaves_nothing(tmp_path, tok_dir, cli):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    good = tmp_path / "a.txt"
    good.write_bytes(text(500))
    out = tmp_path / "out.html"
    cases = [
        (["explain", "-m", "gzip", empty, "-o", out], 1, "empty"),
        (["explain", "-m", "gzip,nosuchcodec", good, "-o", out], 2, "nosuchcodec"),
        (["explain", "-m", f"hf:{tok_dir}", binary, "-o", out], 2, "7bit:"),
        (["explain", "-m", "gzip", tmp_path / "missing.txt", "-o", out], 1, "no such file"),
        (["explain", "-m", "gzip", "image:" + str(good), "-o", out], 1, "not a readable image"),
        (["explain", "-m", "gzip", good, "-o", out, "--diff", "gzip,xz"], 2, "--diff"),
    ]
    for argv, code, words in cases:
        r = cli(*argv)
        assert r.code == code, (argv, r.err)
        lines = r.err.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "Traceback" not in r.err, (argv, r.err)
        assert not out.exists() and not [p for p in os.listdir(tmp_path) if p.endswith(".part")]
    out.write_bytes(b"keep")
    r = cli("explain", "-m", "gzip", good, "-o", out)
    assert r.code == 1 and "already exists" in r.err and out.read_bytes() == b"keep"


def test_huge_input_gets_a_stated_cut(tmp_path, cli):
    big = tmp_path / "big.txt"
    big.write_bytes(text(40000))
    out = tmp_path / "big.html"
    r = cli("explain", "-m", "gzip", big, "-o", out)
    assert r.code == 0, r.err
    assert "first 32,768 of 40,000 bytes" in r.err
    page = out.read_text()
    assert "first 32,768 of 40,000 bytes" in page
    assert _payload(page)["n"] == 32768


def test_a_second_run_reads_finished_models_back(tmp_path, cli):
    src = tmp_path / "r.txt"
    src.write_bytes(text(3000, seed=13))
    r = cli("explain", "-m", "gzip,ppmd", src, "-o", tmp_path / "1.html")
    assert r.code == 0 and "read back" not in r.err
    r = cli("explain", "-m", "ppmd,bz2", src, "-o", tmp_path / "2.html")  # as if killed after ppmd
    assert r.code == 0 and "ppmd: lengths of an earlier run" in r.err and "bz2:" not in r.err
    one, two = _payload((tmp_path / "1.html").read_text()), _payload((tmp_path / "2.html").read_text())
    assert one["models"][1]["total"] == two["models"][0]["total"] and one["models"][1]["bits"] == two["models"][0]["bits"]


def _payload(page: str) -> dict:
    m = re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def test_page_is_self_contained_and_png_written(tmp_path, tok_dir, cli):
    src = tmp_path / "t.txt"
    data = text(1200, seed=10)
    src.write_bytes(data)
    out, png = tmp_path / "t.html", tmp_path / "t.png"
    r = cli("explain", "-m", f"gzip,ppmd,hf:{tok_dir}:threads=1", src, "-o", out, "--png", png, "--diff", "3,1")
    assert r.code == 0, r.err
    page = out.read_text()
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<link" not in page  # nothing fetched
    d = _payload(page)
    assert d["n"] == len(data) and d["diff"] == [2, 0] and len(d["models"]) == 3
    assert d["models"][2]["tokens"] and len(d["models"][2]["bits"]) == len(data)
    from PIL import Image

    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 300


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(_chromium() is None, reason="no chromium binary")
def test_page_in_a_real_browser(tmp_path, tok_dir, cli):
    src = tmp_path / "b.txt"
    data = text(900, seed=11) + "naïve café\n".encode() + text(300, seed=12)
    src.write_bytes(data)
    out = tmp_path / "b.html"
    specs = ["gzip", "ppmd", f"hf:{tok_dir}:threads=1"]
    r = cli("explain", "-m", ",".join(specs), src, "-o", out)
    assert r.code == 0, r.err
    base = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,900"]
    dom = subprocess.run(base + ["--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert 'data-ready="1"' in dom  # the script ran to the end
    panes = re.findall(r'<div class="pane[^"]*" data-model="([^"]+)"[^>]*>(.*?)</div>', dom, re.S)
    assert [m for m, _ in panes] == ["0", "1", "2", "diff"]
    for _, body in panes:  # one cell per byte shown, in order
        cells = [int(i) for i in re.findall(r'<span class="b" data-i="(\d+)"', body)]
        assert cells == list(range(len(data)))
    totals = dict(re.findall(r'data-spec="([^"]+)" data-total="([^"]+)"', dom))
    for spec in specs:
        model = compgen.load(spec)
        try:
            assert abs(float(totals[model.spec]) - model.code_length(data)) <= 1e-6
        finally:
            getattr(model, "close", lambda: None)()
    # the hover box of one byte, as the page fills it (pinned by #tip=): bits per model, token, predictions
    i = len(data) // 2
    dom = subprocess.run(base + ["--dump-dom", out.as_uri() + f"#tip={i}"], capture_output=True, text=True,
                         timeout=120).stdout
    box = html.unescape(re.search(r'<div id="tip"[^>]*>(.*?)</div>', dom, re.S).group(1))
    assert f"byte {i}:" in box and "predicted next:" in box and box.count(" bits") >= 4
    shot = tmp_path / "shot.png"
    subprocess.run(base + [f"--screenshot={shot}", out.as_uri()], capture_output=True, timeout=120)
    from PIL import Image

    with Image.open(shot) as im:
        px = np.asarray(im.convert("RGB"), dtype=np.float64)
    assert px.std() > 20  # not blank
    assert len({tuple(c) for c in px[::7, ::7].reshape(-1, 3)}) > 20  # coloured cells, text, legend


# ------------------------------------------------------------------ media
def test_image_and_audio_pages(tmp_path, cli):
    from PIL import Image

    y, x = np.mgrid[0:64, 0:128]
    pic = ((x * 2 + y) % 256).astype(np.uint8)
    pic[20:40, 30:90] = np.random.default_rng(0).integers(0, 256, (20, 60))  # a noisy block costs bits
    Image.fromarray(pic).save(tmp_path / "p.png")
    r = cli("explain", "-m", "gzip,png,ppmd", f"image:{tmp_path / 'p.png'}", "-o", tmp_path / "p.html",
                "--png", tmp_path / "p_static.png", "--budget", "2")
    assert r.code == 0, r.err
    d = _payload((tmp_path / "p.html").read_text())
    assert d["n"] == 64 * 128 and d["grid"] == [2, 2] and set(d["images"]) == {"picture", "model0", "model1",
                                                                               "model2", "diff"}
    assert all(v.startswith("data:image/png;base64,") for v in d["images"].values())
    from compgen.data import read_modal

    _, pieces = read_modal(f"image:{tmp_path / 'p.png'}")
    for k, spec in enumerate(["gzip", "png", "ppmd"]):
        model = compgen.load(spec)
        try:
            score = 0.0
            for p in pieces:  # what cgz score adds up for image:PATH
                score += model.code_length(p.data)
        finally:
            getattr(model, "close", lambda: None)()
        assert abs(d["models"][k]["total"] - score) <= 1e-6
    import soundfile

    t = np.arange(16000 // 2) / 16000
    wave = (np.sin(2 * np.pi * 440 * t) * 12000 * (t < 0.3)).astype(np.int16)
    buf = io.BytesIO()
    soundfile.write(buf, wave, 16000, format="WAV", subtype="PCM_16")
    (tmp_path / "s.wav").write_bytes(buf.getvalue())
    r = cli("explain", "-m", "flac,ppmd", f"audio:{tmp_path / 's.wav'}", "-o", tmp_path / "s.html", "--budget", "2")
    assert r.code == 0, r.err
    d = _payload((tmp_path / "s.html").read_text())
    assert d["n"] == 8000 and d["pieces"] == 4 and set(d["images"]) == {"model0", "model1", "diff"}
    bits = np.frombuffer(__import__("base64").b64decode(d["models"][1]["bits64"]), dtype="<i2") / d["quantum"]
    assert bits[6000:].mean() < bits[:4000].mean()  # silence is cheaper than the tone's start
