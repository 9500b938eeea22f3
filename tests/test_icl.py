"""In-context learning probes: task generation, fair scoring, runner cache, curve, NCD, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import compgen
from compgen.cli import main
from compgen.data.corpus import default_corpus
from compgen.icl import curve, ncd, report
from compgen.icl.runner import Cache, run_jobs
from compgen.icl.scoring import choice_credit, greedy_exact_match, wilson
from compgen.icl.tasks import TASKS, PromptFormat, TaskContext, load_sources, make_items
from compgen.model import Model

ENWIK = Path(__file__).resolve().parents[2] / "shared" / "data" / "enwik8_head.txt"


# ------------------------------------------------------------------ test models
class Uniform(Model):
    """Knows nothing: every byte 1/256, so a candidate costs 8 bits per byte."""

    name = "uniform"
    spec = "test-uniform"

    def fingerprint_data(self):
        return {"kind": "uniform"}

    def next_byte_probs(self, context):
        return np.full(256, 1 / 256)

    def code_length(self, data, context=b""):
        return 8.0 * len(data)


class Oracle(Model):
    """Memorised the answer of every item: puts all mass on the right continuation."""

    name = "oracle"
    spec = "test-oracle"

    def __init__(self, items):
        self.answers = {it.prompt: it.candidates[it.answer] for it in items}
        self.calls = 0

    def fingerprint_data(self):
        return {"kind": "oracle", "n": len(self.answers)}

    def _next(self, context):
        for prompt, ans in self.answers.items():
            if context.startswith(prompt) and ans.startswith(context[len(prompt):]) and len(context) - len(prompt) < len(ans):
                return ans[len(context) - len(prompt)]
        return None

    def next_byte_probs(self, context):
        p = np.full(256, 1e-6)
        b = self._next(bytes(context))
        if b is not None:
            p[b] = 1.0
        return p / p.sum()

    def code_lengths(self, candidates, context=b""):
        self.calls += 1
        right = self.answers.get(bytes(context))
        return np.array([1.0 if c == right else 50.0 for c in candidates])


# ------------------------------------------------------------------ prompt format + items
def test_prompt_format_parts_and_validation():
    fmt = PromptFormat.parse("Q: {input}\\nA: {output}\\n\\n")
    assert fmt.query(b"x") == b"Q: x\nA:" and fmt.lead == b" "
    assert fmt.demo(b"x", b"y") == b"Q: x\nA: y\n\n"
    assert fmt.suffix == b"\n\n" and fmt.answer(b"y") == b" y\n\n"
    assert PromptFormat("{input}={output};").query(b"x") == b"x="
    for bad in ("{output} {input}", "{input} only", "{input}{output}{output}"):
        with pytest.raises(compgen.CompgenError):
            PromptFormat(bad)


def test_items_are_deterministic_nested_and_well_formed():
    shots = [0, 1, 3]
    a = make_items(list(TASKS), shots, 2, 3)
    b = make_items(list(TASKS), shots, 2, 3)
    assert [i.key() for i in a] == [i.key() for i in b]
    assert len(a) == len(TASKS) * 2 * 3 * len(shots)
    by = {(i.task, i.seed, i.index, i.shots): i for i in a}
    for it in a:
        assert it.candidates[it.answer] == it.target + b"\n" and it.target.startswith(b" ")
        assert len(set(it.candidates)) == len(it.candidates) >= 3
        if it.task != "classify":  # equal lengths: a length-only model cannot pick the answer
            assert len({len(c) for c in it.candidates}) == 1, it.task
        assert it.prompt.count(b"\n") == it.shots
        if it.shots:
            prev = by[(it.task, it.seed, it.index, 0)]
            # same query and candidates at every shot count; the demos are a prefix chain
            assert it.prompt.endswith(prev.prompt) or it.task == "kv_recall"
            if it.task != "kv_recall":  # kv_recall queries a key from the demos, so it moves
                assert it.candidates == prev.candidates
    # different seeds give different episodes
    assert by[("copy", 0, 0, 0)].prompt != by[("copy", 1, 0, 0)].prompt


def test_task_rules_hold():
    items = make_items(["uppercase", "reverse", "word_order", "arithmetic", "caesar"], [2], 1, 5)
    for it in items:
        q = it.prompt.rsplit(b"\n", 1)[-1][: -len(b" ->")].decode()
        ans = it.target.decode()[1:]
        if it.task == "uppercase":
            assert ans == q.upper()
        elif it.task == "reverse":
            assert ans == q[::-1]
        elif it.task == "word_order":
            assert ans.split() == q.split()[::-1]
        elif it.task == "arithmetic":
            t = [int(x) for x in q.split(", ")]
            assert int(ans) == t[-1] + (t[1] - t[0])
        elif it.task == "caesar":
            demo_in, demo_out = it.prompt.split(b"\n")[0].decode().split(" -> ")
            k = (ord(demo_out[0]) - ord(demo_in[0])) % 26
            assert ans == "".join(chr((ord(c) - 97 + k) % 26 + 97) for c in q)


# ------------------------------------------------------------------ scoring
def test_tie_rule_never_favours_the_answer():
    assert choice_credit([8, 16, 24], 0) == (1.0, 1)
    assert choice_credit([8, 16, 8, 8], 2) == (pytest.approx(1 / 3), 3)
    assert choice_credit([8, 16, 8, 8], 1) == (0.0, 3)
    assert choice_credit([16, 16, 16, 16], 3) == (0.25, 4)


def test_memorised_model_scores_one_and_uniform_scores_exact_chance():
    items = make_items(list(TASKS), [0, 2], 2, 6, em_items=1)
    for model, want in ((Oracle(items), None), (Uniform(), "chance")):
        res = run_jobs([model], items, Cache(None))
        rows = report.aggregate(items, [model.spec], res)
        assert len(rows) == len(TASKS) * 2
        for r in rows:
            if want is None:
                assert r["accuracy"] == 1.0 and r["em"] == 1.0, r
            else:
                assert r["accuracy"] == pytest.approx(r["chance"], abs=1e-12), r
                assert r["tie_rate"] == 1.0
                assert 0 < r["em"] <= 256.0 ** -2  # every byte a 256-way tie


def test_codec_in_context_learning_shows_where_it_should():
    items = make_items(["copy", "induction", "caesar"], [0, 16], 1, 8)
    gz = compgen.load("gzip")
    rows = {(r["task"], r["shots"]): r["accuracy"]
            for r in report.aggregate(items, [gz.spec], run_jobs([gz], items, Cache(None)))}
    assert rows[("copy", 0)] == 1.0  # the string to copy is right there in the query
    assert rows[("induction", 0)] <= 0.5 < 0.8 <= rows[("induction", 16)]
    assert rows[("caesar", 16)] <= 0.6  # no way for gzip to infer a shift


def test_greedy_exact_match_counts_ties_fairly():
    assert greedy_exact_match(Uniform(), b"abc", b"xy") == pytest.approx(1 / 256 ** 2)
    items = make_items(["copy"], [1], 1, 2)
    oracle = Oracle(items)
    assert greedy_exact_match(oracle, items[0].prompt, items[0].target) == 1.0
    assert greedy_exact_match(oracle, items[0].prompt, b"zzzzzz") == 0.0


def test_wilson_interval():
    lo, hi = wilson(1.0, 10)
    assert 0.6 < lo < 1.0 and hi == 1.0
    lo, hi = wilson(0.5, 100)
    assert lo < 0.5 < hi and hi - lo < 0.25


# ------------------------------------------------------------------ runner
def test_cache_resumes_and_keys_on_fingerprint(tmp_path):
    items = make_items(["copy", "kv_recall"], [0, 1], 1, 3)
    path = tmp_path / "cache.jsonl"
    oracle = Oracle(items)
    first = run_jobs([oracle], items, Cache(path))
    assert oracle.calls == len(items)
    with open(path, "a") as fh:
        fh.write('{"m": "cut-off line')  # an interrupted run
    oracle.calls = 0
    again = run_jobs([oracle], items, Cache(path))
    assert oracle.calls == 0 and again == first
    more = make_items(["copy", "kv_recall"], [0, 1], 1, 4)  # one more item per cell: only those run
    bigger = Oracle(more)
    bigger.answers = oracle.answers | bigger.answers
    bigger._fingerprint_cache = oracle.fingerprint()
    run_jobs([bigger], more, Cache(path))
    assert bigger.calls == len(more) - len(items)
    other = Oracle(items)
    other.answers = dict(oracle.answers)
    other.fingerprint_data = lambda: {"kind": "another model"}
    run_jobs([other], items, Cache(path))
    assert other.calls == len(items)


def test_process_pool_matches_in_process():
    items = make_items(["induction", "reverse"], [0, 4], 1, 4)
    gz = compgen.load("gzip")
    one = run_jobs([gz], items, Cache(None), workers=1)
    two = run_jobs([gz], items, Cache(None), workers=2, batch=3)
    strip = lambda d: {k: {kk: vv for kk, vv in v.items() if kk != "seconds"} for k, v in d.items()}
    assert strip(one) == strip(two)


# ------------------------------------------------------------------ curve + ncd
def test_curve_falls_with_position_for_codecs():
    data = default_corpus()
    chunks = curve.make_chunks(data, 1024, 256, 4)
    models = [compgen.load("gzip"), compgen.load("ppmd")]
    res = run_jobs(models, chunks, Cache(None))
    for m in models:
        c = curve.summarise(m.spec, chunks, res)
        bpb = c["bits_per_byte"]
        assert len(bpb) == 4 and bpb[-1] < bpb[0], (m.spec, bpb)
        total = sum(sum(res[(m.spec, ch.key())]["bits"]) for ch in chunks)
        assert c["overall_bits_per_byte"] == pytest.approx(total / (4 * 1024))


@pytest.mark.skipif(not ENWIK.exists(), reason="needs ../shared/data/enwik8_head.txt")
def test_curve_on_enwik8_head():
    chunks = curve.make_chunks(ENWIK.read_bytes(), 2048, 512, 3)
    gz = compgen.load("gzip")
    c = curve.summarise(gz.spec, chunks, run_jobs([gz], chunks, Cache(None)))
    assert c["bits_per_byte"][-1] < c["bits_per_byte"][0]


def test_curve_rejects_bad_sizes():
    with pytest.raises(compgen.CompgenError):
        curve.make_chunks(b"x" * 100, 2048, 64, 4)
    with pytest.raises(compgen.CompgenError):
        curve.make_chunks(b"x" * 10000, 1000, 64, 4)


def test_knn_tie_breaking_is_top1_and_fair():
    labels = ["a", "b", "a", "b"]
    assert ncd.knn_credit(np.array([0.1, 0.1, 0.5, 0.5]), labels, "a", 1) == 0.5
    assert ncd.knn_credit(np.array([0.1, 0.2, 0.5, 0.5]), labels, "a", 1) == 1.0
    # k=2 with one neighbour of each class: a vote tie, worth 1/2, never 1 (the top-2 bug)
    assert ncd.knn_credit(np.array([0.1, 0.2, 0.5, 0.5]), labels, "a", 2) == pytest.approx(0.5)
    assert ncd.knn_credit(np.array([0.1, 0.2, 0.3, 0.9]), ["a", "a", "b", "b"], "a", 3) == 1.0


def test_ncd_classifies_builtin_sources_above_chance():
    sources, _ = load_sources(None)
    train, test = ncd.split_snippets(sources, 4, 4, 200)
    texts = tuple(t for _, t in train)
    jobs = [ncd.SelfLengths(texts)] + [ncd.NcdQuery(t, texts) for _, t in test]
    gz = compgen.load("gzip")
    res = run_jobs([gz], jobs, Cache(None))
    out = ncd.classify([res[(gz.spec, j.key())] for j in jobs[1:]], res[(gz.spec, jobs[0].key())], train, test, 1)
    assert out["chance"] == pytest.approx(1 / 3)
    assert out["accuracy"] > 0.6
    row = ncd.distances(res[(gz.spec, jobs[1].key())], res[(gz.spec, jobs[0].key())])
    assert row.shape == (len(train),) and np.all(row > 0) and np.all(row < 1.5)


def test_class_data_directory(tmp_path):
    (tmp_path / "one.txt").write_text("the cat sat on the mat. " * 40)
    (tmp_path / "two.c").write_text("int main(void) { return 0; }\n" * 40)
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 8)
    sources, notes = load_sources(str(tmp_path))
    assert [l for l, _ in sources] == ["one", "two"] and any("blob" in n for n in notes)
    items = make_items(["classify"], [2], 1, 4, context=TaskContext(str(tmp_path)))
    assert {it.target for it in items} == {b" one", b" two"}
    with pytest.raises(compgen.CompgenError):
        load_sources(str(tmp_path / "missing"))


# ------------------------------------------------------------------ CLI
def test_cli_list_tasks(capsys):
    assert main(["icl", "--list-tasks"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in TASKS)


def test_cli_run_writes_results_and_plots(tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["-q", "icl", "--models", "gzip,bz2", "--tasks", "copy,caesar", "--shots", "0,2", "--seeds", "1",
            "--max-items", "3", "--workers", "1", "-o", str(out)]
    assert main(argv) == 0
    data = json.loads((out / "results.json").read_text())
    assert {r["task"] for r in data["rows"]} == {"copy", "caesar"} and len(data["rows"]) == 8
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("task,model,shots") and len(csv_lines) == 9
    assert (out / "icl_accuracy.png").read_bytes()[:4] == b"\x89PNG"
    assert "copy" in capsys.readouterr().out


def test_cli_curve_and_ncd(tmp_path):
    data = tmp_path / "d.txt"
    data.write_bytes(default_corpus()[:8192])
    assert main(["-q", "icl", "curve", "--models", "gzip", "--data", str(data), "--chunk", "1024",
                 "--bucket", "256", "--max-chunks", "2", "-o", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c" / "curve.png").exists() and (tmp_path / "c" / "curve.csv").exists()
    assert main(["-q", "icl", "ncd", "--models", "gzip", "--train-per-class", "2", "--test-per-class", "2",
                 "--snippet", "128", "--knn", "1", "-o", str(tmp_path / "n")]) == 0
    rows = json.loads((tmp_path / "n" / "ncd.json").read_text())["rows"]
    assert rows[0]["k"] == 1 and 0 <= rows[0]["accuracy"] <= 1


@pytest.mark.parametrize("argv, code", [
    (["icl", "--shots", "0,x"], 2),
    (["icl", "--tasks", "nope"], 2),
    (["icl", "--models", "nosuchcodec"], 2),
    (["icl", "--format", "{output}"], 2),
    (["icl", "--class-data", "/nonexistent/dir", "--tasks", "classify"], 1),
    (["icl", "curve", "--data", "/nonexistent/file"], 1),
])
def test_cli_bad_input_is_one_line(argv, code, capsys, tmp_path):
    assert main(["-q", *argv, "-o", str(tmp_path / "o")]) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith("cgz:") and "\n" not in err
    assert not (tmp_path / "o" / "results.json").exists()


def test_xz_fast_size_equals_real_length():
    """compgen.compressors.lzma_codec.XzModel.compressed_size (small dictionary) must not change lengths."""
    import random

    xz = compgen.load("xz")
    data = default_corpus()
    rng = random.Random(0)
    for n in (0, 1, 50, 700, 5000, 70000, 140000):
        s = rng.randrange(0, len(data) - n)
        for d in (data[s:s + n], bytes(rng.randrange(256) for _ in range(n // 10))):
            assert xz.compressed_size(d) == len(xz.compress(d))
    assert compgen.load("xz:level=1:extreme=1").compressed_size(data[:3000]) == len(
        compgen.load("xz:level=1:extreme=1").compress(data[:3000]))
