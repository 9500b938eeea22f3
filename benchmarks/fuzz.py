"""Fuzz campaign: mutated .cg containers of every coder decode exactly or are refused, fast.

    .venv/bin/python benchmarks/fuzz.py --count 100000 --jobs 2        # the campaign
    .venv/bin/python benchmarks/fuzz.py --count 2000 --no-lm --cli 20  # quick look

Containers: codec-mix (gzip and zstd models), the generic byte coder (a small adaptive
test Model), stored files, and the LM coder with a tiny Llama byte LM built from a
config (no download), in every coder setting: token and byte LMs with and without the
adaptive head (settings bit 4 and its learning rate), full-ring attention (bit 5), with and without the in-file
n-gram, several streams, and the 7-bit coder around a token LM. Mutations: bit flips, truncations, insertions, deletions (the
file CRC catches these), and -- the hard ones -- payload flips and header edits
(length, CRC32, spec, fingerprint, flags, coder settings) with the CRC re-sealed.
Files are small (<= 100 bytes): a refusal costs at most about as much as decoding a file
of the same payload size (plus ~1,400 symbols), so refusal time scales with the file.
Every outcome must be the exact original or a RefusedError (the CLI's exit 3, one
line); a wrong output, any other exception, or a decode over ``--limit`` seconds is a
failure. ``--cli N`` also pushes N mutants through ``cgz decompress`` in a
subprocess and checks exit code 3 and a single stderr line. Prints a table, writes
benchmarks/results/fuzz.json. The test suite runs a bounded slice of the same
mutations (tests/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from compgen.coding import container  # noqa: E402
from compgen.errors import RefusedError  # noqa: E402
from compgen.model import Model  # noqa: E402

TEXTS = [b"the cat sat on the mat; the cat sat on the hat.\n",
         b"It was the best of times, it was the worst of times, it was the age of wisdom.",
         b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
         b"x", b""]


class AdaptiveTestModel(Model):
    """A small deterministic order-1 model (counts over the context): the generic byte coder's customer."""

    name = "test-order1"

    @property
    def spec(self) -> str:
        return "test-order1"

    def fingerprint_data(self) -> dict:
        return {"kind": "test-order1", "v": 1}

    @property
    def max_context(self) -> int:
        return 64

    def next_byte_probs(self, context: bytes) -> np.ndarray:
        counts = np.ones(256)
        if context:
            last = context[-1]
            arr = np.frombuffer(context, dtype=np.uint8)
            follow = arr[1:][arr[:-1] == last]
            np.add.at(counts, follow, 20.0)
        return counts / counts.sum()


def tiny_lm(directory: str, threads: int = 1):
    """A 2-layer, 32-dim Llama byte LM saved from a config (the LM coder's path); None without torch.

    As small as a test model: the campaign tests the container and the coder, not the LM.
    One torch thread: two fuzz workers on two cores with two threads each spin-wait on
    each other's cores, which made a 30-token decode take 20-70 ms per token (measured)."""
    try:
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM
    except ImportError:
        return None
    torch.manual_seed(3)
    cfg = LlamaConfig(vocab_size=257, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256,
                      bos_token_id=256, eos_token_id=256, tie_word_embeddings=True)
    net = LlamaForCausalLM(cfg)
    net.save_pretrained(directory)
    with open(os.path.join(directory, "compgen.json"), "w") as f:
        json.dump({"kind": "byte-lm", "bos_id": 256, "context": 128,
                   "params": sum(p.numel() for p in net.parameters()), "train": {}}, f)
    from compgen.registry import load

    return load(f"byte-lm:{directory}:threads={threads}")


def tiny_token_lm(directory: str, threads: int = 1):
    """A 2-layer, 32-dim Llama over a 300-token byte-level BPE (the token codec's and the 7-bit
    coder's path), trained on nothing but its tokenizer; None without tokenizers."""
    try:
        import torch
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
        from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    except ImportError:
        return None
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>", "<esc>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([lm_texts()["lm-long"].decode("utf-8", "replace")], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   additional_special_tokens=["<esc>"])
    torch.manual_seed(4)
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256,
                      bos_token_id=0, eos_token_id=0, tie_word_embeddings=True)
    LlamaForCausalLM(cfg).save_pretrained(directory)
    fast.save_pretrained(directory)
    from compgen.registry import load

    return load(f"hf:{directory}:threads={threads}")


