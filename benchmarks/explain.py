"""`cgz explain` speed: per-byte code lengths of 3 models x 20 KB of text, beyond the loads.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/explain.py                 # gzip,ppmd,smollm2, 20,000 B
    .venv/bin/python benchmarks/explain.py --models gzip,ppmd --bytes 5000      # quick look

For each model: load time, explain time (per-byte lengths on the fast exact route, plus
token LMs' top-5 predictions), the plain ``code_length`` time of the same bytes
(``--baseline``: what `cgz score` spends), and that both totals agree. The page's
rendering is timed too. Prints a table; writes benchmarks/results/explain.json with
``uptime`` before and after (a load average above ~1.5 means the figures are "loaded").
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# ../shared/data next to the checkout (a worktree under wt/ looks one level further up)
DATA = next((p / "shared" / "data" for p in Path(__file__).resolve().parents[1:4] if (p / "shared" / "data").is_dir()),
            Path("../shared/data"))


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="gzip,ppmd,smollm2")
    ap.add_argument("--file", default=str(DATA / "canterbury" / "alice29.txt"))
    ap.add_argument("--bytes", type=int, default=20000)
    ap.add_argument("--baseline", action="store_true", help="also time the plain code_length of each model")
    ap.add_argument("--warm", action="store_true", help="score 2 KB first (the first forward's set-up is not timed)")
    ap.add_argument("--page", help="also write the page (the same HTML `cgz explain` writes)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "explain.json"))
    args = ap.parse_args(argv)

    import compgen
    from compgen.explain.html import render
    from compgen.explain.report import Report
    from compgen.explain.run import Piece, explain_model

    data = Path(args.file).read_bytes()[: args.bytes]
    before = uptime()
    rows = []
    whole = Path(args.file).stat().st_size
    cut = f"first {len(data):,} of {whole:,} bytes shown (--bytes)" if whole > len(data) else ""
    report = Report(Path(args.file).name, "text", data, cut=cut, original_bytes=whole)
    for spec in args.models.split(","):
        t = time.perf_counter()
        model = compgen.load(spec)
        load = time.perf_counter() - t
        if args.warm:  # one small pass first, so neither timing below pays the first forward's set-up
            model.code_length(data[:2048])
        cpu = time.process_time()
        res = explain_model(model, [Piece(data, {})])
        cpu = time.process_time() - cpu
        res.label = spec
        report.models.append(res)
        row = {"model": spec, "spec": model.spec, "load_s": load, "explain_s": res.seconds, "explain_cpu_s": cpu,
               "bits": res.total, "bits_per_byte": res.bits_per_byte, "method": res.method}
        if args.baseline:
            t, c = time.perf_counter(), time.process_time()
            row["code_length"] = float(model.code_length(data))
            row["code_length_s"] = time.perf_counter() - t
            row["code_length_cpu_s"] = time.process_time() - c
            row["same_total"] = abs(row["code_length"] - res.total) <= 1e-6
        getattr(model, "close", lambda: None)()
        rows.append(row)
    t = time.perf_counter()
    page = render(report)
    render_s = time.perf_counter() - t
    after = uptime()
    if args.page:
        Path(args.page).write_text(page)
    explain_total = sum(r["explain_s"] for r in rows)
    print(f"{len(data):,} bytes of {Path(args.file).name}; before: {before}")
    head = f"{'model':<10} {'load s':>8} {'explain s':>10} {'cpu s':>8} {'bits/byte':>10}"
    head += f" {'code_length s':>14} {'cpu s':>8} {'same total':>10}" if args.baseline else ""
    print(head)
    for r in rows:
        line = f"{r['model']:<10} {r['load_s']:>8.2f} {r['explain_s']:>10.2f} {r['explain_cpu_s']:>8.2f} {r['bits_per_byte']:>10.4f}"
        if args.baseline:
            line += f" {r['code_length_s']:>14.2f} {r['code_length_cpu_s']:>8.2f} {str(r['same_total']):>10}"
        print(line)
    print(f"all models: {explain_total:.2f} s beyond the loads (+ {render_s:.2f} s rendering a {len(page) / 1e6:.1f} MB page)")
    print(f"after: {after}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"file": args.file, "bytes": len(data), "rows": rows,
                                          "explain_seconds_all": explain_total, "warm": args.warm, "render_seconds": render_s,
                                          "uptime_before": before, "uptime_after": after,
                                          "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
