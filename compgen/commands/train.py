"""``cgz train``: train a small byte-level transformer LM on a corpus.

The result is a model directory (save_pretrained + compgen.json) that loads as
``byte-lm:DIR`` everywhere a model spec is accepted. ``--tokenizer bpe4k`` trains a token
LM over a byte-level BPE instead (saved in the same directory; still ``byte-lm:DIR``).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from ..errors import CompgenError, UsageError


def add_parser(sub):
    p = sub.add_parser("train", help="train a byte-level transformer LM",
                       description="Train a small byte-level decoder-only transformer (vocab 257: bytes + BOS) "
                                   "on CORPUS with torch on CPU; the last --heldout fraction is held out and "
                                   "its bits/byte reported. Output loads as byte-lm:DIR.")
    p.add_argument("--corpus", required=True, help="training text/bytes (file path)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="model directory to write")
    p.add_argument("--size", default="800k",
                   help="200k, 800k, 3.2M, or a parameter count (e.g. 500k) [default: 800k]")
    p.add_argument("--layers", type=int, help="override the number of layers")
    p.add_argument("--width", type=int, help="override the hidden size")
    p.add_argument("--heads", type=int, help="attention heads [default: width/32]")
    p.add_argument("--ffn", type=int, help="MLP hidden size [default: 4 x width]")
    p.add_argument("--context", type=int, default=256, help="context length incl. BOS [default: 256]")
    p.add_argument("--steps", type=int, help="training steps [default: 2000 unless --max-minutes]")
    p.add_argument("--tokens", type=float, help="token budget instead of --steps (e.g. 1.5e6)")
    p.add_argument("--max-minutes", type=float, help="wall-clock budget for training")
    p.add_argument("--batch-size", type=int, default=4,
                   help="sequences per step [default: 4; small batches learn more per byte early on]")
    p.add_argument("--lr", type=float, help="peak AdamW learning rate [default: 2e-3 x sqrt(64/width)]")
    p.add_argument("--warmup", type=int, default=100, help="warmup steps [default: 100]")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--heldout", type=float, default=0.05, help="held-out tail fraction [default: 0.05]")
    p.add_argument("--eval-every", type=int, default=200, help="steps between held-out evaluations")
    p.add_argument("--eval-bytes", type=int, default=65536, help="held-out bytes per periodic evaluation")
    p.add_argument("--checkpoint-minutes", type=float, default=2.0, help="minutes between checkpoints")
    p.add_argument("--threads", type=int, default=0, help="torch threads [default: all cores]")
    p.add_argument("--tokenizer", default="bytes", metavar="NAME|DIR",
                   help="bytes (a byte LM), bpe1k / bpe4k / bpe16k (any bpeN or bpeNk: a byte-level BPE "
                        "learnt on the training split) or a tokenizer directory; a token LM still loads "
                        "as byte-lm:DIR and is scored in bits/byte [default: bytes]")
    p.add_argument("-f", "--force", action="store_true", help="overwrite a non-empty output directory")
    return p


def _settings(args, shape):
    from ..lm.train import TrainSettings, default_lr

    steps = args.steps
    if args.tokens is not None:
        if steps is not None:
            raise UsageError("give --steps or --tokens, not both")
        if args.tokens <= 0:
            raise UsageError("--tokens must be > 0")
        steps = max(1, int(round(args.tokens / (args.batch_size * (shape.context - 1)))))
    if steps is None and args.max_minutes is None:
        steps = 2000
    for name in ("batch_size", "eval_every", "eval_bytes", "context"):
        if getattr(args, name) < (0 if name == "eval_every" else 1):
            raise UsageError(f"--{name.replace('_', '-')} is out of range")
    lr = args.lr if args.lr is not None else default_lr(shape.width)
    return TrainSettings(steps=steps, max_minutes=args.max_minutes, batch_size=args.batch_size, lr=lr,
                         warmup=args.warmup, weight_decay=args.weight_decay, seed=args.seed,
                         heldout=args.heldout, eval_every=args.eval_every, eval_bytes=args.eval_bytes,
                         checkpoint_minutes=args.checkpoint_minutes, threads=args.threads)


def run(args) -> int:
    from ..fileio import read_input
    from ..lm.train import count_params, shape_for_size

    if args.context < 2:
        raise UsageError("--context must be >= 2")
    shape = shape_for_size(args.size, args.context)
    for knob in ("layers", "width", "heads", "ffn"):
        value = getattr(args, knob)
        if value is not None:
            if value < 1:
                raise UsageError(f"--{knob} must be >= 1")
            setattr(shape, knob, value)
    if args.width is not None and args.heads is None:
        shape.heads = 0  # re-derive from the new width
    if args.width is not None and args.ffn is None:
        shape.ffn = 0
    shape = shape.resolved()
    settings = _settings(args, shape)
    tokenizer = _tokenizer_arg(args.tokenizer)
    if args.corpus == "-":
        raise UsageError("--corpus must be a file")
    data = read_input(args.corpus)
    if not data:
        raise CompgenError(f"{args.corpus}: corpus is empty")
    out = Path(args.output)
    from ..lm.train import check_output_dir, validate

    validate(data, shape, settings, args.corpus)
    check_output_dir(out, args.force)
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads; see compgen.lm.train.train
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        from ..errors import MissingDependencyError

        raise MissingDependencyError(f"cgz train needs torch and transformers ({exc.name} missing)") from None

    if tokenizer is not None:  # learn / read it now, so the note gives the real vocabulary
        from ..lm.bpe import resolve_tokenizer
        from ..lm.train import split_corpus

        if not quiet_of(args):
            print(f"tokenizer {tokenizer}: preparing on the training split", file=sys.stderr, flush=True)
        tokenizer = resolve_tokenizer(tokenizer, split_corpus(data, settings.heldout)[0].tobytes())
    vocab = 257 if tokenizer is None else tokenizer.vocab_size
    n_params = count_params(shape, vocab)
    kind = "byte LM" if tokenizer is None else f"token LM (BPE vocabulary {vocab:,})"
    note = (f"training {n_params:,}-parameter {kind} ({shape.layers} layers, width {shape.width}, "
            f"{shape.heads} heads, ffn {shape.ffn}, context {shape.context}) on {args.corpus} "
            f"({len(data):,} bytes; last {settings.heldout:.0%} held out)")
    quiet = getattr(args, "quiet", False)
    if not quiet:
        print(note, file=sys.stderr, flush=True)

    stop = {"flag": False}

    def on_term(signum, frame):  # nohup'd runs get SIGTERM: finish the step, checkpoint, exit
        stop["flag"] = True

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        meta = _run_with_display(data, out, shape, settings, args.corpus, quiet, lambda: stop["flag"], tokenizer)
    finally:
        signal.signal(signal.SIGTERM, old)
    t = meta["train"]
    if not quiet:
        print(f"saved {out}/ : {meta['params']:,} params, {t['steps']} steps, {t['tokens_seen']:,} tokens, "
              f"held-out {t['heldout_bits_per_byte']:.4f} bits/byte, {t['train_seconds']:.0f} s"
              + (" (stopped early)" if stop["flag"] else ""), file=sys.stderr)
    print(out)
    return 0


def quiet_of(args) -> bool:
    return bool(getattr(args, "quiet", False))


def _tokenizer_arg(value: str | None) -> str | None:
    """bytes -> None; bpeN[k] or an existing directory as given; anything else a usage error."""
    import os

    from ..lm.bpe import MAX_VOCAB, MIN_VOCAB, parse_bpe_name

    name = (value or "bytes").strip()
    if name.lower() in ("bytes", "byte", "none"):
        return None
    size = parse_bpe_name(name)
    if size is not None and not os.path.exists(name):
        if not MIN_VOCAB <= size <= MAX_VOCAB:
            raise UsageError(f"--tokenizer {name}: vocabulary must be between {MIN_VOCAB} and {MAX_VOCAB}")
        return name
    if not os.path.isdir(name):
        raise UsageError(f"--tokenizer {name!r}: use bytes, bpe1k, bpe4k, bpe16k (any bpeN or bpeNk) or a tokenizer directory")
    return name


def _run_with_display(data, out, shape, settings, corpus, quiet, should_stop, tokenizer=None):
    """Rich bar (loss, held-out, bytes/s) on a terminal; plain log lines otherwise."""
    import time

    from ..lm.train import train
    from ..progress import enabled

    name = Path(corpus).name
    if enabled():
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        bar = Progress(TextColumn("train"), BarColumn(), TextColumn("{task.fields[done]}"),
                       TextColumn("loss {task.fields[loss]}"), TextColumn("held-out {task.fields[held]}"),
                       TextColumn("{task.fields[rate]} B/s"), TimeElapsedColumn(), TimeRemainingColumn(),
                       transient=False, refresh_per_second=4)
        total = settings.steps
        task = bar.add_task("train", total=total or 100, loss="-", held="-", rate="-", done="")

        def on_progress(s):
            time_frac = s.elapsed / (settings.max_minutes * 60) if settings.max_minutes else 0.0
            if total and s.step / total >= time_frac:
                bar.update(task, total=total, completed=s.step, done=f"{s.step}/{total} steps")
            else:  # the time budget binds: show progress through it
                bar.update(task, total=100, completed=min(100, int(100 * time_frac)),
                           done=f"step {s.step}, {min(1.0, time_frac):.0%} of {settings.max_minutes:g} min")
            bar.update(task, loss=f"{s.loss:.3f}",
                       held="-" if s.heldout_bpb is None else f"{s.heldout_bpb:.3f}",
                       rate=f"{s.bytes_per_s:,.0f}")
            if s.event == "eval":
                bar.console.print(f"step {s.step}: train {s.loss:.3f} held-out {s.heldout_bpb:.4f} bits/byte")
            elif s.event == "checkpoint":
                bar.console.print(f"step {s.step}: checkpoint saved to {out}")

        with bar:
            return train(data, out, shape, settings, name, on_progress, should_stop, tokenizer=tokenizer)

    last = {"t": 0.0}

    def log(s):
        if quiet:
            return
        now = time.monotonic()
        if s.event in ("eval", "checkpoint", "done") or now - last["t"] >= 30:
            last["t"] = now
            held = "" if s.heldout_bpb is None else f" held-out {s.heldout_bpb:.4f}"
            extra = {"checkpoint": f" (checkpoint saved to {out})", "done": " (final)"}.get(s.event, "")
            print(f"step {s.step}/{settings.steps or '?'} tokens {s.tokens:,} loss {s.loss:.4f}{held} bits/byte "
                  f"{s.bytes_per_s:,.0f} B/s {s.elapsed:.0f}s{extra}", file=sys.stderr, flush=True)

    return train(data, out, shape, settings, name, log, should_stop, tokenizer=tokenizer)
