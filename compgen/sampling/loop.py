"""The generation loop: set up context, guard and mode once, then step until ``n`` bytes.

Which mode steps is the model's choice (:attr:`compgen.Model.sampling_mode`) unless the
caller names one; the loop itself only handles the context window, the copy guard,
streaming, the time limit and the statistics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import UsageError
from ..model import Model
from ..samplers import Sampler, TopP
from . import byte_mode, span_mode  # noqa: F401  (register the built-in modes)
from .guard import CopyGuard
from .junctions import PLANS
from .modes import SampleSetup, SampleState, mode_class
from .window import fixed_context


@dataclass
class SampleResult:
    text: bytes
    settings: dict
    stats: dict = field(default_factory=dict)


#: suffix lengths tried by the proposer, longest first (issue 13: finer steps for back-off)
BACKOFF_LADDER = (16, 12, 10, 8, 6, 5, 4, 3, 2, 1)
OLD_LADDER = (24, 12, 8, 5, 3, 2, 1)
#: the span-mode defaults before back-off (issue 13, first round): for ablations and comparisons
WINDOW_PROPOSALS = {"backoff": 0, "pool": "window", "commit": 1, "span": 24, "ladder": OLD_LADDER}
#: a prime longer than this is indexed for proposals only around the codec's window
POOL_LIMIT = 4 << 20


def default_settings(model: Model) -> dict:
    """Per-codec defaults for span mode (window, span length, candidates per step, back-off)."""
    from ..compressors.spans import default_window

    name = getattr(model, "name", "")
    cands = {"gzip": 128, "zlib": 128, "deflate": 128, "zstd": 256, "xz": 48, "bz2": 64,
             "brotli": 32, "ppmd": 64}.get(name, 64)
    is_span = getattr(model, "sampling_mode", "byte") == "span"
    # codecs pick the part of the prime they see; for an LM that choice would cost a forward per probe
    window_from = "best" if is_span else "tail"
    # issue 13 (benchmarks/sampling.py --quality, docs/sampling.md): proposals from the whole
    # prime, longest matching context first (back-off to 4 words), 32-byte spans, 2-word commits;
    # round 4: runs end where the text re-joins the corpus after the longest context (plan)
    return {"window": default_window(model), "candidates": cands, "span": 32, "window_from": window_from,
            "backoff": 4 if is_span else 0, "pool": "prime" if is_span else "window", "commit": 2,
            "ladder": BACKOFF_LADDER, "lookahead": 0,
            "plan": "overlap" if is_span else "off"}


def proposal_pool(prime: bytes, fixed: bytes, pool: str) -> bytes:
    """The text proposals come from: the codec's window, or the prime (at most POOL_LIMIT
    bytes of it, centred on the window, so indexing stays bounded on any prime)."""
    if pool == "window":
        return fixed
    if len(prime) <= POOL_LIMIT:
        return prime
    at = prime.find(fixed[:4096]) if fixed else -1
    centre = at + len(fixed) // 2 if at >= 0 else len(prime) - POOL_LIMIT // 2
    start = min(max(0, centre - POOL_LIMIT // 2), len(prime) - POOL_LIMIT)
    return prime[start:start + POOL_LIMIT]


def generate(model: Model, prompt: bytes = b"", prime: bytes = b"", n: int = 200,
             sampler: Sampler | None = None, seed: int | None = 0, mode: str = "auto",
             window: int | None = None, keep: int | None = None, span: int | None = None,
             candidates: int | None = None, pool: str | None = None,
             self_proposals: bool = False, max_copy: int = 32, self_copy: int = 16,
             max_seconds: float | None = None, scorer=None, window_from: str | None = None,
             commit: int | None = None, backoff: int | None = None, ladder=None,
             lookahead: int | None = None, plan: str | None = None, on_text: Callable[[bytes], None] | None = None) -> SampleResult:
    """Sample ``n`` bytes continuing ``prompt`` after priming with ``prime``; see :func:`sample`."""
    from ..compressors.spans import scorer_for

    t_setup = time.perf_counter()
    if isinstance(model, str):
        from ..registry import load

        model = load(model)
    prompt, prime = bytes(prompt), bytes(prime)
    if int(n) < 0:
        raise UsageError(f"n must be >= 0 (got {n})")
    mode_cls = mode_class(mode, model)
    mode = mode_cls.name
    sampler = sampler if sampler is not None else TopP(0.9, temperature=0.7)
    if not isinstance(sampler, Sampler):
        raise UsageError(f"sampler must be a compgen.samplers.Sampler (got {type(sampler).__name__})")
    defaults = default_settings(model)
    window = int(window) if window is not None else defaults["window"]
    mc = model.max_context
    if isinstance(mc, int) and mc > 0:
        window = min(window, mc)
    if keep is None:
        keep = mode_cls.default_keep(window)
    keep = max(0, min(int(keep), window))
    if window < 1:
        raise UsageError("window must be >= 1")
    span = int(span) if span is not None else defaults["span"]
    candidates = int(candidates) if candidates is not None else defaults["candidates"]
    if prime and prime[-1:] not in (b"\n", b" ") and prompt:
        prime = prime + b"\n\n"
    window_from = window_from or defaults["window_from"]
    fixed = fixed_context(model, prime, prompt, window - keep if window > keep else 0, window_from)
    if fixed and prompt and fixed[-1:] not in (b"\n", b" ") and fixed != prime[-len(fixed):]:
        fixed = fixed[:-2] + b"\n\n"  # a chosen block ends like the prime does before the prompt
    state = SampleState(bytearray(prompt), len(prompt), fixed, keep)
    rng = np.random.default_rng(seed)
    scorer = scorer if scorer is not None else scorer_for(model)
    scorer.prepare(fixed)
    guard = CopyGuard(prime, max_copy, self_copy)
    guard.observe(bytes(state.text))
    pool = pool or defaults["pool"]
    if pool not in ("window", "prime"):
        raise UsageError(f"pool must be window or prime (got {pool!r})")
    commit = int(commit if commit is not None else defaults["commit"])
    backoff = int(backoff if backoff is not None else defaults["backoff"])
    ladder = tuple(int(k) for k in (ladder or defaults["ladder"]))
    if commit < 1:
        raise UsageError(f"commit must be >= 1 (got {commit})")
    if backoff < 0:
        raise UsageError(f"backoff must be >= 0 (got {backoff})")
    lookahead = int(lookahead if lookahead is not None else defaults["lookahead"])
    if lookahead < 0:
        raise UsageError(f"lookahead must be >= 0 (got {lookahead})")
    plan = plan if plan is not None else defaults["plan"]
    if plan not in PLANS:
        raise UsageError(f"plan must be {', '.join(PLANS[:-1])} or {PLANS[-1]} (got {plan!r})")
    if not ladder or min(ladder) < 1:
        raise UsageError(f"ladder must list suffix lengths >= 1 (got {ladder})")
    setup = SampleSetup(model, scorer, prime, fixed, window, keep, span, candidates, pool, bool(self_proposals),
                        options={"commit": commit, "backoff": backoff, "ladder": ladder, "lookahead": lookahead,
                                 "plan": plan, "pool_text": proposal_pool(prime, fixed, pool)})
    stepper = mode_cls(setup)
    settings = {"model": model.spec, "mode": mode, "sampler": sampler.settings(), "seed": seed,
                "n": int(n), "window": window, "keep": keep, "span": span, "candidates": candidates,
                "pool": pool, "self_proposals": bool(self_proposals), "max_copy": max_copy,
                "self_copy": self_copy, "route": scorer.route, "window_from": window_from, "commit": commit,
                "backoff": backoff, "ladder": list(ladder), "lookahead": lookahead, "plan": plan, "prime_bytes": len(prime), "prompt": prompt.decode("utf-8", "replace")}
    t0 = time.perf_counter()
    stats = {"setup_seconds": round(t0 - t_setup, 3), "steps": 0, "byte_steps": 0, "guard_fallbacks": 0}
    deadline = None if max_seconds is None else t0 + float(max_seconds)

    def emit(piece: bytes) -> None:
        room = n - (len(state.text) - state.n_prompt)
        piece = piece[:room]
        if not piece:
            return
        state.text += piece
        guard.observe(bytes(state.text))
        if on_text:
            on_text(piece)

    while len(state.text) - state.n_prompt < n:
        if deadline is not None and time.perf_counter() >= deadline:
            stats["stopped"] = "max_seconds"
            break
        stats["steps"] += 1
        emit(stepper.step(state, sampler, rng, guard, stats))
    seconds = time.perf_counter() - t0
    out = state.generated
    stats.update(seconds=round(seconds, 3), bytes=len(out),
                 bytes_per_s=round(len(out) / seconds, 2) if seconds > 0 else None,
                 scored=scorer.scored + stats.get("scored", 0), guard_rejected=guard.rejected)
    return SampleResult(out, settings, stats)


def sample(model: Model, prompt: bytes = b"", prime: bytes = b"", n: int = 200,
           sampler: Sampler | None = None, seed: int | None = 0, **options) -> bytes:
    """Continue ``prompt`` with ``n`` bytes drawn from ``model`` after ``prime``.

    ``sampler``: :mod:`compgen.samplers` (default ``TopP(0.9, temperature=0.7)``).
    Options: ``mode`` ("auto": the model's ``sampling_mode``, spans for compressors,
    bytes otherwise), ``window`` (context bytes, default per codec), ``keep`` (recent
    text kept in it; default 64 bytes in span mode, half the window in byte mode),
    ``span``, ``candidates``, ``pool`` ("prime" or "window": where proposals come from),
    ``backoff`` (span mode: the longest matching context offering this many words decides
    which continuations compete; 0 = every suffix length at once), ``commit`` (words per
    step), ``ladder`` (suffix lengths tried), ``lookahead`` (span mode with back-off: the
    cheapest this-many words are re-scored with the next step's best continuation; 0 = off),
    ``plan`` (span mode with back-off: "overlap" ends each copied run at the word boundary
    whose tail re-joins the corpus after the longest context, :mod:`.junctions`; "off"),
    ``max_copy`` / ``self_copy`` (copy guard, 0 = off), ``max_seconds``, ``on_text``
    (callback per committed piece). Same seed, same bytes.
    """
    return generate(model, prompt, prime, n, sampler, seed, **options).text
