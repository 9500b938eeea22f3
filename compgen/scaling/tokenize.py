"""The tokenization study (``--tokenizers bytes,bpe1k,bpe4k,bpe16k``): tokenization is compression.

Per tokenizer: a BPE vocabulary trained on the study corpus's training split
(:func:`compgen.lm.bpe.train_tokenizer`, byte fallback, exact round trip), then a token LM
of the study's first size trained on it at equal parameters and equal bytes, and one at
equal compute (the byte model's token count, so more bytes); both evaluated on the text
chunks. Bits/byte = (tokens/byte) x bits/token, i.e. log2 perplexity per token =
bits/byte x bytes/token: the relation is written out per tokenizer.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import numpy as np

from ..errors import MissingDependencyError, UsageError
from .plan import digest

NEEDS = "the tokenization study needs compgen.lm.bpe (BPE tokenizers), which this install lacks"


def parse_tokenizers(text: str) -> list[str]:
    out = []
    for t in (x.strip().lower() for x in str(text).split(",") if x.strip()):
        if t != "bytes" and not re.fullmatch(r"bpe\d+k?", t):
            raise UsageError(f"unknown tokenizer {t!r}: use bytes or bpeN (bpe1k, bpe4k, bpe16k, bpe500)")
        out.append(t)
    return out or ["bytes"]


def vocab_size(name: str) -> int:
    m = re.fullmatch(r"bpe(\d+)(k?)", name)
    return int(m.group(1)) * (1024 if m.group(2) else 1)


def require_bpe():
    try:
        from ..lm import bpe  # noqa: F401
    except ImportError:
        raise MissingDependencyError(NEEDS) from None
    return bpe


def plan_tok_units(study, out: Path, evals: dict) -> list:
    """(key, unit, weight) per (tokenizer, budget kind)."""
    require_bpe()
    if "text" not in evals:
        raise UsageError("the tokenization study needs a text:PATH --eval")
    from ..lm.train import count_params
    from .plan import file_id

    label0, shape = study.shapes()[0]
    units = []
    for name in study.tokenizers:
        for budget in (("equal-bytes", "equal-compute") if name != "bytes" else ("equal-bytes",)):
            u = {"tokenizer": name, "budget": budget, "corpus_id": file_id(study.corpus), "size": label0,
                 "shape": {"layers": shape.layers, "width": shape.width, "heads": shape.heads, "ffn": shape.ffn,
                           "context": shape.context}, "tokens": study.tokens, "batch_size": study.batch_size,
                 "lr": study.lr(shape), "warmup": study.warmup, "seed": study.seed, "heldout": study.heldout,
                 "threads": study.threads, "crc32": evals["text"]["crc32"], "chunk": study.chunk}
            units.append((digest(u), dict(u, corpus=str(Path(study.corpus).resolve()), out=str(Path(out).resolve()),
                                          chunks=str(Path(evals["text"]["path"]).resolve())),
                          max(1, study.tokens * (count_params(shape) + 60_000) // 10**9)))
    return units


def _token_bits(net, ids_per_chunk: list[list[int]], context: int, bos: int) -> np.ndarray:
    """Bits of each chunk's token sequence: windows of context-1 tokens, each behind BOS."""
    import torch
    import torch.nn.functional as F

    out = np.zeros(len(ids_per_chunk))
    seg = context - 1
    with torch.no_grad():
        for i, ids in enumerate(ids_per_chunk):
            wins = [ids[j:j + seg] for j in range(0, len(ids), seg)]
            for w in wins:
                t = torch.tensor([[bos] + list(w)], dtype=torch.long)
                logits = net(input_ids=t).logits[:, :-1].float()
                out[i] += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), t[0, 1:], reduction="sum"))
    return out / math.log(2)


