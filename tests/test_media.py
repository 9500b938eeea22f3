"""Images and audio end to end on small generated files (no ../shared needed).

Loaders are exact (grayscale = floor of the RGB mean, patches reassemble, the paper's
``(x >> 8) + 128``), every codec model round-trips image patches and audio chunks, the
exact 7-bit scheme round-trips through a tiny token LM, bad media give one-line errors,
and bench / score / sample / icl curve accept ``image:`` and ``audio:`` data.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
sf = pytest.importorskip("soundfile")

from PIL import Image  # noqa: E402

from compgen.data import Options, iter_units, load_units, parse_data_spec, read_modal  # noqa: E402
from compgen.data import audio as audio_mod  # noqa: E402
from compgen.data import image as image_mod  # noqa: E402
from compgen.errors import UsageError  # noqa: E402

CODECS = ["gzip", "zlib", "deflate", "zstd", "xz", "bz2", "ppmd", "png", "flac"]


def smooth_image(h=70, w=130, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 2) % 256, (y * 3) % 256, (x + y) % 256], axis=2)
    return np.clip(base + rng.integers(-3, 4, base.shape), 0, 255).astype(np.uint8)


def speech_like(n=8000, rate=16000, seed=0) -> np.ndarray:
    t = np.arange(n) / rate
    rng = np.random.default_rng(seed)
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    x = env * (6000 * np.sin(2 * np.pi * 220 * t) + 2000 * np.sin(2 * np.pi * 660 * t)) + rng.normal(0, 200, n)
    return np.clip(x, -32768, 32767).astype(np.int16)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    img_dir, aud_dir = d / "images", d / "audio"
    img_dir.mkdir()
    aud_dir.mkdir()
    rgb = smooth_image()
    Image.fromarray(rgb).save(img_dir / "a.png")
    Image.fromarray(smooth_image(64, 64, 1)[:, :, 0]).save(img_dir / "b.png")  # grayscale
    (img_dir / "notes.txt").write_text("not an image; skipped inside a folder")
    x = speech_like()
    sf.write(aud_dir / "s.wav", x, 16000, subtype="PCM_16")
    (aud_dir / "transcript.txt").write_text("skipped too")
    return {"dir": d, "images": img_dir, "audio": aud_dir, "rgb": rgb, "samples": x}


# ------------------------------------------------------------------ loaders
def test_spec_parsing():
    assert parse_data_spec("image:x/y.png").modality == "image"
    assert parse_data_spec("audio:clip.wav").path == "clip.wav"
    assert parse_data_spec("some/file").modality == "bytes"
    assert parse_data_spec("C:/odd") == parse_data_spec("C:/odd")  # unknown prefix: a path
    with pytest.raises(UsageError):
        parse_data_spec("image:")


def test_grayscale_is_floor_of_rgb_mean_and_patches_reassemble(media):
    gray = image_mod.load_gray(media["images"] / "a.png")
    expect = (media["rgb"].astype(np.uint16).sum(axis=2) // 3).astype(np.uint8)
    assert np.array_equal(gray, expect)
    pieces = list(iter_units([parse_data_spec(f"image:{media['images'] / 'a.png'}")], "chunked", Options()))
    assert len(pieces) == (70 // 32) * (130 // 64) == 4 and all(len(p.data) == 2048 for p in pieces)
    back = image_mod.reassemble([p.data for p in pieces], pieces[0].info["grid"], (32, 64))
    assert np.array_equal(back, gray[:64, :128])
    small = list(iter_units([parse_data_spec(f"image:{media['images'] / 'a.png'}")], "chunked",
                            Options(patch=(8, 16))))
    assert len(small) == (70 // 8) * (130 // 16) and len(small[0].data) == 128


def test_other_image_modes(tmp_path):
    g16 = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    assert np.array_equal(image_mod.load_gray(tmp_path / "g16.png"), (g16 >> 8).astype(np.uint8))
    rgba = np.dstack([smooth_image(40, 40), np.full((40, 40), 7, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    expect = (rgba[:, :, :3].astype(np.uint16).sum(axis=2) // 3).astype(np.uint8)
    assert np.array_equal(image_mod.load_gray(tmp_path / "rgba.png"), expect)
    Image.fromarray(smooth_image(40, 40)).save(tmp_path / "p.jpg", quality=90)
    assert image_mod.load_gray(tmp_path / "p.jpg").shape == (40, 40)


def test_audio_formula_on_known_samples(tmp_path):
    x = np.array([-32768, -257, -256, -1, 0, 1, 255, 256, 32767], dtype=np.int16)
    sf.write(tmp_path / "k.wav", x, 16000, subtype="PCM_16")
    data, info = audio_mod.load_u8(tmp_path / "k.wav")
    assert list(data) == [0, 126, 127, 127, 128, 128, 128, 129, 255]
    assert info == {"source_rate": 16000, "channels": 1, "frames": 9}
    assert np.array_equal(audio_mod.to_int16(data) >> 8, x >> 8)


def test_stereo_44k_is_downmixed_and_resampled(tmp_path):
    t = np.arange(22050) / 44100
    left = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    sf.write(tmp_path / "st.wav", np.stack([left, left // 2], axis=1), 44100, subtype="PCM_16")
    data, info = audio_mod.load_u8(tmp_path / "st.wav")
    assert info["channels"] == 2 and info["source_rate"] == 44100
    assert abs(len(data) - 8000) <= 1  # 0.5 s at 16 kHz
    spectrum = np.abs(np.fft.rfft(np.frombuffer(data, np.uint8).astype(float) - 128))
    assert abs(np.argmax(spectrum) * 16000 / len(data) - 440) < 5  # the tone survived at its pitch


def test_folders_stream_one_file_at_a_time(media, monkeypatch):
    calls = []
    real = image_mod.load_gray
    monkeypatch.setattr(image_mod, "load_gray", lambda p: calls.append(p) or real(p))
    it = iter_units([parse_data_spec(f"image:{media['images']}")], "chunked", Options())
    next(it)
    assert len(calls) == 1  # the second image is not decoded before the first is used
    rest = list(it)
    assert len(calls) == 2 and len(rest) == 5  # a.png: 4 patches, b.png (64x64): 2 patches
    sample = load_units([parse_data_spec(f"image:{media['images']}")], "chunked", Options(), max_bytes=4096)
    assert len(sample) == 2  # a seeded sample bounded by max_bytes


# ------------------------------------------------------------------ codecs
@pytest.mark.parametrize("spec", CODECS)
def test_every_codec_roundtrips_patches_and_chunks(media, spec):
    from compgen.bench.unit import measure

    _, img = read_modal(f"image:{media['images']}")
    _, aud = read_modal(f"audio:{media['audio']}")
    for p in img[:2] + aud[:2]:
        r = measure(spec, p.data, {"verify": True, "meta": p.info})
        assert r["error"] is None and r["verified"] is True, r
        assert 0 < r["output_bytes"]


def test_png_and_flac_headers_and_native_shapes(media):
    import compgen

    png, flac = compgen.load("png"), compgen.load("flac")
    _, img = read_modal(f"image:{media['images']}")
    blob = png.compress_media(img[0].data, img[0].info)
    with Image.open(__import__("io").BytesIO(blob)) as im:
        assert im.size == (64, 32) and im.mode == "L"  # a 32x64 patch is coded as itself
    assert 57 <= png.header_bytes(blob) < len(blob)
    _, aud = read_modal(f"audio:{media['audio']}")
    fb = flac.compress(aud[0].data)
    assert fb[:4] == b"fLaC" and 42 <= flac.header_bytes(fb) < len(fb)
    assert flac.decompress(fb) == aud[0].data and png.decompress(png.compress(b"xyz" * 7)) == b"xyz" * 7
    assert png.compress(b"") == b"" and png.decompress(b"") == b""
    # the baselines are real: on smooth pictures PNG beats gzip, on tonal sound FLAC does
    gz = compgen.load("gzip")
    assert sum(len(png.compress_media(p.data, p.info)) for p in img) < sum(len(gz.compress(p.data)) for p in img)
    assert sum(len(flac.compress(p.data)) for p in aud) < sum(len(gz.compress(p.data)) for p in aud)


@pytest.mark.parametrize("spec", ["png", "flac"])
def test_png_and_flac_as_range_coded_models(spec):
    import compgen

    data = bytes(range(100, 140))
    comp = compgen.as_compressor(spec)
    blob = comp.compress(data)
    assert compgen.as_compressor(spec).decompress(blob) == data


# ------------------------------------------------------------------ 7-bit scheme
def test_seven_bit_split_join_and_low_bit_models():
    from compgen.lm.seven_bit import LOW_MODELS, join, low_bits_cost, split

    allb = bytes(range(256))
    high, low = split(allb)
    assert max(high) < 128 and join(high, low) == allb
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, 2048, dtype=np.uint8).tobytes()
    h, lo = split(noise)
    assert min(low_bits_cost(k, h, lo) for k in LOW_MODELS) <= len(noise)  # never above 1 bit/byte
    quiet = bytes([127, 128, 128, 127] * 512)  # 8-bit silence: 127 = 63|1, 128 = 64|0
    h, lo = split(quiet)
    assert low_bits_cost("high", h, lo) < 0.02 * len(quiet)


@pytest.fixture(scope="module")
def tiny_token_lm(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("tokenizers")
    from tests.test_lm import _save_token_lm

    return _save_token_lm(tmp_path_factory.mktemp("tok") / "tok")


def test_seven_bit_scheme_roundtrips_through_a_tiny_lm(media, tiny_token_lm):
    import compgen
    from compgen.lm.seven_bit import SevenBitModel, bits_summary

    m = compgen.load(f"7bit:hf:{tiny_token_lm}:threads=1")
    assert isinstance(m, SevenBitModel) and compgen.load(m.spec).spec == m.spec
    _, img = read_modal(f"image:{media['images']}")
    _, aud = read_modal(f"audio:{media['audio']}")
    for data in (img[0].data[:384], aud[0].data[:384], bytes([127, 128] * 100)):
        comp = compgen.as_compressor(m)
        blob = comp.compress(data)
        assert compgen.as_compressor(m).decompress(blob) == data
        s = bits_summary(m, data)
        assert s["exact_bpb"] - s["lossy_bpb"] <= 1.0 + 1e-9  # the exact scheme costs <= 1 bit/byte more
    escape = compgen.load(f"hf:{tiny_token_lm}:threads=1")  # today's route, same chunk
    blob = compgen.as_compressor(escape).compress(img[0].data[:256])
    assert compgen.as_compressor(escape).decompress(blob) == img[0].data[:256]


def test_seven_bit_refuses_a_cut_payload(tiny_token_lm):
    import compgen
    from compgen.errors import RefusedError

    m = compgen.load(f"7bit:hf:{tiny_token_lm}:threads=1")
    coder = m.payload_coder()
    payload, settings, _ = coder.encode(bytes(range(60)))
    with pytest.raises(RefusedError):
        coder.decode(payload[:3], 60, settings)


# ------------------------------------------------------------------ bad input, CLI
def test_bad_media_give_one_line_errors(tmp_path, cli):
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    good = tmp_path / "good.png"
    Image.fromarray(smooth_image(64, 64)).save(good)
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    (tmp_path / "words.txt").write_text("hello, I am text, not a sound\n" * 20)
    (tmp_path / "x.xyz").write_bytes(b"\x00\x01" * 100)
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [(["score", "-m", "gzip", f"image:{tmp_path / 'junk.png'}"], 1, "not a readable image"),
             (["score", "-m", "gzip", f"image:{tmp_path / 'cut.png'}"], 1, "not a readable image"),
             (["score", "-m", "gzip", f"audio:{tmp_path / 'words.txt'}"], 1, "not a readable audio file"),
             (["score", "-m", "gzip", f"image:{tmp_path / 'x.xyz'}"], 1, "not a readable image"),
             (["score", "-m", "gzip", f"audio:{empty}"], 2, "no audio files"),
             (["bench", "-m", "gzip", "--data", f"image:{empty}", "-o", str(tmp_path / "o")], 2, "no image files"),
             (["score", "-m", "gzip", f"image:{tmp_path / 'missing.png'}"], 1, "no such file")]
    for argv, code, text in cases:
        r = cli(*argv)
        assert r.code == code, (argv, r.err)
        assert text in r.err and len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err


def test_bench_with_three_modalities(media, tmp_path, cli):
    text = tmp_path / "t.txt"
    text.write_bytes(b"the cat sat on the mat and the dog sat on the log. " * 120)
    out = tmp_path / "bench-out"
    r = cli("-q", "bench", "--models", "gzip,png,flac", "--data", f"text:{text}", f"image:{media['images']}",
            f"audio:{media['audio']}", "--chunk", "2048", "--verify", "--no-cli-check", "-o", out)
    assert r.code == 0, r.err
    for name in ("bench.md", "bench.json", "bench.csv", "bench_table1.png", "bench_rates.png"):
        assert (out / name).stat().st_size > 0
    doc = json.loads((out / "bench.json").read_text())
    rows = {(s["modality"], s["mode"], s["label"]): s for s in doc["summary"]}
    assert {m for m, _, _ in rows} == {"text", "image", "audio"}
    assert all(s["verify_failed"] == 0 and s["verified"] == s["units"] for s in doc["summary"])
    png_img = rows[("image", "chunked", "png")]
    assert png_img["raw_rate_header_once"] < png_img["raw_rate"]  # header counted once
    md = (out / "bench.md").read_text()
    assert "paper: png" in md and "image chunked raw %" in md


def test_score_sample_and_curve_on_media(media, tmp_path, cli):
    r = cli("score", "-m", "gzip,png", f"image:{media['images'] / 'a.png'}", f"audio:{media['audio'] / 's.wav'}")
    assert r.code == 0 and b"image:" in r.out
    grid = tmp_path / "samples.png"
    r = cli("-q", "sample", "-m", "gzip,zstd", "--prime", f"image:{media['images'] / 'a.png'}", "--crop", "4x16",
            "-o", grid)
    assert r.code == 0, r.err
    assert grid.stat().st_size > 0 and b"PSNR" in r.out
    rows = json.loads(grid.with_suffix(".json").read_text())["results"]
    assert len(rows) == 1 + 2 * 2  # real + 2 models x (byte, span)
    wav = tmp_path / "continued.wav"
    r = cli("-q", "sample", "-m", "gzip", "--prime", f"audio:{media['audio'] / 's.wav'}", "--seconds", "0.05",
            "--prime-seconds", "0.3", "-o", wav)
    assert r.code == 0, r.err
    x, rate = sf.read(wav, dtype="int16")
    assert rate == 16000 and len(x) == int(0.35 * 16000)
    assert (tmp_path / "continued-spectrogram.png").stat().st_size > 0
    r = cli("-q", "icl", "curve", "--models", "gzip", "--data", f"image:{media['images']}", f"audio:{media['audio']}",
            "--max-chunks", "2", "--workers", "1", "-o", tmp_path / "icl")
    assert r.code == 0, r.err
    doc = json.loads((tmp_path / "icl" / "curve.json").read_text())
    assert [p["modality"] for p in doc["panels"]] == ["image", "audio"]
    assert (tmp_path / "icl" / "curve.png").stat().st_size > 0
