"""``cgz bench``: the paper's Table 1 (raw / adjusted rate) and scaling view on your data."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError

DEFAULT_MODELS = "gzip,xz,zstd,brotli,bz2,ppmd"


def add_parser(sub):
    p = sub.add_parser(
        "bench", help="compression benchmark: raw/adjusted rate, bits/byte, speed; `bench scaling` fits L(N)",
        description="Measure real compressed sizes (round trips) of every model on DATA, whole-file and in "
                    "fixed-size chunks, like Table 1 of 'Language Modeling Is Compression'. "
                    "`cgz bench scaling` fits L(N) = E + A/N^alpha over byte-level LMs of several sizes.")
    p.add_argument("what", nargs="?", default="table", choices=["table", "scaling"],
                   help="table (default) or scaling")
    p.add_argument("-m", "--models", default=DEFAULT_MODELS, help=f"comma-separated specs (default: {DEFAULT_MODELS})")
    p.add_argument("--data", nargs="+", required=True, metavar="SPEC",
                   help="files or directories: PATH (bytes), text:PATH, image:PATH (grayscale patches), "
                        "audio:PATH (16 kHz unsigned 8-bit samples)")
    p.add_argument("--patch", default="32x64", help="image patch ROWSxCOLS (default 32x64 = 2048 bytes)")
    p.add_argument("--lm-max-bytes", default=None,
                   help="cap on bytes per mode and data spec that LMs really code (and --verify): a subset of the "
                        "codecs' sample; the LM cross-entropy rows still cover every chunk the codecs see")
    p.add_argument("--byte-scheme", choices=["auto", "7bit", "escape"], default="auto",
                   help="token LMs on image/audio bytes: exact 7-bit scheme (auto) or the token codec's escapes")
    p.add_argument("--mode", choices=["chunked", "whole", "both"], default=None,
                   help="chunked: each --chunk bytes compressed independently; whole: each file at once "
                        "(default: both; scaling: chunked)")
    p.add_argument("--chunk", default="2048", help="chunk size in bytes (default 2048)")
    p.add_argument("--max-bytes", default=None, help="cap on bytes per mode and --data spec, e.g. 1M, 500k: a "
                                                     "seeded sample of chunks / equal-share file prefixes")
    p.add_argument("--tail", type=float, default=None, metavar="FRACTION",
                   help="use only the last FRACTION of each file (e.g. 0.05: the held-out tail of `cgz train`)")
    p.add_argument("--seed", type=int, default=0, help="chunk sampling seed (default 0)")
    p.add_argument("--verify", action="store_true", help="decompress every unit and compare (gives decompress speed)")
    p.add_argument("--via-model", action="store_true",
                   help="also range code each codec through compgen.as_compressor (slow: use a small --max-bytes)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default 1; with --executor process/dask: all cores)")
    from ..executors import add_arguments

    add_arguments(p)
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads for LM specs (appended as :threads=N unless a spec sets it); "
                        "1 is fastest on a busy machine or with --workers > 1")
    p.add_argument("--no-cli-check", action="store_true", help="skip comparing whole-file sizes with the codec CLIs")
    p.add_argument("--no-plots", action="store_true", help="no PNG plots")
    p.add_argument("--fit-on", choices=["payload", "container", "xent"], default="payload",
                   help="scaling: bits/byte to fit (default payload = range-coder output without the header)")
    p.add_argument("-o", "--output", default="bench-out", help="output directory (default bench-out/)")
    return p


def with_threads(spec: str, threads: int) -> str:
    """Append ``:threads=N`` to LM specs that do not set it (codecs are left alone)."""
    from ..bench.unit import is_codec_spec

    if is_codec_spec(spec) or ":threads=" in spec:
        return spec
    return f"{spec}:threads={threads}"


def build_config(args):
    from ..bench import BenchConfig, parse_size
    from ..data.image import parse_patch
    from ..executors import from_args
    from ..registry import split_specs

    executor = from_args(args)  # checks --workers too
    specs = split_specs(args.models)
    if not specs:
        raise UsageError("--models is empty")
    if args.threads is not None:
        if args.threads < 1:
            raise UsageError("--threads must be >= 1")
        specs = [with_threads(s, args.threads) for s in specs]
    mode = args.mode or ("chunked" if args.what == "scaling" else "both")
    modes = ("chunked", "whole") if mode == "both" else (mode,)
    return BenchConfig(specs=specs, data=list(args.data), modes=modes, chunk=parse_size(args.chunk),
                       max_bytes=parse_size(args.max_bytes) if args.max_bytes else None, seed=args.seed,
                       verify=args.verify, via_model=args.via_model, workers=args.workers or 1,
                       tail=args.tail, patch=parse_patch(args.patch),
                       lm_max_bytes=parse_size(args.lm_max_bytes) if args.lm_max_bytes else None,
                       byte_scheme=args.byte_scheme, executor=executor, ship_data=getattr(args, "ship_data", False),
                       lm_xent=args.what == "table")


def run(args) -> int:
    from rich.console import Console

    from ..bench.job import adjusted_markdown, fit_line, points_markdown, run_job, write_job
    from ..bench.report import rich_table
    from ..errors import CompgenError

    cfg = build_config(args)
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir}: exists and is not a directory")
    result = run_job(cfg, cli_check=not args.no_cli_check, scaling=args.fit_on if args.what == "scaling" else None)
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    chunk = f"chunks of {cfg.chunk} B" if "chunked" in cfg.modes else "whole files"
    cap = f", max {cfg.max_bytes} B per mode" if cfg.max_bytes else ""
    console.print(rich_table(result["summary"], f"compression rate = output / input (lower is better); {chunk}{cap}"))
    from ..bench.report import table1_markdown

    console.print(table1_markdown(result["summary"]), markup=False)
    console.print(f"[dim]{result['machine_line']}; speeds are per process (sum of unit times)[/dim]")
    if result.get("cli_check"):
        rows = result["cli_check"]
        bad = [r for r in rows if r["status"] == "MISMATCH"]
        console.print("library vs CLI sizes (whole files): "
                      + (f"[red]{len(bad)} differ by more than 1%[/red]; " if bad else "")
                      + f"{sum(r['status'] == 'ok' for r in rows)} within 1%, "
                        f"{sum(r['status'] not in ('ok', 'MISMATCH') for r in rows)} without a CLI")
    sc = result.get("scaling")
    if sc:
        console.print(points_markdown(sc), markup=False)
        console.print("fit: " + fit_line(sc), markup=False)
        console.print("adjusted rate % (rate + model size / data size):")
        console.print(adjusted_markdown(sc), markup=False)
    written = write_job(result, out_dir, plots=not args.no_plots)
    console.print("wrote " + ", ".join(str(p) for p in written))
    failed = sum(r["verify_failed"] for r in result["summary"])
    if failed:
        raise CompgenError(f"{failed} units failed their round trip (see {out_dir / 'bench.json'})")
    return 0
