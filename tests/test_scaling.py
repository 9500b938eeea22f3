"""cgz scaling: a tiny study end to end (tables, reload, resume, Dask) and the fitters."""

from __future__ import annotations

import faulthandler
import json
import multiprocessing
import random
import time

import numpy as np
import pytest

from compgen.errors import MissingDependencyError, UsageError
from compgen.scaling import fits as F
from compgen.scaling.plan import Study


def _words(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    words = "the of and a to in is you that it he was for on are as with his they at be this from".split()
    return " ".join(rng.choice(words) for _ in range(n // 3)).encode()[:n]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from PIL import Image

    sf = pytest.importorskip("soundfile")
    d = tmp_path_factory.mktemp("scaling-data")
    (d / "train.txt").write_bytes(_words(60_000, 1))
    (d / "next.txt").write_bytes(_words(8_192, 2))
    (d / "img").mkdir()
    rng = np.random.default_rng(3)
    pix = (np.add.outer(np.arange(64), np.arange(128)) % 256).astype(np.uint8) ^ rng.integers(0, 8, (64, 128), dtype=np.uint8)
    Image.fromarray(pix, mode="L").save(d / "img" / "ramp.png")
    (d / "snd").mkdir()
    t = np.arange(8_000) / 16_000
    sf.write(d / "snd" / "tone.wav", (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16), 16_000)
    return d


def _study(data, **kw) -> Study:
    base = dict(corpus=str(data / "train.txt"),
                evals=[f"text:{data / 'next.txt'}", f"image:{data / 'img'}", f"audio:{data / 'snd'}"],
                sizes=[8_000, 25_000, 40_000], tokens=2_048, checkpoints=[1_024, 2_048], batch_size=2, warmup=2,
                heldout_eval_bytes=2_048, eval_bytes=4_096, verify_chunks=0, icl_items=1, icl_shots=1, bootstrap=20)
    base.update(kw)
    return Study(**base)


@pytest.fixture(scope="module")
def done(data, tmp_path_factory):
    from compgen.scaling.study import run_study

    out = tmp_path_factory.mktemp("study")
    report = run_study(_study(data), out, "local")
    return out, report


def test_tables_are_sizes_by_checkpoints_per_modality(done):
    out, report = done
    from compgen.scaling.tables import grid

    assert set(report["fits"]) == {"text", "image", "audio"}
    for m in ("text", "image", "audio"):
        head, rows = grid(report, m)
        assert len(rows) == 3 and len(head) == 3 + 2
        assert [r[0] for r in rows] == ["8k", "25k", "40k"]
        assert all(isinstance(v, float) and 0 < v < 12 for r in rows for v in r[3:])
        csv = (out / f"table_{m}.csv").read_text().splitlines()
        assert len(csv) == 4 and csv[0].startswith("size,params")
    pts = report["points"]
    assert len(pts) == 3 * 2 * 3
    assert {p["tokenizer"] for p in pts} == {"bytes"} and all(isinstance(p["params"], int) for p in pts)
    alpha = report["fits"]["text"]["size"]["alpha"]
    assert set(alpha) == {"value", "ci95"}
    for name in ("bits_vs_params", "loss_vs_tokens", "compute_frontier", "adjusted_rate", "icl_vs_bits"):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((out / "scaling.json").read_text())
    assert saved["points"] == report["points"]


def test_a_checkpoint_reloads_and_scores_the_same_bits(done):
    out, report = done
    from compgen.scaling.evaluate import code_unit, eval_unit

    units = sorted((out / "units").glob("eval-*.json"))
    rec = json.loads(units[0].read_text())
    meta = json.loads((out / "models" / rec["unit"]["size"] / f"t{rec['unit']['tokens']}" / "compgen.json").read_text())
    assert meta["scaling"]["tokens"] == rec["unit"]["tokens"] and meta["scaling"]["flops_6nd"] == 6 * meta["params"] * meta["scaling"]["tokens"]
    assert meta["scaling"]["non_embedding_params"] < meta["params"]
    again = eval_unit(rec["unit"])
    assert again["bits"] == rec["result"]["bits"]
    coded = code_unit(dict(rec["unit"], indices=[0]))["chunks"][0]
    assert coded["verified"] and coded["error"] is None
    # the range coder's payload stays close to the teacher-forced bits of the same chunk
    assert abs(8 * coded["payload_bytes"] - rec["result"]["bits"][0]) < 0.15 * rec["result"]["bits"][0] + 64


def test_killed_and_resumed_equals_uninterrupted(done, data, tmp_path):
    from compgen.scaling.study import run_study

    out, _ = done
    part = tmp_path / "resumed"
    assert run_study(_study(data), part, "local", limit=2) is None  # "killed" after two units
    assert len(list((part / "units").glob("*.json"))) == 2
    assert run_study(_study(data), part, "local", limit=5) is None
    run_study(_study(data), part, "local", plots=False)
    assert (part / "scaling.json").read_bytes() == (out / "scaling.json").read_bytes()


def test_fitters_recover_known_exponents():
    n = np.array([8e3, 2.5e4, 4e4, 8.6e4, 2.2e5, 4.7e5, 8.2e5, 1.7e6])
    d = np.array([2.5e5, 5e5, 1e6, 2e6, 4e6])
    nn, dd = (a.ravel() for a in np.meshgrid(n, d, indexing="ij"))
    true = {"E": 1.2, "A": 40.0, "alpha": 0.35, "B": 300.0, "beta": 0.45}
    loss = F.chinchilla_curve(true, nn, dd) * np.exp(np.random.default_rng(0).normal(0, 0.002, len(nn)))
    c = F.fit_chinchilla(nn, dd, loss)
    assert abs(c["alpha"] - 0.35) < 0.03 and abs(c["beta"] - 0.45) < 0.05 and abs(c["E"] - 1.2) < 0.1
    j = F.fit_joint(nn, dd, loss)
    assert abs(j["alpha"] - 0.35) < 0.03 and abs(j["beta"] - 0.45) < 0.05
    s = F.fit_size(n, 2.0 + 30.0 / n ** 0.4)
    assert abs(s["alpha"] - 0.4) < 1e-4 and abs(s["E"] - 2.0) < 1e-4
    r = F.pearson_ci(np.arange(20.0), 3 - 0.5 * np.arange(20.0) + np.random.default_rng(1).normal(0, 0.1, 20))
    assert r["r"] < -0.99 and r["ci95"][1] < -0.9


def test_bad_input_is_one_line(cli, data, tmp_path):
    r = cli("scaling", "--corpus", data / "missing.txt", "--eval", f"text:{data / 'next.txt'}", "-o", tmp_path / "o")
    assert r.code == 2 and "no such file" in r.err and "Traceback" not in r.err
    r = cli("scaling", "--corpus", data / "train.txt", "--eval", f"text:{data / 'next.txt'}", "--sizes", "8k,abc",
            "-o", tmp_path / "o")
    assert r.code == 2 and "bad size" in r.err
    with pytest.raises(UsageError):
        _study(data, checkpoints=[10**9]).validate()


def test_tokenizer_study_says_what_it_needs(cli, data, tmp_path, monkeypatch):
    import compgen.scaling.tokenize as tok

    def missing():
        raise MissingDependencyError(tok.NEEDS)

    monkeypatch.setattr(tok, "require_bpe", missing)
    r = cli("scaling", "--corpus", data / "train.txt", "--eval", f"text:{data / 'next.txt'}",
            "--tokenizers", "bytes,bpe1k", "-o", tmp_path / "o")
    assert r.code == 4 and "compgen.lm.bpe" in r.err
    assert tok.parse_tokenizers("bytes,bpe1k,bpe16k") == ["bytes", "bpe1k", "bpe16k"]
    assert tok.vocab_size("bpe4k") == 4096


def test_dask_equals_local(done, data, tmp_path):
    pytest.importorskip("distributed")
    from compgen.executors import local_cluster
    from compgen.scaling.study import run_study

    out, _ = done
    faulthandler.dump_traceback_later(240, exit=True)
    cluster, client = local_cluster(2, dashboard=False)
    try:
        client.wait_for_workers(2, timeout=60)
        run_study(_study(data), tmp_path / "dask", client, plots=False)
    finally:
        client.close()
        cluster.close(timeout=30)
        faulthandler.cancel_dump_traceback_later()
    assert (tmp_path / "dask" / "scaling.json").read_bytes() == (out / "scaling.json").read_bytes()
    deadline = time.monotonic() + 20
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)


def test_adjusted_view_marks_extrapolation_and_frontier_optimum_is_the_minimum():
    from compgen.scaling.adjusted import adjusted_view
    from compgen.scaling.frontier import fit_optimum

    chin = {"E": 1.0, "A": 30.0, "alpha": 0.3, "B": 200.0, "beta": 0.4}
    sizes = [{"size": "s", "params": 10_000, "measured": {1_000_000: 3.0}},
             {"size": "l", "params": 1_000_000, "measured": {1_000_000: 2.5}}]
    codecs = {"gzip": {"rate": 0.37, "rate_1mb": 0.371, "at_bytes": 1_150_000}}
    rows = adjusted_view(sizes, chin, codecs)
    first, last = rows[0], rows[-1]
    assert [m["source"] for m in first["models"]] == ["measured", "measured"]
    assert first["best"]["float32"]["size"] == "s"  # 4 MB of weights cannot pay off on 1 MB
    assert first["models"][1]["adjusted_rate"]["int8"] == pytest.approx(2.5 / 8 + 1.0)
    assert {m["source"] for m in last["models"]} == {"extrapolated"} and last["best"]["float32"]["size"] == "l"
    assert first["codecs"]["gzip"] == {"rate": 0.371, "at_bytes": 10**6, "measured": True}
    assert last["codecs"]["gzip"]["measured"] is False
    c = 1e13
    opt = fit_optimum(chin, c)
    grid = np.geomspace(1e2, 1e9, 20001)
    numeric = F.chinchilla_curve(chin, grid, c / (6 * grid))
    assert opt["params"] == pytest.approx(grid[np.argmin(numeric)], rel=2e-3)
    assert opt["bits_per_byte"] == pytest.approx(numeric.min(), rel=1e-6)
