"""Scaling of byte-level LMs trained by `cgz train` (the paper's 200K/800K/3.2M view).

Measures each LM (range-coded round trips, 2048-byte chunks) on the held-out tail of
enwik8_head.txt (the last 5% that `cgz train --heldout 0.05` never trains on), fits
L(N) = E + A / N^alpha, and shows the adjusted rate (output + weights) / data against
data size from 1 MB to 1 GB: a bigger model only pays off on more data.

    .venv/bin/python benchmarks/scaling.py --lms out/lm200k,out/lm800k,out/lm3m [--max-bytes 32k]

Writes benchmarks/results/scaling.json (+ .md) and docs/img/scaling_fit.png, scaling_adjusted.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compgen.bench import BenchConfig, parse_size  # noqa: E402
from compgen.bench.job import adjusted_markdown, fit_line, points_markdown, run_job  # noqa: E402
from compgen.bench.report import markdown_table, write_json_and_markdown  # noqa: E402
from compgen.bench.scaling import plot_adjusted, plot_fit  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--lms", default=None, help="comma-separated byte-LM dirs (default: out/lm* with compgen.json)")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "enwik8_head.txt"))
    ap.add_argument("--tail", type=float, default=0.05, help="held-out tail fraction (default 0.05)")
    ap.add_argument("--max-bytes", default="32k")
    ap.add_argument("--chunk", default="2048")
    ap.add_argument("--refs", default="gzip,xz,ppmd", help="codecs drawn as references in the adjusted view")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--fit-on", default="payload", choices=["payload", "container", "xent"])
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scaling.json"))
    ap.add_argument("--img", default=str(ROOT / "docs" / "img"))
    args = ap.parse_args(argv)

    if args.lms:
        dirs = [p for p in args.lms.split(",") if p]
    else:
        dirs = [str(p) for p in sorted((ROOT / "out").glob("lm*")) if (p / "compgen.json").exists()]
    if len(dirs) < 3:
        print(f"scaling: need at least 3 byte-LM dirs, found {len(dirs)}", file=sys.stderr)
        return 1
    specs = [r for r in args.refs.split(",") if r] + [f"byte-lm:{d}:threads={args.threads}" for d in dirs]
    cfg = BenchConfig(specs=specs, data=[args.data], modes=("chunked",), chunk=parse_size(args.chunk),
                      max_bytes=parse_size(args.max_bytes), tail=args.tail, verify=not args.no_verify,
                      workers=args.workers)
    t = time.perf_counter()
    res = run_job(cfg, cli_check=False, scaling=args.fit_on)
    res["job_wall_s"] = time.perf_counter() - t
    sc = res["scaling"]
    md = ["# scaling\n", f"Machine: {res['machine_line']}; wall {res['job_wall_s']:.0f} s\n",
          markdown_table(res["summary"]), "\n" + points_markdown(sc), "\nFit: " + fit_line(sc) + "\n",
          "\nAdjusted rate % (rate + model size / data size):\n", adjusted_markdown(sc)]
    print("\n".join(md))
    img = Path(args.img)
    img.mkdir(parents=True, exist_ok=True)
    plot_fit(sc["points"], sc["fit"], img / "scaling_fit.png", ylabel=sc["value_key"].replace("_", " "))
    plot_adjusted(sc["adjusted_view"], sc["models"], img / "scaling_adjusted.png")
    out = Path(args.out)
    write_json_and_markdown(out, res, md)
    print(f"wrote {out}, {out.with_suffix('.md')}, {img / 'scaling_fit.png'}, {img / 'scaling_adjusted.png'}")
    return 0


if __name__ == "__main__":
    from compgen.errors import run_script

    run_script(main, Path(__file__).name)
