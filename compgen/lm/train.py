"""Train small byte-level transformer LMs (the paper's enwik8 models, scaled to a CPU).

A model is a transformers ``LlamaForCausalLM`` over 257 ids: bytes 0..255 plus BOS=256,
which starts every training window and every held-out segment (the byte-LM contract that
``compgen.lm.loading.load_byte_lm`` reads).  The corpus is split once: the last
``heldout`` fraction is never trained on and gives the held-out bits/byte.

Checkpoints are whole model directories written to a temporary sibling and renamed into
place, so an interrupted run always leaves a loadable model behind.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import CompgenError, UsageError

BOS_ID = 256
VOCAB_SIZE = 257
HEAD_DIM = 32

# Named sizes (like the paper's 200K / 800K / 3.2M enwik8 transformers): width doubles,
# depth stays at 3 so the 3.2M model still trains at a useful rate on two CPU cores.
SIZES = {
    "200k": {"layers": 3, "width": 64},
    "800k": {"layers": 3, "width": 128},
    "3.2m": {"layers": 3, "width": 256},
}


@dataclass
class Shape:
    """Architecture knobs of a byte LM; ``ffn`` 0 means 4 x width."""

    layers: int
    width: int
    heads: int = 0
    ffn: int = 0
    context: int = 256

    def resolved(self) -> "Shape":
        heads = self.heads or max(1, self.width // HEAD_DIM)
        ffn = self.ffn or 4 * self.width
        if self.layers < 1 or self.width < 1 or ffn < 1 or self.context < 2:
            raise UsageError("layers, width, ffn must be >= 1 and context >= 2")
        if self.width % heads:
            raise UsageError(f"width {self.width} is not divisible by heads {heads}")
        return Shape(self.layers, self.width, heads, ffn, self.context)


def build_config(shape: Shape, vocab_size: int = VOCAB_SIZE, bos_id: int = BOS_ID):
    """transformers LlamaConfig for ``shape`` (RoPE, tied embeddings, vocab 257 or a tokenizer's)."""
    from transformers import LlamaConfig

    s = shape.resolved()
    return LlamaConfig(vocab_size=vocab_size, hidden_size=s.width, intermediate_size=s.ffn,
                       num_hidden_layers=s.layers, num_attention_heads=s.heads,
                       num_key_value_heads=s.heads, head_dim=s.width // s.heads,
                       max_position_embeddings=s.context, tie_word_embeddings=True,
                       bos_token_id=bos_id, eos_token_id=None, pad_token_id=None,
                       rms_norm_eps=1e-5, initializer_range=0.02)


def count_params(shape: Shape, vocab_size: int = VOCAB_SIZE) -> int:
    """Exact parameter count of the LlamaForCausalLM built from ``shape`` (tied head)."""
    s = shape.resolved()
    per_layer = 4 * s.width * s.width + 3 * s.width * s.ffn + 2 * s.width
    return vocab_size * s.width + s.layers * per_layer + s.width


def parse_count(text: str) -> int | None:
    """'800k' -> 800000, '3.2M' -> 3200000, '150000' -> 150000; None if not a count."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        return None
    mult = {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()]
    return int(round(float(m.group(1)) * mult))


def shape_for_size(size: str, context: int = 256) -> Shape:
    """A named size (200k / 800k / 3.2M) or the grid shape closest to a parameter count."""
    key = size.strip().lower()
    if key in SIZES:
        return Shape(context=context, **SIZES[key])
    target = parse_count(size)
    if target is None or target <= 0:
        raise UsageError(f"unknown size {size!r}: use 200k, 800k, 3.2M or a parameter count like 500k")
    best = None
    for layers in range(1, 13):
        for width in range(HEAD_DIM, 2049, HEAD_DIM):
            shape = Shape(layers, width, context=context)
            err = abs(math.log(count_params(shape) / target))
            # prefer shallower-but-not-degenerate: depth ~ width/64 when errors tie
            key2 = (round(err, 2), abs(layers - max(2, width // 64)))
            if best is None or key2 < best[0]:
                best = (key2, shape)
    return best[1]


def default_lr(width: int) -> float:
    """Peak lr shrinking with width (2e-3 at width 64): one lr for all sizes let the
    3.2M model lose to the 800k one on enwik8 (see docs/train.md)."""
    return 2e-3 * math.sqrt(64 / width)


@dataclass
class TrainSettings:
    steps: int | None = 2000
    max_minutes: float | None = None
    batch_size: int = 32
    lr: float = 2e-3
    min_lr_ratio: float = 0.1
    warmup: int = 100
    weight_decay: float = 0.1
    seed: int = 0
    heldout: float = 0.05
    eval_every: int = 200
    eval_bytes: int = 65536
    final_eval_bytes: int | None = None  # None: the whole held-out split
    checkpoint_minutes: float = 2.0
    threads: int = 0  # 0: all cores
    grad_clip: float = 1.0


@dataclass
class TrainState:
    """What the progress callback sees after each step."""

    step: int = 0
    total_steps: int | None = None
    loss: float = float("nan")  # training bits/byte (smoothed)
    heldout_bpb: float | None = None
    tokens: int = 0
    elapsed: float = 0.0
    bytes_per_s: float = 0.0
    event: str = "step"  # step | eval | checkpoint | done
    history: list = field(default_factory=list)


def split_corpus(data: bytes, heldout: float) -> tuple[np.ndarray, np.ndarray, int]:
    """(train bytes, held-out bytes, held-out start offset): the held-out part is the tail."""
    if not 0 < heldout < 1:
        raise UsageError("--heldout must be between 0 and 1")
    arr = np.frombuffer(data, dtype=np.uint8)
    cut = len(arr) - max(1, int(round(len(arr) * heldout)))
    return arr[:cut], arr[cut:], cut


def _batch(train: np.ndarray, context: int, batch_size: int, rng: np.random.Generator, bos_id: int = BOS_ID):
    """``batch_size`` random windows of context-1 bytes (or token ids), each behind a BOS."""
    import torch

    n = context - 1
    starts = rng.integers(0, len(train) - n + 1, size=batch_size)
    idx = starts[:, None] + np.arange(n)[None, :]
    ids = np.empty((batch_size, context), dtype=np.int64)
    ids[:, 0] = bos_id
    ids[:, 1:] = train[idx]
    return torch.from_numpy(ids)


def _loss(model, ids):
    """Mean cross-entropy (nats) of every byte after the BOS."""
    import torch.nn.functional as F

    logits = model(input_ids=ids).logits[:, :-1].float()
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def heldout_bits_per_byte(model, data: np.ndarray, context: int, max_bytes: int | None = None,
                          batch_size: int = 16, bos_id: int = BOS_ID, token_lens: np.ndarray | None = None) -> float:
    """Bits/byte over consecutive BOS-prefixed segments of context-1 bytes (no overlap).

    Token LMs: ``data`` holds token ids and ``token_lens`` the bytes each id stands for;
    ``max_bytes`` then keeps the tokens that end within the first ``max_bytes`` bytes and
    the bits are divided by the bytes those tokens cover."""
    import torch
    import torch.nn.functional as F

    n_bytes = None
    if token_lens is not None:
        ends = np.cumsum(token_lens[data])
        keep = len(data) if max_bytes is None else max(1, int(np.searchsorted(ends, max_bytes, side="right")))
        data = data[:keep]
        n_bytes = int(ends[len(data) - 1]) if len(data) else 0
    else:
        data = data if max_bytes is None else data[:max_bytes]
    n = context - 1
    segs = [data[i:i + n] for i in range(0, len(data), n)]
    total_nats, total_bytes = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        # equal-length segments batch together; the (shorter) last one runs alone
        groups: dict[int, list] = {}
        for s in segs:
            groups.setdefault(len(s), []).append(s)
        for length, group in groups.items():
            for i in range(0, len(group), batch_size):
                chunk = group[i:i + batch_size]
                ids = np.empty((len(chunk), length + 1), dtype=np.int64)
                ids[:, 0] = bos_id
                ids[:, 1:] = np.stack(chunk)
                t = torch.from_numpy(ids)
                logits = model(input_ids=t).logits[:, :-1].float()
                nats = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), t[:, 1:].reshape(-1), reduction="sum")
                total_nats += float(nats)
                total_bytes += t[:, 1:].numel()
    model.train(was_training)
    total_bytes = total_bytes if n_bytes is None else n_bytes
    return total_nats / max(1, total_bytes) / math.log(2)


def lr_factor(progress: float, warmup_frac: float, min_ratio: float) -> float:
    """Linear warmup then cosine decay to ``min_ratio``; ``progress`` in [0, 1]."""
    if progress < warmup_frac:
        return max(progress / warmup_frac, 1e-3)
    p = min(1.0, (progress - warmup_frac) / max(1e-9, 1 - warmup_frac))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * p))


def check_output_dir(out: Path, force: bool) -> None:
    """Refuse a non-empty existing output (unless forced) or a path that is a file."""
    if out.exists() and not out.is_dir():
        raise CompgenError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise CompgenError(f"{out}: directory exists and is not empty (use --force to overwrite)")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise CompgenError(f"{parent}: no such directory")


def _umask_permissions(directory: Path) -> None:
    """mkdtemp makes 0700 dirs (and safetensors 0600 files): give them the usual umask modes."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(directory, 0o777 & ~mask)
    for f in directory.iterdir():
        if f.is_file():
            os.chmod(f, 0o666 & ~mask)


def save_model_dir(model, out: Path, meta: dict, extra: Callable[[Path], None] | None = None) -> None:
    """save_pretrained + compgen.json (+ whatever ``extra(dir)`` writes, e.g. a tokenizer)
    into a temp sibling, then swap it into ``out``."""
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        (tmp / "compgen.json").write_text(json.dumps(meta, indent=2) + "\n")
        if extra is not None:
            extra(tmp)
        _umask_permissions(tmp)
        old = None
        if out.exists():
            old = parent / f".{out.name}.old-{os.getpid()}"
            if old.exists():
                shutil.rmtree(old)
            os.rename(out, old)
        os.rename(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def validate(data: bytes, shape: Shape, settings: TrainSettings, corpus_name: str = "corpus") -> None:
    """Raise a one-line user error for budgets, knobs or a corpus that cannot work."""
    if settings.steps is None and settings.max_minutes is None:
        raise UsageError("give --steps or --max-minutes")
    if settings.steps is not None and settings.steps < 1:
        raise UsageError("--steps must be >= 1")
    if settings.max_minutes is not None and settings.max_minutes <= 0:
        raise UsageError("--max-minutes must be > 0")
    if settings.batch_size < 1 or settings.lr <= 0:
        raise UsageError("--batch-size must be >= 1 and --lr > 0")
    if not data:
        raise CompgenError(f"{corpus_name}: corpus is empty")
    train_arr, held_arr, _ = split_corpus(data, settings.heldout)
    if len(train_arr) < shape.context or len(held_arr) < 1:
        raise CompgenError(f"{corpus_name}: corpus too small ({len(data)} bytes) for context {shape.context}; "
                           f"need at least {int(shape.context / (1 - settings.heldout)) + 2} bytes")


def train(data: bytes, out: str | os.PathLike, shape: Shape, settings: TrainSettings,
          corpus_name: str = "corpus", on_progress: Callable[[TrainState], None] | None = None,
          should_stop: Callable[[], bool] | None = None, checkpoints: dict | None = None, *,
          tokenizer: str | None = None) -> dict:
    """Train a byte LM on ``data`` and save it to ``out``; returns the compgen.json dict.

    ``tokenizer`` (None or "bytes": bytes, as above) makes it a token LM: a BPE directory
    from :func:`compgen.lm.bpe.train_tokenizer`, or a name like "bpe4k" (trained here on the
    training split). Steps, batches and context then count tokens; the tokenizer is saved
    in the model directory, held-out losses stay in bits per byte, and the directory loads
    as ``byte-lm:DIR`` like a byte LM (exact next-byte distributions through the codec).

    Stops at ``settings.steps`` or ``settings.max_minutes`` (whichever comes first; the
    cosine schedule follows whichever budget is closer to running out), or when
    ``should_stop()`` turns true, and always saves the model it has.
    ``checkpoints`` ({tokens: directory}): when the tokens seen first reach a budget, the
    held-out bits/byte (first ``eval_bytes``) is measured and the model saved there.
    """
    # Busy-waiting OpenMP threads on shared cores: 2.7-3.5 s per step instead of 0.17-0.32 s
    # (3 x 128 model, batch 8, 2 threads, loaded box; same loss to the last bit). Takes effect
    # only if torch is not loaded yet (a fresh worker process, `cgz train`).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    shape = shape.resolved()
    validate(data, shape, settings, corpus_name)
    train_arr, held_arr, cut = split_corpus(data, settings.heldout)
    # -- token LMs: the model reads token ids; losses are divided by the bytes they cover
    from .bpe import resolve_tokenizer

    tok = resolve_tokenizer(tokenizer, train_arr.tobytes())
    train_ids, held_ids, bos_id, vocab_size, bytes_per_token, eval_kw = train_arr, held_arr, BOS_ID, VOCAB_SIZE, 1.0, {}
    if tok is not None:
        train_ids = np.asarray(tok.encode(train_arr.tobytes()), dtype=np.int64)
        held_ids = np.asarray(tok.encode(held_arr.tobytes()), dtype=np.int64)
        if len(train_ids) < shape.context:
            raise CompgenError(f"{corpus_name}: training split is {len(train_ids)} tokens, shorter than context {shape.context}")
        bos_id, vocab_size = tok.bos_id, tok.vocab_size
        bytes_per_token = len(train_arr) / len(train_ids)
        eval_kw = {"bos_id": bos_id, "token_lens": tok.token_lengths()}

    threads = settings.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)

    from transformers import LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own bar; no "Writing model shards" noise

    config = build_config(shape, vocab_size, bos_id)
    model = LlamaForCausalLM(config)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=settings.lr, betas=(0.9, 0.95), eps=1e-8)

    out = Path(out)
    tokens_per_step = settings.batch_size * (shape.context - 1)
    meta = {"kind": "byte-lm" if tok is None else "token-lm", "bos_id": bos_id, "vocab_size": vocab_size,
            "context": shape.context,
            "params": int(n_params), "architecture": "LlamaForCausalLM",
            "shape": {"layers": shape.layers, "width": shape.width, "heads": shape.heads, "ffn": shape.ffn},
            "train": {}}
    if tok is not None:
        meta["tokenizer"] = {"name": str(tokenizer), "vocab_size": tok.vocab_size, "digest": tok.digest(),
                             "train_tokens": len(train_ids), "heldout_tokens": len(held_ids),
                             "train_tokens_per_byte": len(train_ids) / len(train_arr),
                             "heldout_tokens_per_byte": len(held_ids) / max(1, len(held_arr))}
    budget_s = settings.max_minutes * 60 if settings.max_minutes else None
    warmup_frac = (settings.warmup / settings.steps) if settings.steps else 0.05
    warmup_frac = min(warmup_frac, 0.3)
    state = TrainState(total_steps=settings.steps)
    start = time.monotonic()
    last_ckpt = start
    smooth = None
    interrupted = False
    train_seconds = None
    stopped = False
    done_budgets: set = set()

    def train_meta(complete: bool, heldout_bpb: float | None, final_eval_bytes: int | None) -> dict:
        return {"corpus": corpus_name, "corpus_bytes": len(data), "train_bytes": len(train_arr),
                "heldout_start": cut, "heldout_bytes": len(held_arr),
                "heldout_bits_per_byte": heldout_bpb, "heldout_eval_bytes": final_eval_bytes,
                "steps": state.step, "planned_steps": settings.steps, "max_minutes": settings.max_minutes,
                "tokens_seen": state.tokens, "batch_size": settings.batch_size, "tokens_per_step": tokens_per_step,
                "lr": settings.lr, "warmup_steps": settings.warmup, "schedule": "linear warmup + cosine",
                "min_lr_ratio": settings.min_lr_ratio, "weight_decay": settings.weight_decay,
                "optimizer": "AdamW(0.9, 0.95)", "seed": settings.seed, "threads": threads,
                "train_loss_bits_per_byte": None if smooth is None else smooth,
                "train_seconds": round(train_seconds if train_seconds is not None else time.monotonic() - start, 2),
                "wall_time_s": round(time.monotonic() - start, 2), "complete": complete,
                "interrupted": interrupted, "stopped_early": stopped, "history": state.history,
                "torch": torch.__version__}

    def checkpoint(complete: bool, heldout_bpb=None, eval_bytes=None):
        meta["train"] = train_meta(complete, heldout_bpb, eval_bytes)
        save_model_dir(model, out, meta, None if tok is None else lambda d: tok.save_to(d, shape.context))

    try:
        while True:
            elapsed = time.monotonic() - start
            progress = 0.0
            if settings.steps:
                progress = state.step / settings.steps
            if budget_s:
                progress = max(progress, elapsed / budget_s)
            if progress >= 1.0:
                break
            if should_stop and should_stop():
                stopped = True
                break
            for g in opt.param_groups:
                g["lr"] = settings.lr * lr_factor(progress, warmup_frac, settings.min_lr_ratio)
            ids = _batch(train_ids, shape.context, settings.batch_size, rng, bos_id)
            loss = _loss(model, ids)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if settings.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
            opt.step()
            bpb = float(loss.detach()) / math.log(2) / bytes_per_token  # token LMs: per byte on average
            smooth = bpb if smooth is None else 0.95 * smooth + 0.05 * bpb
            state.step += 1
            state.tokens += tokens_per_step
            state.elapsed = time.monotonic() - start
            state.bytes_per_s = state.tokens * bytes_per_token / max(state.elapsed, 1e-9)
            state.loss = smooth
            state.event = "step"
            if settings.eval_every and state.step % settings.eval_every == 0:
                state.heldout_bpb = heldout_bits_per_byte(model, held_ids, shape.context, settings.eval_bytes, **eval_kw)
                state.history.append({"step": state.step, "tokens": state.tokens,
                                      "seconds": round(state.elapsed, 1), "train_bpb": round(smooth, 4),
                                      "heldout_bpb": round(state.heldout_bpb, 4)})
                state.event = "eval"
            if on_progress:
                on_progress(state)
            for budget in sorted(checkpoints or {}):  # token-budget checkpoints (cgz scaling)
                if state.tokens >= budget and budget not in done_budgets:
                    done_budgets.add(budget)
                    bpb = heldout_bits_per_byte(model, held_ids, shape.context, settings.eval_bytes, **eval_kw)
                    meta["train"] = train_meta(False, bpb, min(len(held_arr), settings.eval_bytes))
                    meta["train"]["checkpoint_tokens"] = budget
                    save_model_dir(model, Path(checkpoints[budget]), meta,
                                   None if tok is None else lambda d: tok.save_to(d, shape.context))
            if settings.checkpoint_minutes and time.monotonic() - last_ckpt >= settings.checkpoint_minutes * 60:
                checkpoint(False)
                last_ckpt = time.monotonic()
                state.event = "checkpoint"
                if on_progress:
                    on_progress(state)
    except KeyboardInterrupt:
        interrupted = True
    if state.step == 0:
        raise CompgenError("stopped before the first training step; nothing saved")
    train_seconds = time.monotonic() - start
    if interrupted:  # keep what we have without a long evaluation
        checkpoint(False)
        raise KeyboardInterrupt
    final_bpb = heldout_bits_per_byte(model, held_ids, shape.context, settings.final_eval_bytes, **eval_kw)
    eval_bytes = len(held_arr) if settings.final_eval_bytes is None else min(len(held_arr), settings.final_eval_bytes)
    state.heldout_bpb = final_bpb
    state.history.append({"step": state.step, "tokens": state.tokens, "seconds": round(train_seconds, 1),
                          "train_bpb": round(smooth, 4), "heldout_bpb": round(final_bpb, 4), "final": True})
    checkpoint(True, final_bpb, eval_bytes)
    state.event = "done"
    if on_progress:
        on_progress(state)
    return meta
