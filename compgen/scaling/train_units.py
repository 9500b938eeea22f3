"""One training run of the study as a pure work unit: one size, all its checkpoints.

:func:`train_unit` is top-level and takes only JSON-able arguments, so every backend of
:mod:`compgen.executors` runs it unchanged. It trains with :func:`compgen.lm.train.train`
(token-budget checkpoints), then adds the study's bookkeeping to each checkpoint's
``compgen.json``: total and non-embedding parameters, FLOPs (6 N D), tokens seen.
Training is deterministic for a seed and a thread count; the unit fixes the thread count.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def checkpoint_dir(out: str | os.PathLike, size_label: str, tokens: int) -> Path:
    return Path(out) / "models" / size_label / f"t{tokens}"


def _add_scaling_meta(path: Path, params: int, non_embedding: int, tokens: int) -> dict:
    from ..fileio import write_atomic

    meta_path = path / "compgen.json"
    meta = json.loads(meta_path.read_text())
    meta["scaling"] = {"params": params, "non_embedding_params": non_embedding, "tokens": tokens,
                       "flops_6nd": 6 * params * tokens,
                       "wall_time_s": meta["train"]["wall_time_s"],
                       "heldout_bits_per_byte": meta["train"]["heldout_bits_per_byte"]}
    write_atomic(meta_path, (json.dumps(meta, indent=2) + "\n").encode(), force=True)
    return meta


def train_unit(unit: dict) -> dict:
    """Train ``unit["shape"]`` on the study corpus and save every checkpoint; returns, per
    checkpoint, what scaling.json needs (deterministic) and the timings (kept apart)."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import torch

    from ..lm.train import Shape, TrainSettings, train
    from .plan import non_embedding

    torch.set_num_threads(int(unit["threads"]))
    shape = Shape(**unit["shape"])
    data = Path(unit["corpus"]).read_bytes()
    budgets = [int(b) for b in unit["budgets"]]
    dirs = {b: checkpoint_dir(unit["out"], unit["size"], b) for b in budgets}
    for d in dirs.values():
        d.parent.mkdir(parents=True, exist_ok=True)
    settings = TrainSettings(steps=int(unit["steps"]), batch_size=int(unit["batch_size"]), lr=float(unit["lr"]),
                             warmup=int(unit["warmup"]), seed=int(unit["seed"]), heldout=float(unit["heldout"]),
                             eval_every=0, eval_bytes=int(unit["heldout_eval_bytes"]),
                             final_eval_bytes=int(unit["heldout_eval_bytes"]), checkpoint_minutes=0,
                             threads=int(unit["threads"]))
    final = budgets[-1]
    train(data, dirs[final], shape, settings, Path(unit["corpus"]).name,
          checkpoints={b: dirs[b] for b in budgets[:-1]})
    params = None
    out = []
    for b in budgets:
        meta = json.loads((dirs[b] / "compgen.json").read_text())
        params = int(meta["params"])
        meta = _add_scaling_meta(dirs[b], params, non_embedding(shape), b)
        t = meta["train"]
        out.append({"tokens": b, "dir": str(dirs[b]), "params": params, "non_embedding_params": non_embedding(shape),
                    "flops_6nd": 6 * params * b, "heldout_bits_per_byte": t["heldout_bits_per_byte"],
                    "steps": t["steps"], "timing": {"wall_time_s": t["wall_time_s"]}})
    return {"size": unit["size"], "params": params, "checkpoints": out}