def lm_texts() -> dict[str, bytes]:
    """Realistic LM inputs: a few hundred bytes of English and a 3 KB one (CPython's own docs,
    shipped with every Python), so that decoding the long file whole takes longer than the
    1 s a refusal may; a refusal of it must come from the checks, not from its size."""
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[k] for k in sorted(topics)).encode("utf-8", "replace")
    return {"lm": text[10_000:10_300], "lm-long": text[40_000:43_000]}


def media_bytes(n: int = 300) -> bytes:
    """8-bit 'audio' (a noisy sine): what the 7-bit coder is for."""
    rng = np.random.default_rng(5)
    t = np.arange(n)
    return (128 + 60 * np.sin(t / 7.0) + rng.normal(0, 3, n)).clip(0, 255).astype(np.uint8).tobytes()


def build_corpus(lm_dir: str | None = None, long_lm: bool = True) -> list[dict]:
    """Valid containers to mutate: {coder, model (None: load from the header), original, blob}."""
    from compgen.model import as_compressor
    from compgen.registry import load

    corpus = []
    models = [("codec-mix gzip", load("gzip:level=6"), False), ("codec-mix zstd", load("zstd:level=3"), False),
              ("byte-range-v3", AdaptiveTestModel(), True)]
    for coder, model, pass_model in models:
        for text in TEXTS:
            blob = as_compressor(model, store=False).compress(text)
            corpus.append({"coder": coder, "model": model if pass_model else None, "original": text, "blob": blob})
    gz = load("gzip:level=6")
    for n in (24, 96):  # incompressible, so written stored
        noise = random.Random(n).randbytes(n)
        blob = as_compressor(gz).compress(noise)
        assert container.unpack(blob)[0].stored
        corpus.append({"coder": "stored", "model": None, "original": noise, "blob": blob})
    if lm_dir is not None:
        lm = tiny_lm(lm_dir)
        if lm is not None:
            from compgen.lm.seven_bit import SevenBitModel

            texts = lm_texts()
            for coder, text in [("lm", texts["lm"]), ("lm", TEXTS[1]), ("lm", TEXTS[3]), ("lm", TEXTS[4])] + (
                    [("lm-long", texts["lm-long"])] if long_lm else []):
                blob = as_compressor(lm, store=False).compress(text)
                corpus.append({"coder": coder, "model": lm, "original": text, "blob": blob})
            tok_dir = os.path.join(lm_dir, "tok")
            if not os.path.exists(tok_dir):
                os.makedirs(tok_dir)
                tiny_token_lm(tok_dir)
            from compgen.registry import load as load_spec

            tok_lm = load_spec(f"hf:{tok_dir}:threads=1")  # the adaptive head on (the token LMs' default)
            corpus.append({"coder": "lm-tok", "model": tok_lm, "original": texts["lm"],
                           "blob": as_compressor(tok_lm, store=False).compress(texts["lm"])})
            # the other coder settings: head off, head without the n-gram at another lr, several
            # streams sharing one head, a byte LM with the head
            for spec, text in ((f"hf:{tok_dir}:threads=1:head=0", TEXTS[1]),
                               (f"hf:{tok_dir}:threads=1:mix=0:head_lr=0.2", TEXTS[1]),
                               (f"hf:{tok_dir}:threads=1:segment=30", TEXTS[1]),  # 3 streams, one head
                               (f"byte-lm:{lm_dir}:threads=1:head=1", TEXTS[0])):
                m = load_spec(spec)
                corpus.append({"coder": "lm-head", "model": m, "original": text,
                               "blob": as_compressor(m, store=False).compress(text)})
            seven = SevenBitModel(tok_lm)
            data = media_bytes()
            corpus.append({"coder": "7bit", "model": seven, "original": data,
                           "blob": as_compressor(seven, store=False).compress(data)})
    for item in corpus:
        t0 = time.perf_counter()
        assert container.decompress(item["blob"], model=item["model"]) == item["original"]
        item["decode_s"] = time.perf_counter() - t0
    return corpus


