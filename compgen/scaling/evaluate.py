"""Evaluation work units for one checkpoint: teacher-forced bits per chunk, coded and
verified chunks, few-shot ICL accuracy.

Chunks follow the paper's protocol: each 2048-byte chunk is scored on its own (no context
from the previous chunk), as ``chunk / (context - 1)`` windows that each start with BOS,
the same windows the model was trained on. All chunks of a modality go through the model
in fixed batches, so the floats (and the bits) are the same on every executor for a given
thread count.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

#: windows per forward pass
EVAL_BATCH = 32


def write_chunks(path: str | os.PathLike, chunks: list[bytes]) -> None:
    from ..fileio import write_atomic

    write_atomic(path, b"".join(chunks), force=True)


def read_chunks(path: str | os.PathLike, chunk: int) -> np.ndarray:
    raw = np.frombuffer(Path(path).read_bytes(), dtype=np.uint8)
    return raw[: len(raw) // chunk * chunk].reshape(-1, chunk)


def _load_net(ckpt: str, threads: int):
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import torch
    from transformers import LlamaForCausalLM

    torch.set_num_threads(int(threads))
    net = LlamaForCausalLM.from_pretrained(ckpt, dtype=torch.float32, local_files_only=True)
    net.eval()
    return net


def chunk_bits(net, chunks: np.ndarray, context: int, bos: int = 256) -> np.ndarray:
    """Bits of every chunk (float64 array, one per row of ``chunks``) under ``net``."""
    import torch
    import torch.nn.functional as F

    n, size = chunks.shape
    seg = context - 1
    if size % seg:
        raise ValueError(f"chunk {size} is not a multiple of {seg}")
    per = size // seg
    windows = np.empty((n * per, seg + 1), dtype=np.int64)
    windows[:, 0] = bos
    windows[:, 1:] = chunks.reshape(n * per, seg)
    nats = np.empty(n * per, dtype=np.float64)
    with torch.no_grad():
        for i in range(0, len(windows), EVAL_BATCH):
            t = torch.from_numpy(windows[i:i + EVAL_BATCH])
            logits = net(input_ids=t).logits[:, :-1].float()
            ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), t[:, 1:].reshape(-1), reduction="none")
            nats[i:i + len(t)] = ce.reshape(len(t), -1).double().sum(dim=1).numpy()
    return nats.reshape(n, per).sum(axis=1) / math.log(2)


def eval_unit(unit: dict) -> dict:
    """Teacher-forced bits of every chunk of one modality under one checkpoint."""
    import json
    import time

    ckpt = unit["dir"]
    meta = json.loads((Path(ckpt) / "compgen.json").read_text())
    net = _load_net(ckpt, unit["threads"])
    chunks = read_chunks(unit["chunks"], int(unit["chunk"]))
    t = time.perf_counter()
    bits = chunk_bits(net, chunks, int(meta["context"]), int(meta.get("bos_id", 256)))
    seconds = time.perf_counter() - t
    return {"bits": [float(b) for b in bits], "bytes": int(chunks.size),
            "bits_per_byte": float(bits.sum() / max(1, chunks.size)),
            "timing": {"seconds": seconds, "bytes_per_s": chunks.size / max(seconds, 1e-9)}}


def code_unit(unit: dict) -> dict:
    """Range code chunks with the checkpoint alone (``mix=0``: no in-file model mixed in) through
    compgen's coder, decode and compare."""
    from ..bench.unit import measure

    chunks = read_chunks(unit["chunks"], int(unit["chunk"]))
    spec = f"byte-lm:{unit['dir']}:threads={int(unit['threads'])}:mix=0"  # the LM alone
    rows = []
    for i in unit["indices"]:
        r = measure(spec, bytes(chunks[i]), {"route": "model", "verify": True})
        rows.append({"index": int(i), "input_bytes": r["input_bytes"], "output_bytes": r.get("output_bytes"),
                     "payload_bytes": r.get("payload_bytes"), "verified": bool(r.get("verified")),
                     "error": r.get("error"),
                     "timing": {"compress_s": r.get("compress_s"), "decompress_s": r.get("decompress_s")}})
    return {"chunks": rows}


def icl_items(n_items: int, shots: int):
    from ..icl.tasks import TASKS, make_items

    return make_items(list(TASKS), [shots], 1, n_items)


def icl_unit(unit: dict) -> dict:
    """Multiple-choice accuracy on every built-in few-shot task (expected credit, ties split)."""
    from ..executors import cached_model

    model, _ = cached_model(f"byte-lm:{unit['dir']}:threads={int(unit['threads'])}")
    per_task: dict[str, list] = {}
    chance: dict[str, float] = {}
    for item in icl_items(int(unit["items"]), int(unit["shots"])):
        per_task.setdefault(item.task, []).append(float(item.run(model)["score"]))
        chance[item.task] = item.chance
    scores = [s for v in per_task.values() for s in v]
    return {"accuracy": float(np.mean(scores)), "n": len(scores), "scores": scores,
            "chance": float(np.mean([chance[t] for t, v in per_task.items() for _ in v])),
            "per_task": {t: float(np.mean(v)) for t, v in sorted(per_task.items())}}
