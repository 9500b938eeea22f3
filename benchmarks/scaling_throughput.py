"""Training and evaluation throughput per size of the `cgz scaling` study, and the study's
estimated wall time on this machine (two single-threaded units at a time).

    .venv/bin/python benchmarks/scaling_throughput.py              # the default study's sizes
    .venv/bin/python benchmarks/scaling_throughput.py --sizes 8k,85k --steps 5

Prints a table and writes benchmarks/results/scaling_throughput.json. The figures depend
on the load: the JSON records the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from compgen.scaling import plan

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default=plan.DEFAULT_SIZES)
    p.add_argument("--tokens", default=plan.DEFAULT_TOKENS)
    p.add_argument("--checkpoints", default=plan.DEFAULT_CHECKPOINTS)
    p.add_argument("--eval-bytes", type=int, default=3 * 262144, help="evaluation bytes per checkpoint (3 modalities)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=8, help="timed training steps per size (after 2 warm-up steps)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workers", type=int, default=2, help="units running at once in the study")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "scaling_throughput.json"))
    args = p.parse_args()

    import numpy as np
    import torch
    from transformers import LlamaForCausalLM

    from compgen.lm.train import _batch, _loss, build_config, count_params
    from compgen.scaling.evaluate import chunk_bits

    torch.set_num_threads(args.threads)
    tokens = plan.parse_list(args.tokens, "tokens")[0]
    n_ckpt = len(plan.parse_list(args.checkpoints, "checkpoints"))
    rng = np.random.default_rng(0)
    data = rng.integers(32, 127, 1 << 20).astype(np.uint8)
    load_before = os.getloadavg()
    rows = []
    for n in plan.parse_list(args.sizes, "sizes"):
        shape = plan.shape_for_count(n, 257).resolved()
        torch.manual_seed(0)
        net = LlamaForCausalLM(build_config(shape))
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        for i in range(args.steps + 2):
            if i == 2:
                t0 = time.perf_counter()
            loss = _loss(net, _batch(data, 257, args.batch_size, rng))
            opt.zero_grad()
            loss.backward()
            opt.step()
        train_tps = args.steps * args.batch_size * 256 / (time.perf_counter() - t0)
        net.eval()
        chunks = data[: 16 * 2048].reshape(16, 2048)
        t0 = time.perf_counter()
        chunk_bits(net, chunks, 257)
        eval_tps = chunks.size / (time.perf_counter() - t0)
        train_s = tokens / train_tps
        eval_s = n_ckpt * args.eval_bytes / eval_tps
        rows.append({"size": plan.label(n), "params": count_params(shape), "layers": shape.layers, "width": shape.width,
                     "train_tokens_per_s": round(train_tps), "eval_bytes_per_s": round(eval_tps),
                     "est_train_s": round(train_s), "est_eval_s": round(eval_s)})
        print(f"{rows[-1]['size']:>6} {rows[-1]['params']:>10,} train {train_tps:>9,.0f} tok/s  eval {eval_tps:>9,.0f} B/s  "
              f"-> train {train_s:>6.0f} s, eval {eval_s:>5.0f} s", flush=True)
    work = sorted((r["est_train_s"] + r["est_eval_s"] for r in rows), reverse=True)
    lanes = [0.0] * args.workers  # largest first onto the least loaded lane (what the executor's order gives)
    for w in work:
        lanes[lanes.index(min(lanes))] += w
    est = max(lanes)
    payload = {"machine": f"{platform.machine()} {os.cpu_count()} cores", "threads": args.threads,
               "batch_size": args.batch_size, "tokens": tokens, "checkpoints": n_ckpt,
               "load_before": load_before, "load_after": os.getloadavg(), "rows": rows,
               "estimated_wall_s_train_and_eval": round(est), "workers": args.workers,
               "note": "coding, ICL, fits and figures come on top (a few minutes)"}
    print(f"estimated wall time for training + evaluation on {args.workers} workers: {est / 60:.1f} min "
          f"(load average {load_before[0]:.1f} -> {payload['load_after'][0]:.1f})")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
