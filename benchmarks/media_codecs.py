"""PNG / FLAC / gzip on 2048-byte image patches and audio chunks: rate and speed (native route).

    flock /tmp/compgen-cpu.lock .venv/bin/python benchmarks/media_codecs.py

Every image patch of ../shared/data/images and every audio chunk of ../shared/data/audio
(the paper's preprocessing, compgen.data) is compressed and decompressed on its own and
checked; prints a table and writes benchmarks/results/media_codecs.json with the load
average (speeds are wall time of this one process).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parent / "results" / "media_codecs.json"


def main() -> None:
    import compgen
    from compgen.data import Options, load_units, parse_data_spec

    rows = []
    load0 = os.getloadavg()[0]
    for modality in ("image", "audio"):
        pieces = load_units([parse_data_spec(f"{modality}:{DATA / ('images' if modality == 'image' else 'audio')}")],
                            "chunked", Options())
        pieces = [p for p in pieces if len(p.data) == 2048]
        n = sum(len(p.data) for p in pieces)
        for spec in ("gzip", "png", "flac"):
            model = compgen.load(spec)
            t = time.perf_counter()
            blobs = [model.compress_media(p.data, p.info) for p in pieces]
            t_c = time.perf_counter() - t
            t = time.perf_counter()
            back = [model.decompress(b) for b in blobs]
            t_d = time.perf_counter() - t
            assert back == [p.data for p in pieces]
            out = sum(map(len, blobs))
            hdr = [model.header_bytes(b) for b in blobs]
            rows.append({"modality": modality, "codec": spec, "chunks": len(pieces), "bytes": n,
                         "raw_rate": out / n, "raw_rate_header_once": (out - sum(hdr) + max(hdr)) / n,
                         "compress_MBps": n / t_c / 1e6, "decompress_MBps": n / t_d / 1e6})
    doc = {"loadavg_start": load0, "loadavg_end": os.getloadavg()[0], "rows": rows}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1))
    print("| data | codec | chunks | raw % | header once % | compress MB/s | decompress MB/s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['modality']} | {r['codec']} | {r['chunks']} | {100 * r['raw_rate']:.1f} | "
              f"{100 * r['raw_rate_header_once']:.1f} | {r['compress_MBps']:.2f} | {r['decompress_MBps']:.2f} |")
    print(f"load average {load0:.2f} -> {doc['loadavg_end']:.2f}")


if __name__ == "__main__":
    main()
