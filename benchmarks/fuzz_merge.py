"""Merge several benchmarks/fuzz.py results (runs of <= 10 minutes with different seeds) into one.

    .venv/bin/python benchmarks/fuzz_merge.py benchmarks/results/fuzz_final_part*.json \
        --out benchmarks/results/fuzz_final.json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path


def merge(parts: list[dict]) -> dict:
    outcomes: Counter = Counter()
    by_kind: dict = defaultdict(Counter)
    spent: dict = defaultdict(float)
    maxima = {key: defaultdict(float) for key in ("max_refusal_seconds", "max_refusal_seconds_by_coder",
                                                  "max_refusal_over_valid_decode", "valid_decode_seconds")}
    failures: list = []
    for p in parts:
        outcomes.update(p["outcomes"])
        for k, v in p["by_coder_and_mutation"].items():
            by_kind[k].update(v)
        for k, v in p.get("seconds_by_coder_and_mutation", {}).items():
            spent[k] += v
        for key, acc in maxima.items():
            for k, v in p.get(key, {}).items():
                acc[k] = max(acc[k], v)
        failures += p.get("failures", [])
    limit = max(p.get("limit_seconds", 1.0) for p in parts)
    over = {k: v for k, v in maxima["max_refusal_seconds"].items() if v >= limit}
    by_coder: dict = defaultdict(Counter)
    for k, v in by_kind.items():
        by_coder[k.split("|")[0]].update(v)
    return {
        "count": sum(p["count"] for p in parts),
        "seconds": round(sum(p["seconds"] for p in parts), 1),
        "runs": [{"seed": p.get("seed"), "count": p["count"], "seconds": p["seconds"], "jobs": p["jobs"],
                  "loadavg_before": p.get("loadavg_before"), "loadavg_after": p.get("loadavg_after")}
                 for p in parts],
        "outcomes": dict(outcomes),
        "by_coder": {k: dict(v) for k, v in sorted(by_coder.items())},
        "by_coder_and_mutation": {k: dict(v) for k, v in sorted(by_kind.items())},
        "seconds_by_coder_and_mutation": {k: round(v, 2) for k, v in sorted(spent.items())},
        **{key: {k: round(v, 4) for k, v in sorted(acc.items())} for key, acc in maxima.items()},
        "limit_seconds": limit,
        "refusals_over_limit": {k: round(v, 4) for k, v in sorted(over.items())},
        "failures": failures[:50],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parts", nargs="+")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    result = merge([json.loads(Path(f).read_text()) for f in args.parts])
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"{result['count']} mutants in {result['seconds']} s: {result['outcomes']}")
    for coder, c in result["by_coder"].items():
        print(f"  {coder:16s} {sum(c.values()):7d} {dict(c)}  slowest refusal "
              f"{result['max_refusal_seconds_by_coder'].get(coder, 0):.3f} s")
    print(f"refusals >= {result['limit_seconds']} s: {result['refusals_over_limit']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
