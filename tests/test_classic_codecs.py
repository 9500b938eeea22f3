"""zpaq, JPEG XL lossless and WebP lossless as Models (registry, exact round trips,
header accounting, the Model route, bench units) on small generated data."""

from __future__ import annotations

import json

import numpy as np
import pytest

import compgen
from compgen.errors import UsageError

zpaq = pytest.importorskip("zpaq")
imagecodecs = pytest.importorskip("imagecodecs")
if not (imagecodecs.JPEGXL.available and imagecodecs.WEBP.available):  # pragma: no cover
    pytest.skip("imagecodecs without libjxl / libwebp", allow_module_level=True)

from compgen.compressors.image_codecs import picture, unpicture  # noqa: E402
from compgen.compressors.zpaq_codec import _framing  # noqa: E402

RNG = np.random.default_rng(7)
TEXT = b"".join(b"the %d cats sat on mat %d; " % (i % 13, i % 7) for i in range(200))  # ~5 KB
NOISE = RNG.integers(0, 256, 3001, dtype=np.uint8).tobytes()
y, x = np.mgrid[0:32, 0:64]
PATCH = np.clip((x * 3 + y * 2) % 256 + RNG.integers(-2, 3, (32, 64)), 0, 255).astype(np.uint8).tobytes()
INPUTS = [b"", b"a", b"ab", TEXT[:2047], TEXT, NOISE, PATCH, bytes(4099)]  # 4099 and 2047/3001 are awkward shapes

SPECS = ["zpaq", "zpaq:level=1", "zpaq:level=3:hints=0", "zpaq:method=x4.3ci1", "jxl", "jxl:effort=3", "webp",
         "webp:method=4"]


@pytest.fixture(scope="module")
def models():
    return {spec: compgen.load(spec) for spec in SPECS}


# ------------------------------------------------------------------ registry
def test_registry_names_specs_and_bad_parameters(models):
    assert {"zpaq", "jxl", "webp"} <= {e.name for e in compgen.registry.entries()}
    assert compgen.load("jpegxl").name == "jxl"
    assert models["zpaq"].spec == "zpaq:level=5" and models["zpaq"].stored_spec == "zpaq"
    assert models["zpaq:level=3:hints=0"].spec == "zpaq:level=3:hints=0"
    assert models["jxl"].spec == "jxl" and models["jxl:effort=3"].spec == "jxl:effort=3"
    assert models["webp"].spec == "webp" and models["webp:method=4"].spec == "webp:method=4"
    # a spec names exactly the model it loads
    for spec, m in models.items():
        assert compgen.load(m.spec).fingerprint() == m.fingerprint(), spec
    assert models["zpaq"].fingerprint() != models["zpaq:level=1"].fingerprint()
    assert models["webp"].fingerprint() != models["webp:method=4"].fingerprint()
    for bad, words in [("zpaq:level=6", "0..5"), ("zpaq:hints=2", "hints"), ("zpaq:method=x4;4", "method"),
                       ("jxl:effort=0", "1..10"), ("webp:quality=101", "0..100"), ("webp:method=7", "0..6")]:
        with pytest.raises(UsageError) as err:
            compgen.load(bad)
        assert words in str(err.value) and "\n" not in str(err.value)


def test_bench_and_seven_bit_treat_them_as_codecs():
    from compgen.bench.unit import is_codec_spec
    from compgen.lm.seven_bit import spec_for_modality

    for spec in ("zpaq", "zpaq:level=4", "jxl", "jpegxl", "webp"):
        assert is_codec_spec(spec)
        assert spec_for_modality(spec, "image") == spec  # never wrapped in 7bit:


# ------------------------------------------------------------------ native round trips
@pytest.mark.parametrize("spec", SPECS)
def test_native_round_trip_is_exact(models, spec):
    m = models[spec]
    for data in INPUTS:
        blob = m.compress(data)
        assert m.decompress(blob) == data, (spec, len(data))
        assert (blob == b"") == (data == b"")
    assert m.compress(TEXT) == m.compress(TEXT)  # deterministic (one thread)
    if spec.startswith("zpaq"):
        assert len(m.compress(TEXT)) < len(TEXT) // 3
    else:  # a smooth picture is what an image codec is for
        assert len(m.compress_media(PATCH, {"shape": (32, 64)})) < len(PATCH) // 2


def test_media_shapes_are_used():
    jxl, webp = compgen.load("jxl"), compgen.load("webp")
    for m, decode in ((jxl, imagecodecs.jpegxl_decode), (webp, imagecodecs.webp_decode)):
        wide = m.compress_media(PATCH, {"shape": (16, 128)})
        assert decode(wide).shape[:2] == (16, 128)
        assert decode(m.compress(PATCH)).shape[:2] == (32, 64)  # near-square default, the paper's patch
        assert m.decompress(wide) == PATCH
        assert m.compress_media(PATCH, {"shape": (5, 5)}) == m.compress(PATCH)  # a wrong shape is ignored


