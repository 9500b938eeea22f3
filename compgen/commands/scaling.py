"""``cgz scaling``: the scaling study (train byte LMs with checkpoints, evaluate, fit, plot)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import UsageError


def add_parser(sub):
    from ..scaling import plan

    p = sub.add_parser(
        "scaling", help="scaling study: byte LMs x checkpoints on text/image/audio, fits, frontier, adjusted rate",
        description="Train byte-level LMs of several sizes with checkpoints at token budgets, evaluate every "
                    "checkpoint on held-out text, image patches and audio chunks (2048-byte chunks), fit "
                    "L(N) = E + A/N^alpha per checkpoint, L = c + aN^-alpha + bD^-beta and Chinchilla's "
                    "E + A/N^alpha + B/D^beta with 95 % bootstrap intervals, and write scaling.json, tables "
                    "(markdown, CSV) and PNG figures. Rerun the same command after a kill to continue.")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder (reused to resume)")
    p.add_argument("--quick", action="store_true",
                   help=f"tiny study (sizes {plan.QUICK_SIZES}, {plan.QUICK_TOKENS} tokens, checkpoints "
                        f"{plan.QUICK_CHECKPOINTS}, small samples): the whole pipeline in a few minutes")
    p.add_argument("--corpus", help="training text [default: ../shared/data/enwik8_head.txt when present]")
    p.add_argument("--eval", nargs="+", metavar="SPEC",
                   help="held-out data: text:PATH image:PATH audio:PATH [default: ../shared/data/enwik8_next.txt, "
                        "images/, audio/ when present]")
    p.add_argument("--sizes", help=f"parameter counts [default: {plan.DEFAULT_SIZES}]")
    p.add_argument("--tokens", help=f"training tokens (bytes) per size [default: {plan.DEFAULT_TOKENS}]")
    p.add_argument("--checkpoints", help=f"token budgets to save and evaluate [default: {plan.DEFAULT_CHECKPOINTS}]")
    p.add_argument("--tokenizers", default="bytes",
                   help="tokenization study: bytes,bpe1k,bpe4k,bpe16k (trains token LMs of the first size)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=8, help="sequences per step [default: 8]")
    p.add_argument("--context", type=int, default=257, help="context incl. BOS [default: 257: 2048 = 8 x 256]")
    p.add_argument("--lr-scale", type=float, default=1.0, help="x the default lr 2e-3 x sqrt(64/width)")
    p.add_argument("--warmup", type=int, default=None, help="warmup steps [default: 100; --quick 20]")
    p.add_argument("--eval-bytes", default=None,
                   help="evaluation bytes per modality, a seeded sample of whole chunks; 0 = all "
                        "[default: 256K; --quick 32K]")
    p.add_argument("--verify-chunks", type=int, default=None,
                   help="chunks per modality and size range coded and decoded at the last checkpoint [default: 1]")
    p.add_argument("--icl-items", type=int, default=None, help="few-shot items per task per checkpoint "
                                                               "(0: no ICL) [default: 8; --quick 2]")
    p.add_argument("--icl-shots", type=int, default=4)
    p.add_argument("--bootstrap", type=int, default=None, help="bootstrap rounds [default: 300; --quick 60]")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per unit (results depend on it; the same on every executor) [default: 1]")
    p.add_argument("--stop-after", type=int, default=None, metavar="N",
                   help="run at most N new units, then stop (a partial run; rerun to continue)")
    from ..executors import add_arguments

    add_arguments(p, workers=True)
    return p


def build_study(args):
    from ..data.sources import parse_data_spec
    from ..scaling import plan
    from ..scaling.tokenize import parse_tokenizers

    data = plan.default_data_dir()
    corpus = args.corpus or (str(data / "enwik8_head.txt") if data else None)
    if corpus is None:
        raise UsageError("give --corpus (no ../shared/data/enwik8_head.txt next to this checkout)")
    if not Path(corpus).is_file():
        raise UsageError(f"{corpus}: no such file (--corpus)")
    evals = args.eval or ([f"text:{data / 'enwik8_next.txt'}", f"image:{data / 'images'}", f"audio:{data / 'audio'}"]
                          if data else None)
    if not evals:
        raise UsageError("give --eval text:PATH [image:PATH] [audio:PATH]")
    for e in evals:
        spec = parse_data_spec(e)
        if spec.modality not in ("text", "image", "audio", "bytes"):
            raise UsageError(f"{e}: use text:PATH, image:PATH or audio:PATH")
        if not Path(spec.path).exists():
            raise UsageError(f"{spec.path}: no such file or directory (--eval)")
    q = args.quick
    sizes = plan.parse_list(args.sizes or (plan.QUICK_SIZES if q else plan.DEFAULT_SIZES), "size")
    tokens = plan.parse_list(args.tokens or (plan.QUICK_TOKENS if q else plan.DEFAULT_TOKENS), "token budget")
    if len(tokens) != 1:
        raise UsageError("--tokens takes one budget")
    ckpts = plan.parse_list(args.checkpoints or (plan.QUICK_CHECKPOINTS if q else plan.DEFAULT_CHECKPOINTS), "checkpoint")
    eval_bytes = plan.parse_list(args.eval_bytes, "--eval-bytes")[0] if args.eval_bytes not in (None, "0") else (
        0 if args.eval_bytes == "0" else (32768 if q else 262144))

    def pick(v, quick, full):
        return v if v is not None else (quick if q else full)

    study = plan.Study(corpus=str(Path(corpus)), evals=list(evals), sizes=sizes, tokens=tokens[0],
                       checkpoints=sorted(set(ckpts + tokens)), seed=args.seed, batch_size=args.batch_size,
                       context=args.context, lr_scale=args.lr_scale, warmup=pick(args.warmup, 20, 100),
                       eval_bytes=eval_bytes, verify_chunks=pick(args.verify_chunks, 1, 1),
                       icl_items=pick(args.icl_items, 2, 8), icl_shots=args.icl_shots,
                       tokenizers=parse_tokenizers(args.tokenizers), threads=args.threads,
                       bootstrap=pick(args.bootstrap, 60, 300), quick=q)
    if args.context < 3:
        raise UsageError("--context must be >= 3")
    study.validate()
    return study


def run(args) -> int:
    import time

    from ..executors import parse_executor
    from ..scaling.study import run_study
    from ..scaling.tables import fits_markdown, grid, markdown

    study = build_study(args)
    if [t for t in study.tokenizers if t != "bytes"]:
        from ..scaling.tokenize import require_bpe

        require_bpe()
    try:
        import matplotlib  # noqa: F401
        import scipy  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        from ..errors import MissingDependencyError

        raise MissingDependencyError(f"cgz scaling needs torch, transformers, scipy and matplotlib ({exc.name} "
                                     "missing): pip install 'compgen[lm,bench,media]'") from None
    quiet = getattr(args, "quiet", False)

    def note(text):
        if not quiet:
            print(f"scaling: {text}", file=sys.stderr, flush=True)

    executor = args.executor
    if executor is None:  # default: one single-threaded unit per core, in a process pool
        workers = args.workers or max(1, (os.cpu_count() or 1) // study.threads)
        executor = parse_executor("process" if workers > 1 else "local", workers)
    else:
        executor = parse_executor(executor, args.workers)
    from ..lm.train import count_params

    shapes = study.shapes()
    note(f"{len(shapes)} sizes ({', '.join(f'{s}={count_params(sh):,}' for s, sh in shapes)} parameters), "
         f"{study.tokens:,} tokens, checkpoints {', '.join(f'{b:,}' for b in study.budgets())}; executor {executor}")
    import signal

    def on_term(signum, frame):  # a kill (nohup'd runs get SIGTERM) stops like Ctrl-C: workers stopped too
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_term)
    t = time.monotonic()
    try:
        report = run_study(study, args.output, executor, None, args.ship_data, args.stop_after, note)
    finally:
        signal.signal(signal.SIGTERM, old)
    if report is None:
        note(f"stopped after {args.stop_after} new units; rerun the same command to continue")
        return 0
    out = sys.stdout
    for m in report["fits"]:
        head, rows = grid(report, m)
        print(f"\n{m}: bits/byte, rows = sizes, columns = tokens seen", file=out)
        print(markdown(head, rows), file=out)
    print("\n" + fits_markdown(report), file=out)
    note(f"done in {time.monotonic() - t:.0f} s; wrote {args.output}/scaling.json, tables.md, table_*.csv, *.png")
    return 0