# ---------------------------------------------------------------- mutations
def reseal(body: bytes) -> bytes:
    return body + zlib.crc32(body).to_bytes(4, "little")


def _rand_int(rng: random.Random) -> int:
    return rng.choice([0, 1, rng.randrange(1 << 8), rng.randrange(1 << 16), rng.randrange(1 << 32),
                       (1 << 62) + rng.randrange(1 << 20), rng.randrange(1 << 63)])


def _lm_settings_edit(c: dict, rng: random.Random) -> None:
    """Edit one field of an LM coder's settings (in place; a 7-bit file's inner ones too)."""
    if c.get("coder") == "lm-7bit-v1":
        if rng.random() < 0.2:
            c["low"] = rng.choice(["raw", "kt", "prev", "high"])
            return
        c = c["lm"]
    key = rng.choice(["tokens", "tokens", "streams", "window", "raw", "mix", "probe", "threads", "bf16", "compact",
                      "head", "head", "ring", "ring"])
    if key == "tokens":
        c["tokens"] = rng.choice([_rand_int(rng) % (1 << 40), max(0, c["tokens"] + rng.randint(-5, 5))])
    elif key == "streams":
        c["streams"] = rng.choice([0, 1, 2, 3, 8, 64, rng.randrange(1 << 20)])
        c["raw"] = [i for i in c["raw"] if i < c["streams"]]
    elif key == "window":
        c["window"] = rng.choice([8, 63, 64, 127, 129, 1 << 20])
    elif key == "raw":
        c["raw"] = sorted(set(c["raw"]) ^ {rng.randrange(max(1, c["streams"]))})
    elif key in ("mix", "bf16", "compact", "ring"):  # flag bits: another float path or batch schedule
        c[key] = not c.get(key)
    elif key == "head":  # the adaptive head: off, on, another learning rate (units of 2^-16)
        units = int(c.get("head") or 0)
        c["head"] = rng.choice([0, 1, 3277, max(0, units + rng.choice([-1, 1])), units * 2 % 65536,
                                rng.randrange(1, 65536), 0 if units else 3277])
    elif key == "probe":
        c["probe"] = rng.randrange(1 << 32)
    else:
        c["threads"] = rng.choice([1, 2, 4])


def _header_edit(blob: bytes, rng: random.Random) -> tuple[str, bytes]:
    header, payload = container.unpack(blob)
    h = container.Header(header.spec, header.fingerprint, header.length, header.crc32,
                         json.loads(json.dumps(header.coder)), header.stored)
    field = rng.choice(["length", "length", "length_near", "crc", "spec", "fingerprint", "stored", "settings",
                        "payload_len"])
    if field == "length":
        h.length = _rand_int(rng)
    elif field == "length_near":
        h.length = max(0, h.length + rng.randint(-3, 3) * rng.choice([1, 1, 10, 1000]))
    elif field == "crc":
        h.crc32 = rng.randrange(1 << 32)
    elif field == "spec":
        h.spec = rng.choice(["gzip", "zstd:level=3", "bz2", "nope", "gzip:level=6:window=3", "test-order1",
                             "callable:x", "ppmd:order=2", h.spec + "x"])
    elif field == "fingerprint":
        h.fingerprint = os.urandom(10).hex() if rng.random() < 0.5 else h.fingerprint[:-1] + "0"
    elif field == "stored":
        h.stored = not h.stored
        if not h.stored:
            h.coder = {"coder": rng.choice(["codec-mix-v2", "codec-mix-v1", "byte-range-v3", "byte-range-v2",
                                            "byte-range-v1"]), "topk": 24, "order": 3, "window": 4096,
                       "gap": rng.randint(-8, 64)}
    elif field == "settings" and not h.stored:
        c = h.coder
        if c.get("coder") in ("lm-lockstep-v3", "lm-7bit-v1") and rng.random() < 0.8:
            _lm_settings_edit(c, rng)
        elif c.get("coder") in ("codec-mix-v2", "byte-range-v3") and rng.random() < 0.5:
            # the recorded code length: a gap of a unit or two either way, or anything
            c["gap"] = c.get("gap", 0) + rng.choice([-2, -1, 1, 2]) if rng.random() < 0.7 else _rand_int(rng) - (1 << 20)
        elif c.get("coder") in ("codec-mix-v1", "codec-mix-v2"):
            key = rng.choice(["topk", "order", "window"])
            c[key] = {"topk": rng.randint(1, 255), "order": rng.randint(0, 16),
                      "window": rng.choice([0, 1, 7, 4096, 1 << 20, 1 << 30])}[key]
        else:
            c["coder"] = rng.choice(["codec-mix-v1", "codec-mix-v2", "byte-range-v1", "byte-range-v2", "byte-range-v3",
                                     "lm-lockstep-v2"])
            c.update({"topk": 24, "order": 3, "window": 64, "gap": c.get("gap", 0)})
    elif field == "payload_len":
        payload = payload[: rng.randrange(len(payload) + 1)] if rng.random() < 0.5 else payload + os.urandom(4)
    try:
        return field, container.pack(h, payload)
    except (ValueError, KeyError, TypeError, IndexError):
        return field, blob[:-1]  # a field the writer itself rejects: fall back to a truncation