def tok_unit(unit: dict) -> dict:
    """Train (tokenizer and) LM for one tokenizer and budget, evaluate on the text chunks."""
    import json

    import torch

    from ..lm.train import Shape, TrainSettings, split_corpus, train
    from .evaluate import _load_net, chunk_bits, read_chunks

    torch.set_num_threads(int(unit["threads"]))
    data = Path(unit["corpus"]).read_bytes()
    base = Path(unit["out"]) / "tokenizers" / f"{unit['tokenizer']}-{unit['budget']}"
    base.mkdir(parents=True, exist_ok=True)
    chunks = read_chunks(unit["chunks"], int(unit["chunk"]))
    shape = Shape(**unit["shape"])
    tok_path, tokens_per_byte, tok = None, 1.0, None
    if unit["tokenizer"] != "bytes":
        bpe = require_bpe()
        train_part, _, _ = split_corpus(data, float(unit["heldout"]))
        tok_path = bpe.train_tokenizer(bytes(train_part), vocab_size(unit["tokenizer"]), base / "tokenizer")
        tok = bpe.load_tokenizer(tok_path)
        sample = bytes(train_part[: 1 << 20])
        tokens_per_byte = len(tok.encode(sample)) / max(1, len(sample))
    tps = int(unit["batch_size"]) * (shape.context - 1)
    budget_tokens = int(unit["tokens"]) * (tokens_per_byte if unit["budget"] == "equal-bytes" else 1.0)
    steps = max(1, int(round(budget_tokens / tps)))
    settings = TrainSettings(steps=steps, batch_size=int(unit["batch_size"]), lr=float(unit["lr"]),
                             warmup=int(unit["warmup"]), seed=int(unit["seed"]), heldout=float(unit["heldout"]),
                             eval_every=0, final_eval_bytes=65536, checkpoint_minutes=0,
                             threads=int(unit["threads"]))
    t0 = time.perf_counter()
    kwargs = {"tokenizer": str(tok_path)} if tok_path else {}
    train(data, base / "model", shape, settings, Path(unit["corpus"]).name, **kwargs)
    train_s = time.perf_counter() - t0
    meta = json.loads((base / "model" / "compgen.json").read_text())
    net = _load_net(str(base / "model"), unit["threads"])
    t0 = time.perf_counter()
    if tok is None:
        bits = chunk_bits(net, chunks, shape.context, int(meta.get("bos_id", 256)))
        n_tokens = chunks.size
    else:
        ids = [tok.encode(bytes(c)) for c in chunks]
        n_tokens = sum(len(i) for i in ids)
        bits = _token_bits(net, ids, shape.context, int(meta.get("bos_id", tok.vocab_size)))
    eval_s = time.perf_counter() - t0
    nbytes = int(chunks.size)
    return {"tokenizer": unit["tokenizer"], "budget": unit["budget"], "params": int(meta["params"]),
            "bits": [float(b) for b in bits], "bits_per_byte": float(bits.sum() / nbytes),
            "tokens_per_byte": n_tokens / nbytes, "train_tokens": steps * tps, "train_bytes": int(steps * tps / tokens_per_byte),
            "timing": {"train_s": train_s, "eval_s": eval_s, "eval_bytes_per_s": nbytes / max(eval_s, 1e-9)}}


def summarise(study, results: list) -> dict:
    rows = []
    for _u, r in results:
        if r is None:
            continue
        bits_per_token = r["bits_per_byte"] / r["tokens_per_byte"]
        rows.append({"tokenizer": r["tokenizer"], "budget": r["budget"], "params": r["params"],
                     "bits_per_byte": r["bits_per_byte"], "tokens_per_byte": r["tokens_per_byte"],
                     "bits_per_token": bits_per_token, "perplexity_per_token": 2.0 ** bits_per_token,
                     "train_tokens": r["train_tokens"], "train_bytes": r["train_bytes"]})
    return {"size": study.shapes()[0][0], "rows": rows,
            "relation": "bits/byte = tokens/byte x log2(perplexity per token)"}
