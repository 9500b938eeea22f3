"""Which way to mix Models: linear, geometric or logistic (``mix:A+B+method=...``).

    .venv/bin/python benchmarks/mixing.py                 # alice29 prefixes, two component sets
    .venv/bin/python benchmarks/mixing.py --bytes 4000

Per component set: bits/byte of each component alone and of the mixture under each
method (predictive code length = what the range coder pays, byte by byte), and the
time. Writes benchmarks/results/mixing.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "canterbury" / "alice29.txt"
SETS = [("ppm:order=2", "ppm:order=6", 20000), ("ppm", "gzip", 3000)]  # (A, B, bytes)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bytes", type=int, default=None, help="override every set's prefix length")
    ap.add_argument("--json", default=str(Path(__file__).resolve().parent / "results" / "mixing.json"))
    args = ap.parse_args(argv)
    import compgen
    from compgen.errors import UsageError

    if not DATA.exists():
        raise UsageError(f"{DATA} missing")
    text = DATA.read_bytes()
    rows = []
    for a, b, n in SETS:
        data = text[: args.bytes or n]
        specs = [a, b] + [f"mix:{a}+{b}+method={m}" for m in ("linear", "geometric", "logistic")]
        print(f"\n{a} + {b}, first {len(data)} bytes of alice29")
        for spec in specs:
            model = compgen.load(spec)
            t = time.perf_counter()
            bits = model.predictive_code_length(data)
            dt = time.perf_counter() - t
            rows.append({"set": f"{a}+{b}", "model": spec, "bytes": len(data), "bits_per_byte": bits / len(data),
                         "seconds": dt})
            print(f"  {spec:45s} {bits / len(data):7.4f} bits/byte  {len(data) / dt:8.0f} B/s")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"rows": rows}, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    from compgen.errors import run_script

    run_script(main, "mixing.py")