def mutate(blob: bytes, rng: random.Random) -> tuple[str, bytes]:
    kind = rng.choices(["flip", "truncate", "insert", "delete", "payload_flip_resealed", "header_edit_resealed",
                        "byte_set_resealed"], weights=[2, 1, 1, 1, 3, 4, 2])[0]
    b = bytearray(blob)
    if kind == "flip":
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        b = b[: rng.randrange(len(b))]
    elif kind == "insert":
        i = rng.randrange(len(b) + 1)
        b[i:i] = os.urandom(rng.randint(1, 8))
    elif kind == "delete":
        i = rng.randrange(len(b))
        del b[i: i + rng.randint(1, 8)]
    elif kind == "payload_flip_resealed":
        header, payload = container.unpack(blob)
        if not payload:
            return kind, reseal(bytes(b[:-4]) + b"\x00")
        start = len(blob) - 4 - len(payload)
        for _ in range(rng.randint(1, 3)):
            i = start + rng.randrange(len(payload))
            b[i] ^= 1 << rng.randrange(8)
        b = bytearray(reseal(bytes(b[:-4])))
    elif kind == "header_edit_resealed":
        field, edited = _header_edit(blob, rng)
        kind = f"header_{field}_resealed"
        b = bytearray(edited)
    elif kind == "byte_set_resealed":
        i = rng.randrange(max(1, len(b) - 4))
        b[i] = rng.randrange(256)
        b = bytearray(reseal(bytes(b[:-4])))
    return kind, bytes(b)


def classify(item: dict, mutant: bytes) -> tuple[str, float, str]:
    """(outcome, seconds, detail): exact / refused / WRONG / TRACEBACK."""
    t0 = time.perf_counter()
    try:
        out = container.decompress(mutant, model=item["model"])
        outcome, detail = ("exact", "") if out == item["original"] else ("WRONG", f"{len(out)} bytes")
    except RefusedError as exc:
        outcome, detail = "refused", str(exc)
        if "\n" in detail:
            outcome = "TRACEBACK"
    except _Hang:
        outcome, detail = "HANG", ""
    except Exception as exc:  # noqa: BLE001 -- the point is to catch everything
        outcome, detail = "TRACEBACK", f"{type(exc).__name__}: {exc}"
    return outcome, time.perf_counter() - t0, detail


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


# ------------------------------------------------------------------ workers
_CORPUS: list[dict] = []


def _init(lm_dir, long_lm=True):
    global _CORPUS
    _CORPUS = build_corpus(lm_dir, long_lm)
    signal.signal(signal.SIGALRM, _alarm)


