"""The coder's adaptive head, measured: many head / mixing settings in ONE pass of the LM.

    .venv/bin/python benchmarks/head.py --files alice29                      # default settings grid
    .venv/bin/python benchmarks/head.py --files canterbury --configs plain,mix,mix+head0.05
    .venv/bin/python benchmarks/head.py --model smollm2:window=2048 --files alice29
    .venv/bin/python benchmarks/head.py --step-bench                             # cost per step

The LM's distributions do not depend on the in-file models (the coded tokens are fixed
when compressing), so one run of the coder's own lockstep loop (same stepper, batch plan,
bf16 and compaction as ``compgen compress``) feeds every setting of the grid: each one
gets its own in-file n-gram and head and its own range encoder. Its ideal bits are what
the coder's payload holds (within ~0.02 %); the setting the coder uses by default gives
exactly the real coder's ideal bits (tests/test_adaptive_head.py checks this on a tiny
model). Configs: ``plain`` (LM alone), ``mix`` (n-gram), ``head<lr>``, ``mix+head<lr>``,
``mix+stream<lr>`` (one bias vector per stream instead of one shared by all). Also the
time per step of the LM and of each setting's probability work. Prints a table and writes
benchmarks/results/head.json (``--json``) after every file.

``--step-bench``: one 32-stream coder step at a full ring of 512 / 1024 / 2048 slots (random
cache contents; what the window costs), and the probability work of one step (the
coder's ``Stages``) without and with the head, with the n-gram's share, timed on the
logits of that step.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compgen.coding.range_coder import SymbolEncoder  # noqa: E402
from compgen.lm.adaptive_head import LR_UNIT, AdaptiveHead, lr_units  # noqa: E402
from compgen.lm.coder import BLOCK, TokenRangeCoder, lockstep, plan_segments, segment_sizes  # noqa: E402
from compgen.lm.token_mix import TokenMixer  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.exists():  # a git worktree under /work/wt/NAME: the data sits beside the main checkout
    DATA = Path("/work/shared/data")
FILES = {"alice29": "canterbury/alice29.txt", "asyoulik": "canterbury/asyoulik.txt", "lcet10": "canterbury/lcet10.txt",
         "plrabn12": "canterbury/plrabn12.txt", "cp.html": "canterbury/cp.html", "fields.c": "canterbury/fields.c",
         "grammar.lsp": "canterbury/grammar.lsp", "xargs.1": "canterbury/xargs.1", "enwik8_head": "enwik8_head.txt"}
GROUPS = {"canterbury": ["alice29", "asyoulik", "lcet10", "plrabn12", "cp.html", "fields.c", "grammar.lsp", "xargs.1"]}
DEFAULT_CONFIGS = "plain,mix,head0.1,mix+head0.02,mix+head0.05,mix+head0.1,mix+head0.2,mix+stream0.1"


class StreamHeads:
    """One bias vector per stream (the alternative to the coder's shared one)."""

    def __init__(self, vocab: int, units: int, width: int, streams: int):
        self.heads = [AdaptiveHead(vocab, units, width) for _ in range(streams)]

    def weigh(self, e: np.ndarray, streams) -> np.ndarray:
        return np.stack([self.heads[s].weigh(e[i]) for i, s in enumerate(streams)])

    def learn(self, flat: np.ndarray, rows, streams, tokens) -> None:
        for r, s, x in zip(rows, streams, tokens, strict=True):
            self.heads[s].learn(self.heads[s].gradient(flat, [r]), [x])


class Config:
    def __init__(self, name: str):
        self.name = name
        self.mix = name.startswith("mix")
        self.kind, self.units = None, 0
        for kind in ("head", "stream"):
            if kind in name:
                self.kind, self.units = kind, lr_units(name.split(kind)[1])
        if name not in ("plain", "mix") and self.kind is None:
            raise SystemExit(f"unknown config {name!r}")
        self.bits = 0.0
        self.seconds = 0.0

    def start(self, vocab: int, streams: int) -> None:
        width = -(-vocab // min(BLOCK, vocab)) * min(BLOCK, vocab)
        self.mixer = TokenMixer() if self.mix else None
        self.head = (AdaptiveHead(vocab, self.units, width) if self.kind == "head" else
                     StreamHeads(vocab, self.units, width, streams) if self.kind == "stream" else None)
        self.enc = SymbolEncoder()

    def step(self, base, t: int, rows: np.ndarray, sym: np.ndarray, history) -> None:
        """Code this step's tokens under this setting, then learn (as coder.lockstep does)."""
        t0 = time.perf_counter()
        st = copy.copy(base)  # share the LM's float32 exps, nothing else
        st.mix, st.stage1 = {}, None
        local = st._rows(rows)
        if self.kind == "head":
            st.flat = self.head.weigh(base.flat)
            grad = self.head.gradient(st.flat, local.tolist())
        elif self.kind == "stream":
            flat = np.zeros(base.flat.shape, dtype=np.float64)
            flat[local] = self.head.weigh(base.flat[local], rows.tolist())
            st.flat = flat
        else:
            st.flat = base.flat.copy()
        preds = None
        if self.mixer is not None:
            preds = [self.mixer.predict(history[r], t) for r in rows]
        if self.kind == "stream":  # its gradient needs the head's own rows, before mixing
            self.head.learn(st.flat, local.tolist(), rows.tolist(), sym.tolist())
        if preds is not None:
            st.add_predictions(rows, preds)
        self.bits += float(st.encode(self.enc, rows, sym).sum())
        if self.kind == "head":
            self.head.learn(grad, sym.tolist())
        if self.mixer is not None:
            for r, x, pred in zip(rows.tolist(), sym.tolist(), preds, strict=True):
                if pred is not None:
                    self.mixer.learn(pred, x, st.lm_prob(r, x))
        self.seconds += time.perf_counter() - t0


def measure(model, data: bytes, configs: list[Config]) -> dict:
    streams, seg = plan_segments(len(data), model.batch, getattr(model, "segment", 0))
    sizes = segment_sizes(len(data), streams, seg)
    parts = [data[i * seg: i * seg + int(sizes[i])] for i in range(streams)]
    coded = [i for i in range(streams) if len(zlib.compress(parts[i], 1)) < len(parts[i])]
    seg_tokens = [model.codec.encode(parts[i]) for i in coded]
    lengths = np.array([len(s) for s in seg_tokens], dtype=np.int64)
    padded = np.zeros((len(coded), int(lengths.max(initial=0)) + 1), dtype=np.int64)
    for i, s in enumerate(seg_tokens):
        padded[i, : len(s)] = s
    history: list[list[int]] = [[] for _ in coded]
    started = [False]
    clock = {"steps": 0, "inner": 0.0, "t0": time.perf_counter()}

    def choose(t, st, rows):
        if not started[0]:
            for c in configs:
                c.start(st.vocab, len(coded))
            started[0] = True
        sym = padded[rows, t]
        t0 = time.perf_counter()
        for c in configs:
            c.step(st, t, rows, sym, history)
        for r, x in zip(rows.tolist(), sym.tolist(), strict=True):
            history[r].append(x)
        for c in configs:
            if c.mixer is not None:
                for r in rows.tolist():
                    c.mixer.add(history[r], t)
        clock["inner"] += time.perf_counter() - t0
        clock["steps"] += 1
        return sym, lengths > t + 1

    coder = TokenRangeCoder(model)
    total = int(lengths.sum())
    lockstep(model, len(coded), model.window, coder.horizon(total), choose, False,
             bf16=model.coding_bf16(), compact=coder.can_compact(), ring=coder.can_full_ring())
    wall = time.perf_counter() - clock["t0"]
    raw_bits = 8.0 * sum(int(sizes[i]) for i in range(streams) if i not in coded)
    n = len(data)
    out = {"bytes": n, "tokens": total, "streams": streams, "raw_segments": streams - len(coded),
           "steps": clock["steps"], "wall_s": wall, "lm_s_per_step": (wall - clock["inner"]) / max(1, clock["steps"]),
           "configs": {}}
    for c in configs:
        payload = len(c.enc.finish()) if c.bits else 0
        out["configs"][c.name] = {"ideal_bpb": (c.bits + raw_bits) / n, "payload_bpb": (8 * payload + raw_bits) / n,
                                  "ms_per_step": 1e3 * c.seconds / max(1, clock["steps"])}
    return out


def step_bench(model, windows=(512, 1024, 2048), streams: int = 32, steps: int = 12) -> dict:
    """Median seconds of one lockstep step per ring size, and of the coder's per-step
    probability work without / with the adaptive head (see module doc)."""
    import torch

    from compgen.lm.coder import Stages
    from compgen.lm.stepper import make_stepper

    model.set_threads()
    rng = np.random.default_rng(0)
    out: dict = {"streams": streams, "bf16": model.coding_bf16(), "step_ms": {}, "stages_ms": {}}
    logits = None
    for w in windows:
        st = make_stepper(model, streams, w, w + steps + 4, bf16=model.coding_bf16())
        with torch.inference_mode():
            st.k_cache.normal_(0, 1)
            st.v_cache.normal_(0, 1)
        st.length = w  # a full ring
        times = []
        for _ in range(steps):
            ids = rng.integers(0, model.codec.vocab_size, streams)
            t0 = time.perf_counter()
            logits = st.step(ids)
            times.append(time.perf_counter() - t0)
        out["step_ms"][w] = 1e3 * float(np.median(times[2:]))
        print(f"step, ring {w:5d}: {out['step_ms'][w]:7.1f} ms (median of {steps - 2})")
        del st
    vocab = logits.shape[1]
    width = -(-vocab // min(BLOCK, vocab)) * min(BLOCK, vocab)
    rows = np.arange(streams)
    sym = rng.integers(0, vocab, streams)
    for name, units in (("no head", 0), ("head", lr_units(0.1))):
        head = AdaptiveHead(vocab, units, width) if units else None
        mixer = TokenMixer()
        hist = [list(rng.integers(0, 200, 8)) for _ in rows]
        for r in rows:  # every stream's context seen once: the n-gram predicts
            for t in range(8):
                mixer.add(hist[r], t)
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            s = Stages(logits, head=head)
            g = head.gradient(s.flat, rows.tolist()) if head is not None else None
            preds = [mixer.predict(hist[r], 7) for r in rows]
            s.add_predictions(rows, preds)
            s.encode(SymbolEncoder(), rows, sym)
            if head is not None:
                head.learn(g, sym.tolist())
            times.append(time.perf_counter() - t0)
        out["stages_ms"][name] = 1e3 * float(np.median(times[2:]))
        print(f"probability work per step, {name:8s}: {out['stages_ms'][name]:6.2f} ms")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2:threads=2")
    ap.add_argument("--files", default="alice29")
    ap.add_argument("--configs", default=DEFAULT_CONFIGS)
    ap.add_argument("--max-bytes", type=int, default=None)
    ap.add_argument("--step-bench", action="store_true", help="time one step per ring size and the head's work")
    ap.add_argument("--json", default=str(Path(__file__).resolve().parent / "results" / "head.json"))
    args = ap.parse_args(argv)
    names = [f for k in args.files.split(",") for f in GROUPS.get(k, [k])]
    import compgen

    model = compgen.load(args.model)
    path = Path(args.json)
    results = json.loads(path.read_text()) if path.exists() else {}
    results.setdefault("runs", [])
    results["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()}
    if args.step_bench:
        load0 = os.getloadavg()[0]
        bench = step_bench(model)
        bench.update(model=model.spec, load_avg_start=load0, load_avg_end=os.getloadavg()[0],
                     when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
        print(f"load {bench['load_avg_start']:.1f} -> {bench['load_avg_end']:.1f}")
        results.setdefault("step_bench", []).append(bench)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=1) + "\n")
        return 0
    for key in names:
        data = (DATA / FILES[key]).read_bytes()
        if key == "enwik8_head" and not args.max_bytes:
            data = data[: 1 << 20]
        data = data[: args.max_bytes] if args.max_bytes else data
        configs = [Config(c) for c in args.configs.split(",")]
        load0 = os.getloadavg()[0]
        row = measure(model, data, configs)
        row.update(file=key, model=model.spec, load_avg_start=load0, load_avg_end=os.getloadavg()[0],
                   when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
        results["runs"].append(row)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=1) + "\n")
        base = row["configs"].get("mix") or next(iter(row["configs"].values()))
        print(f"\n{key} ({row['bytes']} bytes, {row['tokens']} tokens, {row['streams']} streams, {model.spec}); "
              f"LM {1e3 * row['lm_s_per_step']:.1f} ms/step over {row['steps']} steps, "
              f"load {row['load_avg_start']:.1f}->{row['load_avg_end']:.1f}")
        print(f"  {'config':18s} {'ideal b/B':>9s} {'payload':>8s} {'vs mix':>7s} {'ms/step':>7s}")
        for name, r in row["configs"].items():
            print(f"  {name:18s} {r['ideal_bpb']:9.4f} {r['payload_bpb']:8.4f} "
                  f"{100 * (r['ideal_bpb'] / base['ideal_bpb'] - 1):+6.2f}% {r['ms_per_step']:7.2f}")
    print(f"wrote {path}  (lr grid unit 1/{LR_UNIT})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
