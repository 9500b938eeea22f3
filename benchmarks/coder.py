"""Range coder speed and overhead on 256-way distributions.

    .venv/bin/python benchmarks/coder.py            # 1e5 symbols, best of 3
    .venv/bin/python benchmarks/coder.py --symbols 300000 --repeat 5

Measures compgen's SymbolEncoder/SymbolDecoder one symbol per call (what the byte
coder does: the next distribution depends on the last symbol) and with the batch API
(all distributions known up front), plus constriction called directly as a reference.
Overhead is payload bits over the ideal sum of -log2 p. Prints a table, writes
benchmarks/results/coder.json.
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

import constriction  # noqa: E402

from compgen.coding.range_coder import SymbolDecoder, SymbolEncoder  # noqa: E402


def distributions(kind: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(symbols, probs): 'dirichlet' = dense random 256-way; 'codec' = 2^-(8 k) with k in 0..4,
    the shape a compressor's next-byte distribution has (few distinct lengths)."""
    rng = np.random.default_rng(seed)
    if kind == "dirichlet":
        probs = rng.dirichlet(np.ones(256), size=n)
    else:
        w = np.exp2(-8.0 * rng.integers(0, 5, size=(n, 256)))
        probs = w / w.sum(axis=1, keepdims=True)
    cdf = probs.cumsum(axis=1)
    symbols = (cdf < rng.random(n)[:, None] * cdf[:, -1:]).sum(axis=1).clip(0, 255).astype(np.int32)
    return symbols, probs


CPU = {"on": False}  # --cpu-time: rates per CPU second of this process instead of wall time


def best(fn, repeat):
    """Best of ``repeat`` runs, in wall seconds (or CPU seconds with --cpu-time: a shared
    machine stretches wall time, while CPU time shows what the coder does on one core)."""
    clock = time.process_time if CPU["on"] else time.perf_counter
    times, out = [], None
    for _ in range(repeat):
        t = clock()
        out = fn()
        times.append(clock() - t)
    return min(times), out


def run(kind: str, n: int, repeat: int) -> dict:
    symbols, probs = distributions(kind, n)
    rows = list(probs)  # one float64[256] array per step, as a model returns them
    sym_list = symbols.tolist()

    def enc_single():
        enc = SymbolEncoder()
        for s, p in zip(sym_list, rows):
            enc.encode(s, p)
        return enc

    def enc_batch():
        enc = SymbolEncoder()
        enc.encode_batch(symbols, probs)
        return enc

    t_enc1, enc = best(enc_single, repeat)
    payload = enc.finish()
    t_encb, encb = best(enc_batch, repeat)
    assert encb.finish() == payload, "batch and single-symbol codes differ"

    def dec_single():
        dec = SymbolDecoder(payload)
        d = dec.decode
        return [d(p) for p in rows]

    t_dec1, out = best(dec_single, repeat)
    assert out == sym_list, "single-symbol decode failed"
    t_decb, outb = best(lambda: SymbolDecoder(payload).decode_batch(probs), repeat)
    assert np.array_equal(outb, symbols), "batch decode failed"

    Cat = constriction.stream.model.Categorical
    words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)

    def raw_decode():
        dd = constriction.stream.queue.RangeDecoder(words).decode
        return [dd(Cat(p, perfect=False)) for p in rows]

    t_raw, outr = best(raw_decode, repeat)
    assert outr == sym_list
    ideal = enc.ideal_bits
    bits = 8 * len(payload)
    return {"distribution": kind, "symbols": n, "ideal_bits": ideal, "payload_bits": bits,
            "overhead_bits": bits - ideal, "overhead_pct": 100 * (bits - ideal) / ideal,
            "within_bound": bits <= ideal * (1 + 1e-4) + 64,
            "encode_per_s": n / t_enc1, "decode_per_s": n / t_dec1,
            "encode_batch_per_s": n / t_encb, "decode_batch_per_s": n / t_decb,
            "constriction_direct_decode_per_s": n / t_raw}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--symbols", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cpu-time", action="store_true", help="rates per CPU second (for a loaded machine)")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "coder.json"))
    args = ap.parse_args(argv)
    CPU["on"] = args.cpu_time
    rows = [run(kind, args.symbols, args.repeat) for kind in ("dirichlet", "codec")]
    head = (f"{'distribution':12} {'symbols':>8} {'overhead %':>11} {'extra bits':>10} {'enc/s':>9} {'dec/s':>9} "
            f"{'batch enc/s':>12} {'batch dec/s':>12} {'constriction dec/s':>19}")
    print(f"rates per {'CPU' if args.cpu_time else 'wall'} second, best of {args.repeat}")
    print(head)
    for r in rows:
        print(f"{r['distribution']:12} {r['symbols']:>8} {r['overhead_pct']:>11.5f} {r['overhead_bits']:>10.1f} "
              f"{r['encode_per_s']:>9,.0f} {r['decode_per_s']:>9,.0f} {r['encode_batch_per_s']:>12,.0f} "
              f"{r['decode_batch_per_s']:>12,.0f} {r['constriction_direct_decode_per_s']:>19,.0f}")
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
            "loadavg_at_end": os.getloadavg(), "clock": "process CPU time" if args.cpu_time else "wall time",
            "note": f"best of {args.repeat}; machine shared with other jobs"}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"load average {meta['loadavg_at_end']}; wrote {args.json}")
    return 0 if all(r["within_bound"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
