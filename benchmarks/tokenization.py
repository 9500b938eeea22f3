"""Tokenization is compression: byte LMs against BPE token LMs (1k / 4k / 16k) on enwik8.

Trains byte-level BPE tokenizers on the training split of CORPUS (enwik8_head.txt), then
small Llama LMs over bytes and over each BPE, and evaluates every model on the first
--eval-bytes of held-out text (enwik8_next.txt) in 2048-byte chunks, each chunk a cold
start (the paper's protocol): teacher-forced bits/byte (95 % bootstrap interval over
chunks), tokens/byte, bits/token and perplexity per token, scoring speed, and a coded and
verified subset (range coder, every round trip checked).

Runs (FLOPs = 6 N D, N = all parameters -- the embedding is tied to the output layer, so it
is multiplied once per token -- D = training tokens):

* ``bytes``          -- the byte LM (--layers x --width), --steps steps: the reference budget C;
* ``bpeV eq-params`` -- a token LM whose *total* parameters match the byte LM's (narrower
                        trunk: the embedding eats the budget), trained to the same FLOPs C
                        (so also the same tokens);
* ``bpeV eq-trunk``  -- the byte LM's trunk (same non-embedding parameters) with the BPE's
                        larger embedding, trained to the same FLOPs C (fewer tokens).

    .venv/bin/python benchmarks/tokenization.py                 # ~20-30 min on a loaded 2-core box
    .venv/bin/python benchmarks/tokenization.py --steps 40 --eval-bytes 8192 --work /tmp/tq   # a quick look

Resumable: a finished run (model + its evaluation) is kept in --work and skipped on a re-run.
Prints a markdown table, writes benchmarks/results/tokenization.json and tokenization.png.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: shared cores

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compgen import executors  # noqa: E402
from compgen.lm import bpe  # noqa: E402
from compgen.lm.train import Shape, TrainSettings, count_params, default_lr, split_corpus  # noqa: E402

# ../shared/data beside the checkout (or beside any folder above it, for git worktrees)
DATA = next((d / "shared" / "data" for d in ROOT.parents if (d / "shared" / "data").is_dir()),
            ROOT.parent / "shared" / "data")


def shape_for(layers: int, width: int, context: int) -> Shape:
    return Shape(layers, width, heads=max(1, width // 32), context=context).resolved()


def width_for_params(target: int, vocab: int, layers: int, context: int) -> int:
    """Width (multiple of 4) whose total parameter count with ``vocab`` is closest to ``target``."""
    best = None
    for w in range(4, 1025, 4):
        try:
            n = count_params(shape_for(layers, w, context), vocab)
        except Exception:  # width not divisible by its heads
            continue
        err = abs(math.log(n / target))
        if best is None or err < best[0]:
            best = (err, w)
    return best[1]


def plan(args, vocabs: dict[str, int]) -> list[dict]:
    """Every run: name, tokenizer, shape, steps, FLOPs."""
    base = shape_for(args.layers, args.width, args.context)
    tokens_per_step = args.batch_size * (args.context - 1)
    n_bytes = count_params(base)
    budget = 6 * n_bytes * args.steps * tokens_per_step
    runs = [{"name": "bytes", "setting": "reference", "tokenizer": None, "vocab": 257, "width": base.width}]
    for name, vocab in vocabs.items():
        runs.append({"name": f"{name} eq-params", "setting": "equal parameters, equal FLOPs", "tokenizer": name,
                     "vocab": vocab, "width": width_for_params(n_bytes, vocab, args.layers, args.context)})
        runs.append({"name": f"{name} eq-trunk", "setting": "equal trunk, equal FLOPs", "tokenizer": name,
                     "vocab": vocab, "width": base.width})
    for r in runs:
        shape = shape_for(args.layers, r["width"], args.context)
        n = count_params(shape, r["vocab"])
        r.update(shape={"layers": shape.layers, "width": shape.width, "heads": shape.heads, "ffn": shape.ffn,
                        "context": shape.context},
                 params=n, non_embedding_params=n - r["vocab"] * shape.width,
                 steps=max(1, round(budget / (6 * n * tokens_per_step))), lr=default_lr(shape.width))
        r["flops"] = 6 * n * r["steps"] * tokens_per_step
        r["dir"] = r["name"].replace(" ", "-")
    for i, r in enumerate(runs):  # a small vocabulary may give eq-params the byte trunk: one model for both
        same = [q for q in runs[:i] if (q["tokenizer"], q["shape"], q["steps"]) == (r["tokenizer"], r["shape"], r["steps"])]
        if same:
            r["dir"] = same[0]["dir"]
    return runs


# ------------------------------------------------------------------ work units (top level)
def train_unit(run: dict, corpus: str, tokdir: str | None, work: str, batch_size: int, warmup: int,
               threads: int, seed: int) -> dict:
    """Train one run unless its finished model is already in ``work``; returns its compgen.json."""
    from compgen.lm.train import train

    out = Path(work) / run["dir"]
    meta_path = out / "compgen.json"
    key = {k: run[k] for k in ("shape", "steps", "lr", "vocab")} | {"batch_size": batch_size, "seed": seed,
                                                                   "warmup": warmup, "threads": threads}
    stamp = Path(work) / f"{run['dir']}.train.json"
    if meta_path.exists() and stamp.exists() and json.loads(stamp.read_text()) == key:
        meta = json.loads(meta_path.read_text())
        if meta["train"].get("complete"):
            return meta
    s = run["shape"]
    settings = TrainSettings(steps=run["steps"], batch_size=batch_size, lr=run["lr"], warmup=warmup,
                             eval_every=0, eval_bytes=32768, final_eval_bytes=65536, checkpoint_minutes=0,
                             threads=threads, seed=seed)
    data = Path(corpus).read_bytes()
    meta = train(data, out, Shape(s["layers"], s["width"], s["heads"], s["ffn"], s["context"]), settings,
                 corpus_name=Path(corpus).name, tokenizer=tokdir)
    stamp.write_text(json.dumps(key) + "\n")
    return meta


def eval_unit(model_dir: str, eval_path: str, eval_bytes: int, chunk: int, coded_chunks: int, threads: int) -> dict:
    """Teacher-forced bits of every chunk (cold start each), tokens per chunk, speed, and a
    coded + verified subset."""
    import compgen

    data = Path(eval_path).read_bytes()[:eval_bytes]
    chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    m = compgen.load(f"byte-lm:{model_dir}:threads={threads}")
    m.code_length(chunks[0][:600])  # warm-up (first forward allocates)
    bits, tokens = [], []
    t0 = time.perf_counter()
    for c in chunks:
        bits.append(float(m.code_length(c)))
    score_s = time.perf_counter() - t0
    for c in chunks:
        tokens.append(int(len(m.codec.encode(c))))
    comp = compgen.as_compressor(m)
    t0 = time.perf_counter()
    blobs = [comp.compress(c) for c in chunks[:coded_chunks]]
    code_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    verified = all(compgen.decompress(b) == c for c, b in zip(chunks[:len(blobs)], blobs, strict=True))  # every round trip exact
    decode_s = time.perf_counter() - t0
    return {"chunk_bits": bits, "chunk_tokens": tokens, "chunk_bytes": [len(c) for c in chunks],
            "header_bytes": header_bytes(model_dir, threads),
            "score_seconds": score_s, "coded_bytes": [len(b) for b in blobs],
            "coded_input_bytes": sum(len(c) for c in chunks[:coded_chunks]),
            "compress_seconds": code_s, "decompress_seconds": decode_s, "verified": bool(verified),
            "spec": m.spec}


def header_bytes(model_dir: str, threads: int) -> int:
    """Size of a .cg file holding nothing: the container header (it names the model spec)."""
    import compgen

    return len(compgen.as_compressor(compgen.load(f"byte-lm:{model_dir}:threads={threads}")).compress(b""))


# ------------------------------------------------------------------ summary
def bootstrap_ci(bits: list[float], sizes: list[int], reps: int = 2000, seed: int = 0) -> list[float]:
    """95 % interval of total bits / total bytes, resampling chunks."""
    import numpy as np

    b, n = np.asarray(bits), np.asarray(sizes, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(b), size=(reps, len(b)))
    stats = b[idx].sum(1) / n[idx].sum(1)
    return [float(np.percentile(stats, 2.5)), float(np.percentile(stats, 97.5))]


def summarise(run: dict, meta: dict, ev: dict, tok_info: dict | None) -> dict:
    n_bytes, n_tok, bits = sum(ev["chunk_bytes"]), sum(ev["chunk_tokens"]), sum(ev["chunk_bits"])
    t = meta["train"]
    bpt = bits / n_tok
    return {**{k: run[k] for k in ("name", "setting", "tokenizer", "vocab", "shape", "params",
                                   "non_embedding_params", "steps", "flops", "lr")},
            "train_tokens": t["tokens_seen"],
            "train_bytes_seen": round(t["tokens_seen"] * (1 / meta["tokenizer"]["train_tokens_per_byte"]
                                                          if "tokenizer" in meta else 1)),
            "train_seconds": t["train_seconds"], "train_tokens_per_s": t["tokens_seen"] / t["train_seconds"],
            "heldout_bpb_train_split": t["heldout_bits_per_byte"],
            "eval_bytes": n_bytes, "eval_tokens": n_tok, "tokens_per_byte": n_tok / n_bytes,
            "bits_per_byte": bits / n_bytes, "bits_per_byte_ci95": bootstrap_ci(ev["chunk_bits"], ev["chunk_bytes"]),
            "bits_per_token": bpt, "perplexity_per_token": 2 ** bpt,
            "relation_check": math.log2(2 ** bpt) * n_tok / n_bytes,  # = bits/byte
            "score_tokens_per_s": n_tok / ev["score_seconds"], "score_bytes_per_s": n_bytes / ev["score_seconds"],
            "coded_bits_per_byte": 8 * sum(ev["coded_bytes"]) / max(1, ev["coded_input_bytes"]),
            "coded_input_bytes": ev["coded_input_bytes"], "coded_verified": ev["verified"],
            # payload = coded minus the container header (it names the model spec, path included)
            "coded_header_bytes": ev["header_bytes"],
            "coded_payload_bits_per_byte": 8 * (sum(ev["coded_bytes"]) - ev["header_bytes"] * len(ev["coded_bytes"]))
            / max(1, ev["coded_input_bytes"]),
            # the same chunks teacher-forced: the payload is below it when the coder's in-file token model helps
            "coded_chunks_teacher_forced_bits_per_byte": sum(ev["chunk_bits"][:len(ev["coded_bytes"])])
            / max(1, ev["coded_input_bytes"]),
            "compress_bytes_per_s": ev["coded_input_bytes"] / max(1e-9, ev["compress_seconds"]),
            "decompress_bytes_per_s": ev["coded_input_bytes"] / max(1e-9, ev["decompress_seconds"]),
            "tokenizer_info": tok_info, "spec": ev["spec"]}


def table(rows: list[dict], tok_rows: list[dict]) -> str:
    out = ["| tokenizer | vocab | tokens/byte (held-out) | bytes/token | BPE training s |", "|---|---:|---:|---:|---:|"]
    for r in tok_rows:
        out.append(f"| {r['name']} | {r['vocab_size']:,} | {r['eval_tokens_per_byte']:.4f} | "
                   f"{1 / r['eval_tokens_per_byte']:.2f} | {r['train_seconds']:.1f} |")
    out += ["", "| run | params (non-emb.) | width | train tokens | bytes seen | FLOPs | train s | "
            "bits/byte [95% CI] | vs bytes [paired 95% CI] | tokens/byte | bits/token | ppl/token | log2(ppl) x tok/byte | "
            "score tok/s | coded bits/byte: file, payload (same chunks teacher-forced), verified |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lo, hi = r["bits_per_byte_ci95"]
        out.append(f"| {r['name']} | {r['params']:,} ({r['non_embedding_params']:,}) | {r['shape']['width']} | "
                   f"{r['train_tokens']:,} | {r['train_bytes_seen']:,} | {r['flops']:.2e} | {r['train_seconds']:.0f} | "
                   f"{r['bits_per_byte']:.3f} [{lo:.3f}, {hi:.3f}] | {r['delta_vs_bytes']:+.3f} "
                   f"[{r['delta_vs_bytes_ci95'][0]:+.3f}, {r['delta_vs_bytes_ci95'][1]:+.3f}] | {r['tokens_per_byte']:.3f} | "
                   f"{r['bits_per_token']:.3f} | {r['perplexity_per_token']:.1f} | {r['relation_check']:.3f} | "
                   f"{r['score_tokens_per_s']:,.0f} | {r['coded_bits_per_byte']:.3f}, {r['coded_payload_bits_per_byte']:.3f} "
                   f"({r['coded_chunks_teacher_forced_bits_per_byte']:.3f}), "
                   f"{'yes' if r['coded_verified'] else 'NO'} |")
    return "\n".join(out)


def figure(rows: list[dict], tok_rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = ["bytes"] + [r["name"] for r in tok_rows]
    tpb = [1.0] + [r["eval_tokens_per_byte"] for r in tok_rows]
    a.bar(names, tpb, color="#4c72b0")
    for i, v in enumerate(tpb):
        a.text(i, v, f"{v:.3f}", ha="center", va="bottom", fontsize=9)
    a.set_ylabel("tokens per byte (held-out enwik8)")
    a.set_title("tokenization alone")
    for setting, marker in (("equal parameters, equal FLOPs", "o"), ("equal trunk, equal FLOPs", "s")):
        pts = [r for r in rows if r["setting"] == setting]
        ys = [r["bits_per_byte"] for r in pts]
        err = [[y - r["bits_per_byte_ci95"][0] for y, r in zip(ys, pts, strict=True)],
               [r["bits_per_byte_ci95"][1] - y for y, r in zip(ys, pts, strict=True)]]
        b.errorbar([r["tokens_per_byte"] for r in pts], ys, yerr=err, marker=marker, capsize=3,
                   label=f"{setting} (95% CI over chunks)")
        for r in pts:
            b.annotate(r["tokenizer"], (r["tokens_per_byte"], r["bits_per_byte"]), fontsize=8,
                       xytext=(4, 3), textcoords="offset points")
    ref = [r for r in rows if r["tokenizer"] is None]
    if ref:
        b.axhline(ref[0]["bits_per_byte"], color="k", ls="--", lw=1, label=f"byte LM {ref[0]['bits_per_byte']:.3f}")
    b.set_xlabel("tokens per byte")
    b.set_ylabel("bits/byte (2048-byte chunks, teacher-forced)")
    b.set_title("token LMs at equal training FLOPs")
    b.legend(fontsize=7, loc="upper center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=DATA / "enwik8_head.txt", help="training text (last 5%% held out)")
    p.add_argument("--eval", type=Path, default=DATA / "enwik8_next.txt", help="held-out text (never trained on)")
    p.add_argument("--eval-bytes", type=int, default=65536)
    p.add_argument("--chunk", type=int, default=2048)
    p.add_argument("--coded-chunks", type=int, default=4, help="chunks coded + verified per model")
    p.add_argument("--vocabs", default="bpe1k,bpe4k,bpe16k")
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--width", type=int, default=64, help="byte LM width (64: the paper's 200K size)")
    p.add_argument("--context", type=int, default=256, help="tokens per window incl. BOS")
    p.add_argument("--steps", type=int, default=500, help="byte LM steps: sets the FLOPs budget of every run")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=ROOT / "out" / "tokenization", help="models + per-run results")
    p.add_argument("--executor", default="local", help="local | process | dask (training and evaluation units)")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "tokenization.json")
    args = p.parse_args()
    for f in (args.corpus, args.eval):
        if not f.is_file():
            raise SystemExit(f"{f}: no such file")
    args.work.mkdir(parents=True, exist_ok=True)
    data = args.corpus.read_bytes()
    train_split = split_corpus(data, 0.05)[0].tobytes()  # what compgen.lm.train trains on
    held = args.eval.read_bytes()[:args.eval_bytes]

    # 1. tokenizers (deterministic; kept in --work)
    vocabs, tok_rows = {}, []
    for name in [v.strip() for v in args.vocabs.split(",") if v.strip()]:
        size = bpe.parse_bpe_name(name)
        if size is None:
            raise SystemExit(f"{name}: not a bpeN[k] name")
        tdir = args.work / f"tok-{name}"
        meta_file = tdir / bpe.META_FILE
        t0 = time.perf_counter()
        if not (meta_file.exists() and json.loads(meta_file.read_text()).get("requested_vocab_size") == size
                and json.loads(meta_file.read_text()).get("train_bytes") == len(train_split)):
            bpe.train_tokenizer(train_split, size, tdir)
            secs = time.perf_counter() - t0
            (tdir / "train-seconds.txt").write_text(f"{secs:.3f}\n")
        secs = float((tdir / "train-seconds.txt").read_text())
        tok = bpe.load_tokenizer(tdir)
        t0 = time.perf_counter()
        chunk_tokens = [len(tok.encode(held[i:i + args.chunk])) for i in range(0, len(held), args.chunk)]
        enc_s = time.perf_counter() - t0
        tok_rows.append({"name": name, "dir": str(tdir), "vocab_size": tok.vocab_size, "train_seconds": secs,
                         "eval_tokens_per_byte": sum(chunk_tokens) / len(held),
                         "train_split_tokens_per_byte": bpe.tokens_per_byte(tok, train_split[:1 << 20]),
                         "encode_bytes_per_s": len(held) / enc_s})
        vocabs[name] = tok.vocab_size

    # 2. training runs, then 3. evaluations: work units on the executor seam
    runs = plan(args, vocabs)
    tokdirs = {r["name"]: str(args.work / f"tok-{r['name']}") for r in tok_rows}
    print(f"{len(runs)} runs, FLOPs budget {runs[0]['flops']:.3e} each; models in {args.work}", file=sys.stderr)
    with executors.open_backend(args.executor) as backend:
        uniq = list({r["dir"]: r for r in reversed(runs)}.values())[::-1]
        units = [(r, str(args.corpus), tokdirs.get(r["tokenizer"]), str(args.work), args.batch_size, args.warmup,
                  args.threads, args.seed) for r in uniq]
        trained = executors.map_units(backend, train_unit, units, labels=[r["name"] for r in uniq],
                                      weights=[max(1, round(r["flops"] / 1e9)) for r in uniq], batch=1,
                                      desc="train", unit="GFLOP")
        by_dir = {r["dir"]: m for r, m in zip(uniq, trained, strict=True)}
        metas = [by_dir[r["dir"]] for r in runs]
        evals = []
        todo = []
        for i, r in enumerate(runs):
            cache = args.work / f"{r['dir']}.eval.json"
            key = {"eval": str(args.eval), "eval_bytes": args.eval_bytes, "chunk": args.chunk,
                   "coded_chunks": args.coded_chunks, "threads": args.threads,
                   "train_wall": metas[i]["train"]["wall_time_s"]}
            hit = json.loads(cache.read_text()) if cache.exists() else None
            evals.append(hit["result"] if hit and hit.get("key") == key else None)
            if evals[-1] is None:
                todo.append((i, cache, key))
        fresh = executors.map_units(backend, eval_unit,
                                    [(str(args.work / runs[i]["dir"]), str(args.eval), args.eval_bytes, args.chunk,
                                      args.coded_chunks, args.threads) for i, _, _ in todo],
                                    labels=[runs[i]["name"] for i, _, _ in todo], batch=1, desc="evaluate",
                                    unit="models")
        for (i, cache, key), ev in zip(todo, fresh, strict=True):
            cache.write_text(json.dumps({"key": key, "result": ev}) + "\n")
            evals[i] = ev
        for r, ev in zip(runs, evals, strict=True):  # evaluations cached before the header was recorded
            if "header_bytes" not in ev:
                ev["header_bytes"] = header_bytes(str(args.work / r["dir"]), args.threads)
    tok_by_name = {t["name"]: t for t in tok_rows}
    rows = [summarise(r, m, e, tok_by_name.get(r["tokenizer"])) for r, m, e in zip(runs, metas, evals, strict=True)]
    ref = evals[0]["chunk_bits"]  # the byte LM, on the same chunks: a paired difference is much tighter
    for row, ev in zip(rows, evals, strict=True):
        diff = [a - b for a, b in zip(ev["chunk_bits"], ref, strict=True)]
        row["delta_vs_bytes"] = sum(diff) / sum(ev["chunk_bytes"])
        row["delta_vs_bytes_ci95"] = bootstrap_ci(diff, ev["chunk_bytes"])
    text = table(rows, tok_rows)
    print(text)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    png = args.json.with_suffix(".png")
    figure(rows, tok_rows, png)
    import torch

    payload = {"corpus": str(args.corpus.name), "eval": str(args.eval.name), "eval_bytes": len(held),
               "chunk": args.chunk, "protocol": "each chunk a cold start (BOS), teacher-forced; FLOPs = 6 N D",
               "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "machine": f"{os.cpu_count()}-core CPU, torch {torch.__version__}, shared with other jobs (loaded)",
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "tokenizers": tok_rows, "runs": rows, "table_markdown": text}
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.json} and {png}", file=sys.stderr)


if __name__ == "__main__":
    main()
