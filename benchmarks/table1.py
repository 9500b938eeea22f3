"""Table 1 of Delétang et al. (2024) on ../shared/data with text, image and audio columns.

Every model in ``-m`` is benchmarked on the same seeded sample (2048-byte chunks and
whole-file prefixes, ``--max-bytes`` per modality and mode), every unit decompressed
and compared. Each model's result is kept in benchmarks/results/table1/<model>.json, so
a killed run resumes at the next model and a later ``-m gemma3`` adds a row to the table
without re-running the codecs (``--force`` re-measures). Then all stored rows are merged
into benchmarks/results/table1.json (+ table1.md, table1.png) and printed.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/table1.py
    flock /tmp/heavy.lock .venv/bin/python benchmarks/table1.py -m smollm2 --mode chunked
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_MODELS = "gzip,xz,zpaq,ppmd,png,jxl,webp,flac"
RESULTS = ROOT / "benchmarks" / "results"


def slug(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", spec)


def same_sample(a: dict | None, b: dict) -> bool:
    """Two runs measured the same chunks (the modes may differ: a chunked-only LM run adds chunked rows)."""
    return a is not None and {k: v for k, v in a.items() if k != "modes"} == {k: v for k, v in b.items() if k != "modes"}


def main(argv=None) -> int:
    from compgen.bench import BenchConfig, parse_size
    from compgen.bench.job import run_job
    from compgen.bench.report import markdown_table, plot_table1, table1_markdown
    from compgen.registry import split_specs

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--models", default=DEFAULT_MODELS, help=f"comma-separated specs (default {DEFAULT_MODELS})")
    ap.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--max-bytes", default="256K", help="bytes per modality and mode (default 256K: 128 chunks)")
    ap.add_argument("--lm-max-bytes", default="16K", help="bytes per modality that LMs really code (default 16K)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for LM specs (default 2)")
    ap.add_argument("--mode", choices=["chunked", "whole", "both"], default="both")
    ap.add_argument("--force", action="store_true", help="re-measure models that already have a stored result")
    ap.add_argument("--out", default=str(RESULTS / "table1.json"))
    args = ap.parse_args(argv)

    root = Path(args.data_root)
    data = [f"text:{root / 'canterbury'}", f"image:{root / 'images'}", f"audio:{root / 'audio'}"]
    modes = ("chunked", "whole") if args.mode == "both" else (args.mode,)
    out = Path(args.out)
    store = out.with_suffix("")  # benchmarks/results/table1/
    store.mkdir(parents=True, exist_ok=True)
    from compgen.bench.unit import is_codec_spec

    settings = {"data": data, "modes": list(modes), "chunk": 2048, "max_bytes": parse_size(args.max_bytes),
                "lm_max_bytes": parse_size(args.lm_max_bytes), "seed": 0}
    for spec in split_specs(args.models):
        if not is_codec_spec(spec) and ":threads=" not in spec:
            spec = f"{spec}:threads={args.threads}"
        path = store / f"{slug(spec)}.json"
        if path.exists() and not args.force:
            old = json.loads(path.read_text())
            if same_sample(old.get("settings"), settings) and set(modes) <= set(old["settings"]["modes"]):
                print(f"{spec}: stored result kept ({path})")
                continue
        cfg = BenchConfig(specs=[spec], data=data, modes=modes, chunk=2048, max_bytes=settings["max_bytes"],
                          seed=0, verify=True, lm_max_bytes=settings["lm_max_bytes"])
        load0, t = os.getloadavg(), time.time()
        result = run_job(cfg, cli_check=False)
        record = {"settings": settings, "spec": spec, "started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)),
                  "wall_s": time.time() - t, "load_before": load0, "load_after": os.getloadavg(),
                  "machine": result["machine_line"], "summary": result["summary"], "per_file": result["per_file"],
                  "units": [{k: v for k, v in u.items() if k != "model_spec"} for u in result["units"]]}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1, default=str))
        tmp.replace(path)  # a kill leaves the previous model's file complete and this one absent
        failed = sum(r["verify_failed"] for r in result["summary"])
        print(f"{spec}: {len(result['units'])} units in {record['wall_s']:.0f} s, load {load0[0]:.1f}, "
              f"{failed} failed round trips")

    records = [json.loads(p.read_text()) for p in sorted(store.glob("*.json"))]
    records = [r for r in records if same_sample(r.get("settings"), settings)]  # any modes: rows are per mode
    order = {s: i for i, s in enumerate(split_specs(DEFAULT_MODELS))}
    records.sort(key=lambda r: (order.get(r["spec"], len(order)), r["spec"]))
    rows = [row for r in records for row in r["summary"]]
    rows.sort(key=lambda row: (row["mode"] != "chunked", ["text", "image", "audio"].index(row["modality"])))
    md = table1_markdown(rows)
    detail = markdown_table(rows)
    chunks = {m: max((r["units"] for r in rows if r["modality"] == m and r["mode"] == "chunked"), default=0)
              for m in ("text", "image", "audio")}
    doc = {"settings": {**settings, "modes": sorted({m for r in records for m in r["settings"]["modes"]})},
           "models": [r["spec"] for r in records], "chunks_per_modality": chunks,
           "runs": [{k: r[k] for k in ("spec", "started", "wall_s", "load_before", "load_after", "machine")}
                    for r in records],
           "all_verified": all(r["verify_failed"] == 0 and r["verified"] == r["units"] for r in rows
                               if r.get("route") != "xent"),
           "summary": rows}
    out.write_text(json.dumps(doc, indent=1, default=str))
    out.with_suffix(".md").write_text(md + "\n" + detail)
    plot_table1(rows, out.with_suffix(".png"))
    print(md)
    print(detail)
    print(f"chunks per modality: {chunks}; every unit verified: {doc['all_verified']}")
    print(f"wrote {out}, {out.with_suffix('.md')}, {out.with_suffix('.png')}")
    return 0 if doc["all_verified"] else 1


if __name__ == "__main__":
    sys.exit(main())
