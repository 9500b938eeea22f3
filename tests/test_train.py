"""`cgz train`: tiny byte LMs trained for a few steps in a temp dir (fast, CPU)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from compgen.cli import main  # noqa: E402
from compgen.lm.train import (BOS_ID, SIZES, Shape, TrainSettings, build_config, count_params,  # noqa: E402
                              heldout_bits_per_byte, parse_count, save_model_dir, shape_for_size, train)

TINY = Shape(layers=1, width=32, heads=1, ffn=64, context=32)


def periodic_corpus(n=20000) -> bytes:
    """Trivially predictable: a short phrase repeated."""
    unit = b"the cat sat on the mat. "
    return (unit * (n // len(unit) + 1))[:n]


def fast(**kw) -> TrainSettings:
    base = dict(steps=40, batch_size=8, lr=1e-2, warmup=5, eval_every=20, eval_bytes=2000,
                checkpoint_minutes=0, threads=1, seed=0)
    base.update(kw)
    return TrainSettings(**base)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("lm") / "tiny"
    meta = train(periodic_corpus(), out, TINY, fast(), corpus_name="periodic")
    return out, meta


def test_output_files_and_metadata(trained):
    out, meta = trained
    assert (out / "model.safetensors").is_file() and (out / "config.json").is_file()
    on_disk = json.loads((out / "compgen.json").read_text())
    assert on_disk == json.loads(json.dumps(meta))
    assert on_disk["kind"] == "byte-lm" and on_disk["bos_id"] == BOS_ID == 256
    assert on_disk["context"] == 32
    t = on_disk["train"]
    assert t["corpus"] == "periodic" and t["corpus_bytes"] == 20000
    assert t["heldout_start"] == 19000 and t["heldout_bytes"] == 1000
    assert t["steps"] == 40 and t["tokens_seen"] == 40 * 8 * 31
    assert t["complete"] is True and t["wall_time_s"] > 0
    assert [h["step"] for h in t["history"]] == [20, 40, 40]
    config = json.loads((out / "config.json").read_text())
    assert config["vocab_size"] == 257 and config["bos_token_id"] == 256
    # no temp or backup directories left next to the model
    assert [p.name for p in out.parent.iterdir()] == ["tiny"]


def test_learns_predictable_corpus(trained):
    _, meta = trained
    bpb = meta["train"]["heldout_bits_per_byte"]
    assert math.isfinite(bpb)
    # random init is ~log2(257) = 8.0; the repeated phrase has 12 distinct bytes (3.6 bits unigram)
    assert bpb < 3.0, bpb
    first = meta["train"]["history"][0]["heldout_bpb"]
    assert bpb <= first + 1e-6


def test_params_match_model(trained):
    from transformers import AutoModelForCausalLM

    out, meta = trained
    net = AutoModelForCausalLM.from_pretrained(out)
    assert sum(p.numel() for p in net.parameters()) == meta["params"] == count_params(TINY)


def test_reload_reproduces_heldout_loss(trained):
    from transformers import AutoModelForCausalLM

    out, meta = trained
    net = AutoModelForCausalLM.from_pretrained(out)
    held = np.frombuffer(periodic_corpus()[meta["train"]["heldout_start"]:], dtype=np.uint8)
    again = heldout_bits_per_byte(net, held, meta["context"])
    assert again == pytest.approx(meta["train"]["heldout_bits_per_byte"], abs=1e-4)
    # a hand-computed loss on one BOS-prefixed window agrees too
    ids = torch.tensor([[BOS_ID] + list(held[:31])])
    with torch.no_grad():
        logp = torch.log_softmax(net(input_ids=ids).logits[0, :-1].float(), -1)
    manual = -logp[torch.arange(31), ids[0, 1:]].mean().item() / math.log(2)
    assert manual < 4.0


def test_byte_lm_loads_and_predicts(trained):
    loading = pytest.importorskip("compgen.lm.loading")
    if not hasattr(loading, "load_byte_lm"):
        pytest.skip("load_byte_lm not available yet")
    import compgen

    out, _ = trained
    model = compgen.load(f"byte-lm:{out}")
    probs = model.next_byte_probs(b"the cat sat on the m")
    assert probs.shape == (256,) and abs(probs.sum() - 1.0) < 1e-6
    assert int(np.argmax(probs)) == ord("a")  # the model learnt the phrase


def test_sizes_hit_their_targets():
    for name, target in [("200k", 200_000), ("800k", 800_000), ("3.2m", 3_200_000)]:
        assert name in SIZES
        n = count_params(shape_for_size(name))
        assert abs(n / target - 1) < 0.1, (name, n)
    assert shape_for_size("3.2M") == shape_for_size("3.2m")
    assert parse_count("1.5M") == 1_500_000 and parse_count("150000") == 150000 and parse_count("big") is None
    n = count_params(shape_for_size("500k"))
    assert abs(n / 500_000 - 1) < 0.15, n


def test_count_params_exact_for_other_shapes():
    from transformers import LlamaForCausalLM

    for shape in [Shape(2, 64, context=16), Shape(1, 96, heads=3, ffn=100, context=8)]:
        net = LlamaForCausalLM(build_config(shape))
        assert sum(p.numel() for p in net.parameters()) == count_params(shape)


def test_stop_request_saves_usable_model(tmp_path):
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 3

    meta = train(periodic_corpus(5000), tmp_path / "m", TINY, fast(steps=100, eval_every=0), should_stop=stop)
    assert meta["train"]["steps"] == 3 and meta["train"]["stopped_early"] is True
    assert math.isfinite(meta["train"]["heldout_bits_per_byte"])


def test_interrupt_leaves_checkpoint(tmp_path):
    def on_progress(state):
        if state.step == 2:
            raise KeyboardInterrupt

    out = tmp_path / "m"
    with pytest.raises(KeyboardInterrupt):
        train(periodic_corpus(5000), out, TINY, fast(steps=100, eval_every=0), on_progress=on_progress)
    meta = json.loads((out / "compgen.json").read_text())
    assert meta["train"]["steps"] == 2 and meta["train"]["complete"] is False and meta["train"]["interrupted"]
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(out)  # loadable


def test_checkpoint_replaces_directory_atomically(tmp_path):
    from transformers import LlamaForCausalLM

    net = LlamaForCausalLM(build_config(TINY))
    out = tmp_path / "m"
    save_model_dir(net, out, {"kind": "byte-lm", "v": 1})
    save_model_dir(net, out, {"kind": "byte-lm", "v": 2})
    assert json.loads((out / "compgen.json").read_text())["v"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_cli_trains(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_bytes(periodic_corpus(8000))
    out = tmp_path / "lm"
    rc = main(["-q", "train", "--corpus", str(corpus), "--size", "20k", "--context", "16", "--steps", "5",
               "--batch-size", "4", "--threads", "1", "-o", str(out)])
    assert rc == 0
    meta = json.loads((out / "compgen.json").read_text())
    assert meta["context"] == 16 and meta["train"]["steps"] == 5
    assert abs(meta["params"] / 20_000 - 1) < 0.3
    # custom shape flags override the named size
    rc = main(["-q", "train", "--corpus", str(corpus), "--layers", "1", "--width", "32", "--context", "16",
               "--tokens", "300", "--batch-size", "4", "--threads", "1", "-o", str(out), "--force"])
    assert rc == 0
    meta = json.loads((out / "compgen.json").read_text())
    assert meta["shape"]["layers"] == 1 and meta["shape"]["width"] == 32
    assert meta["train"]["lr"] == pytest.approx(2e-3 * math.sqrt(2))  # default lr shrinks with width
    assert meta["train"]["steps"] == 5  # 300 tokens / (4 x 15)


@pytest.mark.parametrize("case", ["missing", "empty", "size", "exists", "tiny", "steps"])
def test_cli_errors_one_line(tmp_path, capsys, case):
    corpus = tmp_path / "c.txt"
    corpus.write_bytes(periodic_corpus(4000))
    out = tmp_path / "lm"
    argv = ["train", "--corpus", str(corpus), "--size", "20k", "--context", "16", "--steps", "2", "-o", str(out)]
    if case == "missing":
        argv[2] = str(tmp_path / "nope.txt")
    elif case == "empty":
        corpus.write_bytes(b"")
    elif case == "size":
        argv[4] = "huge"
    elif case == "exists":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    elif case == "tiny":
        corpus.write_bytes(b"abc")
    elif case == "steps":
        argv[8] = "0"
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert len(err) == 1 and err[0].startswith("cgz: "), err
    assert "Traceback" not in err[0]
    if case == "exists":
        assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    else:
        assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