def test_pictures_too_wide_for_the_format_use_an_alpha_tail():
    data = NOISE[:1009]  # prime: the near-square picture is a 1 x 1009 line
    pixels, padded = picture(data, limit=64)
    assert padded and pixels.shape == (32, 32, 2)
    assert int((pixels[..., 1] == 255).sum()) == 1009 and unpicture(pixels) == data
    assert picture(data, limit=2000)[1] is False
    bad = pixels.copy()
    bad[0, 0, 1] = 0  # a hole in the opaque prefix
    with pytest.raises(ValueError):
        unpicture(bad)
    for spec in ("jxl", "webp"):
        m = compgen.load(spec)
        m.limit = 64  # as if the line were wider than the format allows
        blob = m.compress(data)
        assert m.decompress(blob) == data
        assert compgen.load(spec).decompress(blob) == data  # a plain file of the format: any instance reads it
    webp = compgen.load("webp")
    big = NOISE * 6  # 18,006 = 2 x 3 x 3001: its near-square picture is 6 x 3001, fits
    assert webp.decompress(webp.compress(big)) == big
    long_line = (NOISE * 6)[:16411]  # prime, wider than WebP's 16,383 pixels: padded for real
    assert webp.decompress(webp.compress(long_line)) == long_line


@pytest.mark.parametrize("spec", ["zpaq", "jxl", "webp"])
def test_garbage_is_refused_with_a_value_error(spec):
    m = compgen.load(spec)
    blob = m.compress(TEXT)
    for junk in (b"garbage bytes", blob[: len(blob) // 2]):
        try:
            out = m.decompress(junk)
        except ValueError:
            continue
        assert out != TEXT  # never the original from a cut or foreign stream


# ------------------------------------------------------------------ headers
def test_zpaq_header_is_the_framing_around_the_coded_data():
    for level in range(6):
        m = compgen.load(f"zpaq:level={level}:hints=0")
        other = TEXT.replace(b"cats", b"dogs")
        a, b, c = m.compress(TEXT), m.compress(other), m.compress(NOISE)
        ha, hb, hc = m.header_bytes(a), m.header_bytes(b), m.header_bytes(c)
        assert 0 < ha < len(a) and 0 < hb < len(b) and 0 < hc < len(c)
        # the same model description for similar inputs of the same length (libzpaq picks the
        # model from the data, so random bytes may get another one): only coded data differs
        assert ha == hb and a != b
        assert _framing(a + c) == ha + hc  # two blocks: both walked
    h1 = compgen.load("zpaq:level=1:hints=0").header_bytes(compgen.load("zpaq:level=1:hints=0").compress(TEXT))
    h5 = compgen.load("zpaq:level=5:hints=0").header_bytes(compgen.load("zpaq:level=5:hints=0").compress(TEXT))
    assert h5 > h1 + 100  # level 5's context-mixing model description is most of its header
    assert compgen.load("zpaq").header_bytes(b"not zpaq at all") == 0


def test_webp_and_jxl_headers():
    webp, jxl = compgen.load("webp"), compgen.load("jxl")
    blob = webp.compress_media(PATCH, {"shape": (32, 64)})
    assert blob[:4] == b"RIFF" and blob[12:16] == b"VP8L"
    assert webp.header_bytes(blob) == 25 + (int.from_bytes(blob[16:20], "little") & 1)
    j = jxl.compress(PATCH)
    assert j[:2] == b"\xff\x0a" and jxl.header_bytes(j) == 2
    assert webp.header_bytes(b"xx") == 0 and jxl.header_bytes(b"xx") == 0


# ------------------------------------------------------------------ the Model side
@pytest.mark.parametrize("spec", ["zpaq:level=1", "zpaq:level=4", "jxl:effort=3", "webp:method=4"])
def test_next_byte_distribution_and_code_lengths(spec):
    m = compgen.load(spec)
    ctx = TEXT[:300]
    p = m.next_byte_probs(ctx)
    assert p.shape == (256,) and abs(p.sum() - 1) < 1e-9 and (p > 0).all()
    cont = TEXT[300:340]
    assert m.code_length(cont, ctx) == 8.0 * (len(m.compress(ctx + cont)) - len(m.compress(ctx)))
    assert m.code_length(b"", b"") == 0.0
    lens = m.code_lengths([b"the ", b"\x00\xff\x13\x07"], ctx)
    assert lens[0] <= lens[1]  # a likely continuation is not longer than noise


@pytest.mark.parametrize("spec", ["zpaq:level=1", "jxl:effort=3", "webp:method=4"])
def test_range_coded_round_trip(spec):
    data = TEXT[:24]
    comp = compgen.as_compressor(spec)
    blob = comp.compress(data)
    assert comp.decompress(blob) == data and compgen.decompress(blob) == data
    assert len(blob) <= len(data) + 80  # stored when coding does not win: bounded


def test_span_sampling_runs(tmp_path):
    out = compgen.sample(compgen.load("zpaq:level=1"), prompt=b"the ", prime=TEXT[:1500], n=12, seed=0)
    assert isinstance(out, (bytes, str)) and len(out) >= 12


# ------------------------------------------------------------------ bench units
def test_bench_units_and_a_small_table(tmp_path, cli):
    from PIL import Image
    import soundfile as sf

    from compgen.bench.unit import measure

    r = measure("jxl", PATCH, {"verify": True, "meta": {"shape": (32, 64)}})
    assert r["error"] is None and r["verified"] is True and r["header_bytes"] == 2
    r = measure("zpaq", TEXT, {"verify": True})
    assert r["error"] is None and r["verified"] is True and 0 < r["header_bytes"] < r["output_bytes"]

    img = tmp_path / "img.png"
    Image.fromarray(np.frombuffer(PATCH * 4, np.uint8).reshape(128, 64)).save(img)
    wav = tmp_path / "s.wav"
    t = np.arange(8192) / 16000
    sf.write(wav, (8000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16), 16000, subtype="PCM_16")
    text = tmp_path / "t.txt"
    text.write_bytes(TEXT)
    out = tmp_path / "bench-out"
    res = cli("-q", "bench", "--models", "gzip,zpaq:level=4,png,jxl,webp,flac", "--data", f"text:{text}",
              f"image:{img}", f"audio:{wav}", "--chunk", "2048", "--verify", "--no-cli-check", "--no-plots",
              "-o", out)
    assert res.code == 0, res.err
    doc = json.loads((out / "bench.json").read_text())
    rows = {(s["modality"], s["mode"], s["label"]): s for s in doc["summary"]}
    assert all(s["verify_failed"] == 0 and s["verified"] == s["units"] for s in doc["summary"])
    for label in ("zpaq:level=4", "jxl", "webp"):
        for modality in ("text", "image", "audio"):
            assert (modality, "chunked", label) in rows
    webp_img = rows[("image", "chunked", "webp")]
    assert webp_img["units"] == 4 and webp_img["raw_rate_header_once"] < webp_img["raw_rate"]
    md = (out / "bench.md").read_text()
    assert "| webp |" in md and "| jxl |" in md


def test_table1_script_resumes_per_model(tmp_path, monkeypatch):
    import importlib.util

    from PIL import Image
    import soundfile as sf

    from pathlib import Path

    root = tmp_path / "data"
    for sub in ("canterbury", "images", "audio"):
        (root / sub).mkdir(parents=True)
    (root / "canterbury" / "t.txt").write_bytes(TEXT)
    Image.fromarray(np.frombuffer(PATCH * 2, np.uint8).reshape(64, 64)).save(root / "images" / "i.png")
    t = np.arange(4096) / 16000
    sf.write(root / "audio" / "s.wav", (8000 * np.sin(2 * np.pi * 330 * t)).astype(np.int16), 16000)
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "table1.py"
    spec = importlib.util.spec_from_file_location("table1_script", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "res" / "table1.json"
    argv = ["-m", "gzip,webp", "--max-bytes", "5K", "--mode", "chunked", "--data-root", str(root), "--out", str(out)]
    assert mod.main(argv) == 0
    doc = json.loads(out.read_text())
    assert doc["models"] == ["gzip", "webp"] and doc["all_verified"] is True
    assert doc["chunks_per_modality"] == {"text": 2, "image": 2, "audio": 2}
    assert sorted(p.name for p in (tmp_path / "res" / "table1").iterdir()) == ["gzip.json", "webp.json"]
    assert "| webp |" in out.with_suffix(".md").read_text() and out.with_suffix(".png").stat().st_size > 0

    def boom(*a, **k):
        raise AssertionError("a stored model was measured again")

    monkeypatch.setattr("compgen.bench.job.run_job", boom)
    assert mod.main(argv) == 0  # both models kept from the first run: a killed run resumes
    with pytest.raises(AssertionError):
        mod.main(argv[:1] + ["gzip,webp,zpaq:level=1"] + argv[2:])  # a new model is measured
