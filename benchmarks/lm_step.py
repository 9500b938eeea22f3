"""Where a lockstep coding step of a token LM goes (SmolLM2, Gemma 3 270M).

    .venv/bin/python benchmarks/lm_step.py                       # both models, micro + real run
    .venv/bin/python benchmarks/lm_step.py --models gemma3 --real-bytes 65536

Part 1 (micro): one step of ``--streams`` streams with the ring full (random cache), best
of ``--repeat``, split into the decoder layers, the final norm, the output layer, and the
coder's side: building the two-stage distributions (``Stages``: max, floor, exp), the block
sums (stage 1), coding the 32 symbols, and the in-file token model.

Part 2 (real): compress the first ``--real-bytes`` of enwik8_head with the real coder,
every component timed in place (the stepper's step and prime, ``Stages`` and its parts,
the token mixer, the range coder), so the micro figure can be compared with what a real
step costs. Prints tables and writes benchmarks/results/lm_step.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(os.environ.get("COMPGEN_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")  # COMPGEN_DATA: from a worktree


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def micro(model, streams: int, repeat: int) -> dict:
    """ms per component of one full-ring lockstep step."""
    import torch

    from compgen.coding.range_coder import SymbolEncoder
    from compgen.lm.coder import Stages
    from compgen.lm.stepper import make_stepper
    from compgen.lm.token_mix import TokenMixer

    model.set_threads()
    bf16 = model.coding_bf16()
    window = model.window
    st = make_stepper(model, streams, window, 4 * window, bf16=bf16)
    gen = torch.Generator().manual_seed(0)
    caches = st.k_cache if isinstance(st.k_cache, list) else [st.k_cache]
    for c in caches + (st.v_cache if isinstance(st.v_cache, list) else [st.v_cache]):
        c.copy_((torch.randn(c.shape, generator=gen) * 0.5).to(c.dtype))
    st.length = window + 7  # ring full
    rng = np.random.default_rng(0)
    ids = rng.integers(100, 1000, size=streams)
    w = st.w
    out = {"streams": streams, "window": window, "bf16": bf16}

    def step():
        st.length = window + 7
        return st.step(ids)

    c = time.process_time()
    out["step (layers + norm + output layer)"] = best(step, repeat)
    out["step CPU ms (both threads, mean)"] = (time.process_time() - c) / repeat
    hidden = torch.randn(streams, w.embed.shape[1], generator=gen)
    with torch.inference_mode():
        out["output layer"] = best(lambda: w.head(hidden).float().numpy(), repeat)
        norm = w.norm
        out["final norm"] = best(lambda: st._rms(hidden, norm), repeat)
    out["layers (step - output layer - norm)"] = (out["step (layers + norm + output layer)"] - out["output layer"]
                                                  - out["final norm"])
    logits = step()
    out["Stages(logits): max, floor, exp"] = best(lambda: Stages(logits), repeat)

    def finish():
        s = Stages(logits)
        s._finish()
        return s

    out["  + stage-1 block sums"] = best(finish, repeat) - out["Stages(logits): max, floor, exp"]
    rows = np.arange(streams)
    sym = np.argmax(logits, axis=1)

    def code():
        s = finish()
        s.encode(SymbolEncoder(), rows, sym)

    out["  + range coding 2 stages"] = best(code, repeat) - out["Stages(logits): max, floor, exp"] - out["  + stage-1 block sums"]
    mixer = TokenMixer()
    hist = [list(rng.integers(100, 140, size=300)) for _ in range(streams)]
    for t in range(300):
        for r in range(streams):
            mixer.add(hist[r][: t + 1], t)

    def mix():
        s = Stages(logits)
        preds = [mixer.predict(hist[r], 300) for r in rows]
        s.add_predictions(rows, preds)
        for r, x, pred in zip(rows.tolist(), sym.tolist(), preds, strict=True):
            if pred is not None:
                mixer.learn(pred, x, s.lm_prob(r, x))

    out["in-file token model (predict, mix in, learn)"] = best(mix, repeat) - out["Stages(logits): max, floor, exp"]
    return {k: (round(v * 1000, 2) if isinstance(v, float) else v) for k, v in out.items()}


def real(model, nbytes: int, segment: int = 0) -> dict:
    """Compress nbytes of enwik8_head with every component of the loop timed in place."""
    import compgen
    import compgen.lm.coder as coder
    import compgen.lm.stepper as stepper_mod
    from compgen.lm import token_mix

    data = (DATA / "enwik8_head.txt").read_bytes()[:nbytes]
    if segment:
        model.segment = segment  # e.g. 32 streams of a short prefix
    spent: dict = defaultdict(float)
    cpu: dict = defaultdict(float)
    calls: dict = defaultdict(int)
    patched = []

    def wrap(owner, name, label):
        orig = getattr(owner, name)

        def timed(*a, **k):
            t, c = time.perf_counter(), time.process_time()
            try:
                return orig(*a, **k)
            finally:
                spent[label] += time.perf_counter() - t
                cpu[label] += time.process_time() - c
                calls[label] += 1

        setattr(owner, name, timed)
        patched.append((owner, name, orig))

    import compgen.lm.gemma as gemma

    for cls in (stepper_mod.LlamaStepper, gemma.GemmaStepper):
        wrap(cls, "step", "stepper.step")
        wrap(cls, "prime", "stepper.prime")
        wrap(cls, "keep", "stepper.keep")
    wrap(coder.Stages, "__init__", "Stages: max, floor, exp")
    wrap(coder.Stages, "_finish", "Stages: stage-1 block sums")
    wrap(coder.Stages, "encode", "Stages.encode (incl. block sums)")
    wrap(coder.Stages, "add_predictions", "mixer: mix in")
    wrap(token_mix.TokenMixer, "predict", "mixer: predict")
    wrap(token_mix.TokenMixer, "learn", "mixer: learn")
    wrap(token_mix.TokenMixer, "add", "mixer: add")
    try:
        t, c = time.perf_counter(), time.process_time()
        blob = compgen.as_compressor(model).compress(data)
        wall, cpu_all = time.perf_counter() - t, time.process_time() - c
    finally:
        for owner, name, orig in reversed(patched):
            setattr(owner, name, orig)
    steps = calls["stepper.step"] + calls["stepper.prime"]
    row = {"bytes": len(data), "wall_s": round(wall, 2), "B/s": round(len(data) / wall, 1),
           "bits/byte": round(8 * len(blob) / len(data), 4), "steps": steps,
           "ms per step (wall)": round(1000 * wall / max(1, steps), 2),
           "CPU ms per step (both threads)": round(1000 * cpu_all / max(1, steps), 2)}
    nested = ("Stages: stage-1 block sums",)  # timed inside Stages.encode
    for label in sorted(spent):
        row[f"{label} ms/step (wall / CPU)"] = (round(1000 * spent[label] / max(1, steps), 2),
                                                round(1000 * cpu[label] / max(1, steps), 2))
    row["rest of the loop ms/step (wall / CPU)"] = (
        round(1000 * (wall - sum(v for k, v in spent.items() if k not in nested)) / max(1, steps), 2),
        round(1000 * (cpu_all - sum(v for k, v in cpu.items() if k not in nested)) / max(1, steps), 2))
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="smollm2:threads=2,gemma3:threads=2")
    ap.add_argument("--streams", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--real-bytes", type=int, default=131072, help="0 skips the real run")
    ap.add_argument("--segment", type=int, default=0, help="bytes per stream in the real run (0: the coder's plan)")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "lm_step.json"))
    args = ap.parse_args()
    import compgen

    results = {"machine": platform.machine(), "cpus": os.cpu_count(), "load_avg_start": os.getloadavg()[0],
               "rows": {}}
    for spec in args.models.split(","):
        model = compgen.load(spec)
        res = {"micro": micro(model, args.streams, args.repeat)}
        print(f"\n{spec}: one {args.streams}-stream step, ring full (ms, best of {args.repeat})")
        for k, v in res["micro"].items():
            print(f"  {k:48s} {v}")
        if args.real_bytes:
            res["real"] = real(model, args.real_bytes, args.segment)
            print(f"{spec}: real compress of enwik8_head[:{args.real_bytes}]")
            for k, v in res["real"].items():
                print(f"  {k:48s} {v}")
        results["rows"][spec] = res
        del model
    results["load_avg_end"] = os.getloadavg()[0]
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1))
    print(f"load average {results['load_avg_start']:.1f} -> {results['load_avg_end']:.1f}; wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
