"""ICL per-item cost of a token LM: one forward per candidate (before) vs shared-prefix scoring (after).

    .venv/bin/python benchmarks/icl_lm.py                      # SmolLM2, all tasks, 1 seed, 2 items
    .venv/bin/python benchmarks/icl_lm.py --items 1 --tasks copy,arithmetic --em

Both paths score the SAME items (compgen.icl.tasks.make_items, nested over shots, run in
item order as the ICL runner does). "before" is the old LMModel.code_lengths, kept only
here: every candidate tokenised on its own and teacher-forced after the context with
``token_bits`` (its window keeps the last window/4 context tokens). "after" is
``LMModel.code_lengths`` (compgen.lm.prefix_scorer). Per shot count: mean seconds per
item, mean prompt tokens, accuracy of each; ``--em`` also times greedy exact match
through the byte view. Prints a table, writes benchmarks/results/icl_lm.json (with
uptime/load).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def old_code_lengths(model, candidates, context: bytes) -> np.ndarray:
    """The pre-issue-15 path: one full forward per candidate, candidate tokenised on its own."""
    ctx_tokens = model.codec.encode(bytes(context)[-4 * model.window:]) if context else None
    return np.array([model.token_bits(model.codec.encode(bytes(c)), ctx_tokens) if c else 0.0
                     for c in candidates], dtype=np.float64)


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def main(argv=None) -> int:
    import compgen
    from compgen.icl.scoring import choice_credit, greedy_exact_match
    from compgen.icl.tasks import make_items, resolve_tasks

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--tasks", default="all")
    ap.add_argument("--shots", default="0,1,2,4,8,16")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--items", type=int, default=2)
    ap.add_argument("--em", action="store_true", help="also time greedy exact match (new byte view)")
    ap.add_argument("--skip-old", action="store_true")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "icl_lm.json"))
    args = ap.parse_args(argv)

    t = time.perf_counter()
    model = compgen.load(args.model)
    load_s = time.perf_counter() - t
    tasks = resolve_tasks(args.tasks)
    shots = [int(s) for s in args.shots.split(",")]
    items = make_items(tasks, shots, args.seeds, args.items)
    print(f"{len(items)} items ({len(tasks)} tasks x {args.seeds} seeds x {args.items} x {len(shots)} shots); "
          f"model loaded in {load_s:.1f} s; {uptime()}", flush=True)
    rows = defaultdict(lambda: defaultdict(list))
    paths = [("new", model.code_lengths)] + ([] if args.skip_old else [("old", lambda c, p: old_code_lengths(model, c, p))])
    totals = {}
    for name, fn in paths:
        t0 = time.perf_counter()
        for it in items:
            t = time.perf_counter()
            bits = fn(list(it.candidates), it.prompt)
            rows[it.shots][f"{name}_s"].append(time.perf_counter() - t)
            rows[it.shots][f"{name}_acc"].append(choice_credit(bits, it.answer)[0])
            if name == "new":
                rows[it.shots]["tokens"].append(len(model.codec.encode(it.prompt)))
        totals[name] = time.perf_counter() - t0
        print(f"{name}: {totals[name]:.1f} s for {len(items)} items", flush=True)
    if args.em:
        for it in items:
            if it.index == 0:
                t = time.perf_counter()
                rows[it.shots]["em"].append(greedy_exact_match(model, it.prompt, it.target))
                rows[it.shots]["em_s"].append(time.perf_counter() - t)
    table = []
    print(f"{'shots':>5} {'items':>5} {'tokens':>6} {'old s/item':>10} {'new s/item':>10} {'speed-up':>8} "
          f"{'old acc':>7} {'new acc':>7} {'EM s':>6}")
    for k in sorted(rows):
        r = rows[k]
        row = {"shots": k, "items": len(r["new_s"]), "prompt_tokens": float(np.mean(r["tokens"])),
               "new_s_per_item": float(np.mean(r["new_s"])), "new_acc": float(np.mean(r["new_acc"]))}
        if r.get("old_s"):
            row.update(old_s_per_item=float(np.mean(r["old_s"])), old_acc=float(np.mean(r["old_acc"])))
        if r.get("em_s"):
            row.update(em_s_per_item=float(np.mean(r["em_s"])), em=float(np.mean(r["em"])))
        table.append(row)
        old = row.get("old_s_per_item", float("nan"))
        print(f"{k:>5} {row['items']:>5} {row['prompt_tokens']:>6.0f} {old:>10.3f} {row['new_s_per_item']:>10.3f} "
              f"{old / row['new_s_per_item']:>7.1f}x {row.get('old_acc', float('nan')):>7.3f} {row['new_acc']:>7.3f} "
              f"{row.get('em_s_per_item', float('nan')):>6.2f}")
    out = {"model": model.spec, "scorer": model.prefix_scorer.settings(), "scorer_stats": model.prefix_scorer.stats,
           "tasks": tasks, "seeds": args.seeds, "items_per_cell": args.items, "n_items": len(items),
           "load_seconds": load_s, "totals_seconds": totals, "rows": table, "uptime_end": uptime(),
           "threads": model.threads, "cpu_count": os.cpu_count()}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