def _run_slice(args) -> dict:
    seed, count, hang_after, lm_share, long_share, only = args
    rng = random.Random(seed)
    lm_coders = ("lm", "lm-tok", "lm-head", "7bit")
    groups = {g: [i for i, it in enumerate(_CORPUS) if it["coder"] in names]
              for g, names in (("lm", lm_coders), ("long", ("lm-long",)))}
    other = [i for i, it in enumerate(_CORPUS) if it["coder"] not in (*lm_coders, "lm-long")]
    if only:  # every mutant from these coders' files
        other = [i for i, it in enumerate(_CORPUS) if it["coder"] in only]
        groups = {"lm": [], "long": []}
    stats: dict = defaultdict(Counter)
    worst: dict = defaultdict(float)
    ratio: dict = defaultdict(float)  # slowest refusal / a valid decode of the same file
    spent: dict = defaultdict(float)
    failures = []
    for _ in range(count):
        pool = other
        if groups["lm"] and rng.random() < lm_share:
            pool = groups["long"] if groups["long"] and rng.random() < long_share else groups["lm"]
        item = _CORPUS[rng.choice(pool)]
        kind, mutant = mutate(item["blob"], rng)
        signal.alarm(hang_after)
        try:
            outcome, secs, detail = classify(item, mutant)
        finally:
            signal.alarm(0)
        key = f"{item['coder']}|{kind}"
        stats[key][outcome] += 1
        spent[key] += secs
        if outcome == "refused":
            worst[key] = max(worst[key], secs)
            ratio[key] = max(ratio[key], secs / max(item["decode_s"], 1e-4))
        if outcome not in ("exact", "refused") and len(failures) < 20:
            failures.append({"coder": item["coder"], "kind": kind, "outcome": outcome, "detail": detail,
                             "mutant_hex": mutant.hex()})
    return {"stats": {k: dict(v) for k, v in stats.items()}, "worst": dict(worst), "ratio": dict(ratio),
            "spent": dict(spent), "failures": failures}


