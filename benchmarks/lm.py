"""SmolLM2 as a compressor next to xz / PPMd, plain and mixed with the in-file token model.

    .venv/bin/python benchmarks/lm.py                         # alice29 whole + enwik8_head first 1 MB
    .venv/bin/python benchmarks/lm.py --files alice29         # one file (the lead's idle re-run)
    .venv/bin/python benchmarks/lm.py --files text12k,random64k --model smollm2
    .venv/bin/python benchmarks/lm.py --files canterbury      # every Canterbury text file
    .venv/bin/python benchmarks/lm.py --max-bytes 4000 --files alice29   # quick look

Models (``--model``, default ``smollm2:head=0,smollm2``): the LM mixed with the in-file
token n-gram, without and with the adaptive head (``smollm2:mix=0:head=0`` is the LM alone). Per file: bits/byte of the coded .cg file (container
included), of the payload, header bytes, the process's peak RSS so far (``ru_maxrss``: the
largest of this and every earlier row of the run), the model's own cross-entropy under the coder's
plan (sum of -log2 p over the coded tokens), compress and decompress bytes/s, and an
exact round-trip check; ``--one-stream`` adds the teacher-forced cross-entropy of the
file as one stream (what header and cold starts are measured against). Codecs are
whole-file native sizes. Prints a table and writes benchmarks/results/lm.json after every
file (partial results survive an interruption); ``--json`` names another file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(os.environ.get("COMPGEN_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")  # COMPGEN_DATA: from a worktree
FILES = {"alice29": ("canterbury/alice29.txt", None), "enwik8_head": ("enwik8_head.txt", 1 << 20),
         "enwik8_128k": ("enwik8_head.txt", 128 << 10),  # a prefix of the 1 MiB when a run must be short
         "text12k": ("canterbury/lcet10.txt", 12 * 1024),  # a 12 KB English text: header + cold starts
         "asyoulik": ("canterbury/asyoulik.txt", None), "lcet10": ("canterbury/lcet10.txt", None),
         "plrabn12": ("canterbury/plrabn12.txt", None), "cp.html": ("canterbury/cp.html", None),
         "fields.c": ("canterbury/fields.c", None), "grammar.lsp": ("canterbury/grammar.lsp", None),
         "xargs.1": ("canterbury/xargs.1", None),
         "random64k": (None, 65536)}  # generated: binary input through the token codec's escapes
GROUPS = {"canterbury": ["alice29", "asyoulik", "lcet10", "plrabn12", "cp.html", "fields.c", "grammar.lsp", "xargs.1"]}
CODECS = ["xz:level=9:extreme=1", "ppmd:order=6"]


def load_avg() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def measure_lm(model, data: bytes, save=None, one_stream: bool = False, phase: str = "both",
               blob_path: Path | None = None) -> dict:
    """Compress (result saved via ``save(partial_row)``), then decompress and verify.

    ``phase`` "compress" stops after writing the .cg to ``blob_path`` (with its row); a
    later "decompress" run reads both back, so a long file fits two lock slots."""
    import compgen

    comp = compgen.as_compressor(model)
    if phase == "decompress":
        blob = blob_path.read_bytes()
        row = json.loads(blob_path.with_suffix(".json").read_text())
        return _decompress_half(model, data, blob, row, save, one_stream)
    load0, t = load_avg(), time.perf_counter()
    blob = comp.compress(data)
    t_c = time.perf_counter() - t
    stats = comp.last_stats
    container = compgen.coding.container
    header = container.read_header(blob)
    n = len(data)
    coder = header.coder
    row = {"model": model.spec, "bytes": n, "container_bytes": len(blob), "bits_per_byte": 8 * len(blob) / n,
           "header_bytes": container.header_size(blob), "stored": header.stored,
           # a stored file (every segment raw) has no code: its rates are the raw 8 bits/byte
           "cross_entropy_bpb": (stats["ideal_bits"] or 8.0 * n) / n, "payload_bpb": (stats["payload_bits"] or 8.0 * n) / n,
           "coder_overhead": (stats["payload_bits"] / stats["ideal_bits"] - 1) if stats["ideal_bits"] else 0.0,
           "tokens": coder.get("tokens"), "streams": coder.get("streams"), "raw_segments": len(coder.get("raw", [])),
           "window": coder.get("window"), "threads": coder.get("threads"), "uptime": uptime(),
           "openmp_wait": f"{os.environ.get('OMP_WAIT_POLICY', '-')}, spin {os.environ.get('GOMP_SPINCOUNT', '0')}",
           "compress_Bps": n / t_c, "compress_s": t_c, "decompress_Bps": None, "decompress_s": None,
           "roundtrip_ok": None, "load_avg_start": load0, "load_avg_end": load_avg(), "peak_rss_MB": peak_rss_mb(),
           "head_lr_units": coder.get("head", 0)}
    if save:
        save(row)
    if phase == "compress":
        blob_path.write_bytes(blob)
        blob_path.with_suffix(".json").write_text(json.dumps(row))
        return row
    return _decompress_half(model, data, blob, row, save, one_stream)


def _decompress_half(model, data, blob, row, save, one_stream) -> dict:
    import compgen

    n = len(data)
    t = time.perf_counter()
    out = compgen.as_compressor(model).decompress(blob)
    t_d = time.perf_counter() - t
    row.update(decompress_Bps=n / t_d, decompress_s=t_d, roundtrip_ok=out == data, load_avg_end=load_avg(),
               peak_rss_MB=peak_rss_mb())
    if one_stream:  # teacher-forced, the whole file as one stream: the bound header + cold starts are measured against
        bits = model.code_length(data)
        row.update(one_stream_bpb=bits / n, header_and_cold_starts_bpb=(8 * len(blob) - bits) / n)
    if save:
        save(row)
    return row


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (model load included), MB (ru_maxrss is in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def uptime() -> str:
    try:
        import subprocess

        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except Exception:
        return ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2:head=0,smollm2", help="comma list of model specs")
    ap.add_argument("--files", default="alice29,enwik8_head",
                    help="comma list of: " + ", ".join([*FILES, *GROUPS]))
    ap.add_argument("--one-stream", action="store_true", help="also the one-stream cross-entropy (teacher forced)")
    ap.add_argument("--no-codecs", action="store_true", help="skip xz / PPMd")
    ap.add_argument("--phase", choices=["both", "compress", "decompress"], default="both",
                    help="compress: write .cg files to --blob-dir; decompress: read them back (two lock slots)")
    ap.add_argument("--blob-dir", default="/tmp/compgen-lm-bench")
    ap.add_argument("--max-bytes", type=int, default=None, help="cut every file to this many bytes")
    ap.add_argument("--no-lm", action="store_true", help="codecs only")
    ap.add_argument("--json", default=str(Path(__file__).resolve().parent / "results" / "lm.json"))
    args = ap.parse_args(argv)
    names = [f for k in args.files.split(",") for f in GROUPS.get(k, [k])]
    unknown = [k for k in names if k not in FILES]
    if unknown:
        ap.error(f"unknown --files {', '.join(unknown)} (choose from {', '.join(FILES)})")

    import compgen

    from compgen.registry import split_specs

    models = [] if args.no_lm else [compgen.load(spec) for spec in split_specs(args.model)]
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
               "note": "speeds measured on a shared 2-core machine; see load_avg fields", "files": []}
    for key in names:
        rel, cut = FILES[key]
        if rel is None:
            data = np.random.default_rng(0).bytes(cut)
        elif (DATA / rel).exists():
            data = (DATA / rel).read_bytes()
        else:
            print(f"skip {key}: {DATA / rel} missing")
            continue
        limit = min(x for x in (cut, args.max_bytes, len(data)) if x)
        data = data[:limit]
        row = {"file": key, "bytes": len(data), "codecs": {}, "lms": []}
        for spec in [] if args.no_codecs else CODECS:
            m = compgen.load(spec)
            t = time.perf_counter()
            size = len(m.compress(data))
            row["codecs"][spec] = {"bits_per_byte": 8 * size / len(data), "seconds": time.perf_counter() - t}
        results["files"].append(row)

        def save():
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(results, indent=2))

        def add(lm_row, row=row):  # the compress half, saved before decompressing (same dict, updated later)
            if not any(r is lm_row for r in row["lms"]):
                row["lms"].append(lm_row)
            save()

        save()
        for model in models:
            blob_path = Path(args.blob_dir) / f"{key}-{model.spec.replace(':', '_').replace('/', '_')}.cg"
            blob_path.parent.mkdir(parents=True, exist_ok=True)
            measure_lm(model, data, add, args.one_stream, args.phase, blob_path)
            save()
        print_row(row)
    print(f"wrote {args.json}")
    return 0


def print_row(row: dict) -> None:
    print(f"\n{row['file']} ({row['bytes']} bytes)")
    print(f"  {'model':34s} {'bits/byte':>9s} {'payload':>8s} {'header':>6s} {'x-ent':>7s} {'overhead':>9s} "
          f"{'comp B/s':>9s} {'dec B/s':>9s} {'RSS MB':>7s} ok")
    for lm in row["lms"]:
        print(f"  {lm['model']:34s} {lm['bits_per_byte']:9.4f} {lm['payload_bpb']:8.4f} {lm['header_bytes']:6d} "
              f"{lm['cross_entropy_bpb']:7.4f} {100 * lm['coder_overhead']:8.3f}% {lm['compress_Bps']:9.0f} "
              f"{lm['decompress_Bps'] or 0:9.0f} {lm.get('peak_rss_MB') or lm.get('peak_rss_mb') or 0:7.0f} {lm['roundtrip_ok']}  (load {lm['load_avg_start']:.1f}->"
              f"{lm['load_avg_end']:.1f})")
        if "one_stream_bpb" in lm:
            print(f"  {'':34s} one stream {lm['one_stream_bpb']:.4f}; header + cold starts "
                  f"{lm['header_and_cold_starts_bpb']:+.4f} bits/byte")
    for spec, r in row["codecs"].items():
        print(f"  {spec:34s} {r['bits_per_byte']:9.4f}")


if __name__ == "__main__":
    from compgen.errors import run_script

    run_script(main, "lm.py")
