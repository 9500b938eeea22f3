"""SmolLM2 on text, image and audio chunks: escape route vs the exact 7-bit scheme vs the paper's lossy 7-bit.

    flock /tmp/compgen-cpu.lock .venv/bin/python benchmarks/media_lm.py --chunks 64 --budget 540

Per 2048-byte chunk (the same seeded sample `cgz bench --max-bytes` draws, seed 0):
teacher-forced cross-entropy bits of (a) the chunk through the token codec as it is
(today's escape route: bytes without a token become ESC + digit), (b) the high-7-bit
ASCII string (the paper's lossy figure; its low bits are dropped), and (c) the exact
7-bit scheme = (b) + the chosen adaptive low-bit model. Cross-entropy is what the range
coder pays to within 0.1 % (benchmarks/results/lm.json). Results are cached per chunk in
benchmarks/results/media_lm.json, so runs can be cut into pieces (``--budget`` seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parent / "results" / "media_lm.json"
SOURCES = {"text": f"text:{DATA / 'canterbury'}", "image": f"image:{DATA / 'images'}", "audio": f"audio:{DATA / 'audio'}"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=64)
    ap.add_argument("--budget", type=float, default=540.0, help="stop after this many seconds (rerun to continue)")
    ap.add_argument("--model", default="smollm2:threads=2")
    ap.add_argument("--modalities", default="text,image,audio")
    ap.add_argument("--escape-chunks", type=int, default=16,
                    help="image/audio: the escape route only on the first N chunks (it is far worse and as slow)")
    args = ap.parse_args()
    from compgen.data import Options, load_units, parse_data_spec
    from compgen.lm.seven_bit import LOW_MODELS, low_bits_cost, split
    from compgen.registry import load

    doc = json.loads(OUT.read_text()) if OUT.exists() else {"model": args.model, "chunks": {}}
    t0 = time.time()
    model = load(args.model)
    doc["load_s"] = time.time() - t0
    for modality in args.modalities.split(","):
        pieces = load_units([parse_data_spec(SOURCES[modality])], "chunked", Options(), max_bytes=args.chunks * 2048)
        for i, p in enumerate(pieces):
            key = f"{modality}/{p.label}"
            if key in doc["chunks"]:
                continue
            if time.time() - t0 > args.budget:
                print("budget reached; rerun to continue")
                return finish(doc)
            t = time.perf_counter()
            row = {"modality": modality, "bytes": len(p.data)}
            if modality == "text" or i < args.escape_chunks:
                row["escape_bits"] = float(model.code_length(p.data))
            if modality != "text":
                high, low = split(p.data)
                row["lossy7_bits"] = float(model.code_length(high))
                costs = {k: low_bits_cost(k, high, low) for k in LOW_MODELS}
                row["low_model"] = min(costs, key=costs.get)
                row["low_bits"] = costs[row["low_model"]]
                row["exact7_bits"] = row["lossy7_bits"] + row["low_bits"]
            row["seconds"] = time.perf_counter() - t
            row["loadavg"] = os.getloadavg()[0]
            doc["chunks"][key] = row
            OUT.parent.mkdir(parents=True, exist_ok=True)
            OUT.write_text(json.dumps(doc, indent=1))
            print(key, {k: (round(v / len(p.data), 3) if k.endswith("_bits") else v) for k, v in row.items()}, flush=True)
    finish(doc)


def summary(doc: dict) -> dict:
    out = {}
    for modality in ("text", "image", "audio"):
        rows = [r for r in doc["chunks"].values() if r["modality"] == modality]
        if not rows:
            continue
        n = sum(r["bytes"] for r in rows)
        s = {"chunks": len(rows), "bytes": n}
        keys = ("escape",) if modality == "text" else ("escape", "lossy7", "exact7", "low")
        for k in keys:
            sub = [r for r in rows if f"{k}_bits" in r]  # escape: on a subset of image/audio chunks
            nb = sum(r["bytes"] for r in sub)
            s[f"{k}_bpb"] = sum(r[f"{k}_bits"] for r in sub) / nb if nb else None
            s[f"{k}_chunks"] = len(sub)
            if k == "escape" and modality != "text" and sub:  # the 7-bit figures on the same chunks
                s["exact7_bpb_on_escape_chunks"] = sum(r["exact7_bits"] for r in sub) / nb
        if modality != "text":
            s["lossy7_rescaled_bpb"] = s["lossy7_bpb"] * 8 / 7
        out[modality] = s
    return out


def finish(doc: dict) -> None:
    doc["summary"] = summary(doc)
    OUT.write_text(json.dumps(doc, indent=1))
    print(json.dumps(doc["summary"], indent=1))


if __name__ == "__main__":
    main()