def cli_check(corpus: list[dict], n: int, seed: int) -> dict:
    """N mutants through the real CLI: exit 3 and one stderr line (or exit 0 with the exact bytes)."""
    rng = random.Random(seed)
    items = [it for it in corpus if it["coder"] in ("codec-mix gzip", "codec-mix zstd", "stored")]
    bad = []
    codes: Counter = Counter()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(n):
            item = rng.choice(items)
            kind, mutant = mutate(item["blob"], rng)
            path = Path(tmp) / f"m{k}.cg"
            path.write_bytes(mutant)
            r = subprocess.run([sys.executable, "-m", "compgen", "-q", "decompress", "-c", str(path)],
                               capture_output=True, env=env, timeout=60)
            codes[r.returncode] += 1
            ok = (r.returncode == 0 and r.stdout == item["original"]) or (
                r.returncode == 3 and r.stdout == b"" and r.stderr.count(b"\n") == 1
                and b"Traceback" not in r.stderr)
            if not ok:
                bad.append({"kind": kind, "code": r.returncode, "stderr": r.stderr.decode(errors="replace")[-300:]})
    return {"run": n, "exit_codes": dict(codes), "bad": bad}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=float, default=1.0, help="seconds a refusal may take")
    ap.add_argument("--lm-share", type=float, default=0.1)
    ap.add_argument("--long-share", type=float, default=0.05, help="of the LM mutants, on the 3 KB file")
    ap.add_argument("--no-lm", action="store_true")
    ap.add_argument("--no-long", action="store_true", help="leave the 3 KB LM file out")
    ap.add_argument("--coders", default="", help="mutate only these coders' files, e.g. lm-tok,lm-head,7bit "
                    "(the LM coder settings of the adaptive head)")
    ap.add_argument("--cli", type=int, default=0, help="mutants to push through the CLI as well")
    ap.add_argument("--max-seconds", type=float, default=0, help="stop after the slice that passes this time")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "fuzz.json"))
    args = ap.parse_args(argv)

    import multiprocessing as mp

    from compgen.progress import progress_bar

    t0 = time.time()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        lm_dir = None if args.no_lm else os.path.join(tmp, "lm")
        if lm_dir:
            os.makedirs(lm_dir)
            tiny_lm(lm_dir)  # build once; workers load it
            os.makedirs(os.path.join(lm_dir, "tok"))
            tiny_token_lm(os.path.join(lm_dir, "tok"))
        per = 500
        only = tuple(args.coders.split(",")) if args.coders else ()
        slices = [(args.seed * 1_000_003 + i, min(per, args.count - i * per), 10, args.lm_share, args.long_share, only)
                  for i in range((args.count + per - 1) // per)]
        totals: dict = defaultdict(Counter)
        worst: dict = defaultdict(float)
        ratio: dict = defaultdict(float)
        spent: dict = defaultdict(float)
        failures: list = []
        ctx = mp.get_context("fork")
        with ctx.Pool(args.jobs, initializer=_init, initargs=(lm_dir, not args.no_long)) as pool, \
                progress_bar("fuzz", args.count, unit="mutants") as advance:
            for res, sl in zip(pool.imap(_run_slice, slices), slices):
                for k, v in res["stats"].items():
                    totals[k].update(v)
                for src, dst in ((res["worst"], worst), (res["ratio"], ratio)):
                    for k, v in src.items():
                        dst[k] = max(dst[k], v)
                for k, v in res["spent"].items():
                    spent[k] += v
                failures += res["failures"]
                advance(sl[1])
                if args.max_seconds and time.time() - t0 > args.max_seconds:  # a time slot ends: report what ran
                    break
        decode_s = {}
        if lm_dir:  # valid decode time of every file (this process, after the campaign)
            for it in build_corpus(lm_dir, not args.no_long):
                decode_s[it["coder"]] = max(decode_s.get(it["coder"], 0.0), round(it["decode_s"], 4))
        cli = cli_check(build_corpus(None), args.cli, args.seed) if args.cli else None
    elapsed = time.time() - t0

    outcomes = Counter()
    for v in totals.values():
        outcomes.update(v)
    slow = {k: v for k, v in worst.items() if v >= args.limit}
    print(f"{'coder | mutation':48s} {'n':>7s} {'exact':>6s} {'refused':>7s} {'bad':>4s} {'max refusal s':>13s} "
          f"{'x valid':>7s} {'total s':>8s}")
    for key in sorted(totals):
        c = totals[key]
        bad = sum(v for o, v in c.items() if o not in ("exact", "refused"))
        print(f"{key:48s} {sum(c.values()):7d} {c['exact']:6d} {c['refused']:7d} {bad:4d} {worst.get(key, 0):13.3f} "
              f"{ratio.get(key, 0):7.2f} {spent.get(key, 0):8.1f}")
    total = sum(outcomes.values())
    print(f"\n{total} mutants in {elapsed:.0f} s ({args.jobs} jobs): {dict(outcomes)}; "
          f"slowest refusal {max(worst.values(), default=0):.3f} s; refusals over {args.limit} s: {len(slow)} kinds")
    print(f"valid decode time of the largest file per coder: {decode_s}; load {load_before} -> {os.getloadavg()}")
    if cli:
        print(f"CLI: {cli['run']} mutants, exit codes {cli['exit_codes']}, bad {len(cli['bad'])}")
    by_coder: dict = defaultdict(float)
    for k, v in worst.items():
        by_coder[k.split("|")[0]] = max(by_coder[k.split("|")[0]], v)
    result = {"count": total, "seconds": round(elapsed, 1), "jobs": args.jobs, "seed": args.seed, "coders": args.coders,
              "lm_share": args.lm_share, "long_share": args.long_share, "outcomes": dict(outcomes),
              "by_coder_and_mutation": {k: dict(v) for k, v in totals.items()},
              "max_refusal_seconds": {k: round(v, 4) for k, v in worst.items()},
              "max_refusal_seconds_by_coder": {k: round(v, 4) for k, v in by_coder.items()},
              "max_refusal_over_valid_decode": {k: round(v, 3) for k, v in ratio.items()},
              "seconds_by_coder_and_mutation": {k: round(v, 2) for k, v in spent.items()},
              "valid_decode_seconds": decode_s, "refusals_over_limit": {k: round(v, 4) for k, v in slow.items()},
              "limit_seconds": args.limit, "failures": failures[:50], "cli": cli,
              "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "python": platform.python_version()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    failed = outcomes.get("WRONG", 0) + outcomes.get("TRACEBACK", 0) + outcomes.get("HANG", 0) + len(slow)
    failed += len(cli["bad"]) if cli else 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
