"""Generation beyond text: image rows and speech continued by any Model (paper Fig. 3, and more).

Images: a grayscale crop ``rows x cols``; row ``r`` is continued from the true rows
above it and its own first half (the paper's setup), independently of the other rows.
Audio: a clip's 8-bit samples (compgen.data.audio) continued for ``seconds``.

Two modes, both on top of :mod:`.byte_mode`:

* ``byte``: the paper's definition, every byte drawn from ``next_byte_probs`` through
  :func:`~compgen.sampling.byte_mode.byte_step` (copy guard off: copying a row above
  is what a picture should do);
* ``span``: multi-byte candidates that a picture or a sound makes plausible -- images:
  the same columns of the rows above (shifted by -2..2 pixels) and a flat run; audio:
  the continuations of the 16 places in the prime whose last 32 samples are nearest to
  the output's last 32 (copying only real material, so the output cannot loop on
  itself) -- each scored by its exact conditional code length
  (``model.code_lengths``, one compression per candidate), one drawn by the sampler
  and ``commit`` bytes of it kept.

Every sample gets numbers: bits/byte of the generated part under a reference model
(given the same context) and its error against the real continuation: PSNR for images,
a log-spectral distance for audio (RMS dB difference of the mean power spectra).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import UsageError
from ..model import Model
from ..samplers import Sampler
from .byte_mode import byte_step, model_bits
from .guard import CopyGuard


@dataclass
class MediaSample:
    model: str
    mode: str
    data: bytes  # the full picture/sound with generated parts filled in
    generated: list[bytes]
    seconds: float
    stats: dict = field(default_factory=dict)


# ------------------------------------------------------------------ proposals
def _copy(stream: bytes, lag: int, n: int) -> bytes:
    """``n`` bytes continuing ``stream`` by copying from ``lag`` back (overlap allowed, as LZ77)."""
    out = bytearray(stream)
    start = len(out) - lag
    if start < 0:
        return b""
    for i in range(n):
        out.append(out[start + i])
    return bytes(out[len(stream):])


def image_lags(cols: int, rows_above: int) -> list[int]:
    lags = []
    for k in range(1, min(rows_above, 6) + 1):
        lags += [k * cols + d for d in (0, -1, 1, -2, 2) if k * cols + d > 0]
    return lags


def pitch_lags(stream: bytes, count: int = 8, lo: int = 32, hi: int = 800, frame: int = 1024) -> list[int]:
    """Lags of the strongest autocorrelation peaks of the last ``frame`` samples."""
    x = np.frombuffer(stream[-(frame + hi):], dtype=np.uint8).astype(np.float64) - 128.0
    if len(x) < frame + lo:
        return []
    tail = x[-frame:]
    scores = []
    for lag in range(lo, min(hi, len(x) - frame) + 1):
        seg = x[-frame - lag: len(x) - lag]
        scores.append((float(np.dot(tail, seg)), lag))
    scores.sort(reverse=True)
    picked: list[int] = []
    for _, lag in scores:
        if all(abs(lag - p) > 3 for p in picked):
            picked.append(lag)
        if len(picked) >= count:
            break
    return picked


def match_lags(stream: bytes, k: int = 6, count: int = 8, search: int = 32768) -> list[int]:
    """Lags to the most recent earlier occurrences of the last ``k`` bytes (LZ-style)."""
    n = len(stream)
    if n <= k:
        return []
    key, lo, end, lags = stream[-k:], max(0, n - search), n - 1, []
    while len(lags) < count:
        p = stream.rfind(key, lo, end)  # p + k <= n - 1: not the suffix itself
        if p < 0:
            break
        lags.append(n - (p + k))
        end = p + k - 1
    return lags


def neighbour_lags(stream: bytes, source_end: int, m: int = 32, count: int = 16, span: int = 32,
                   banned: np.ndarray | None = None) -> list[int]:
    """Lags to the ``count`` places in ``stream[:source_end]`` whose ``m`` samples are nearest
    (Euclidean) to the last ``m`` samples: patch-based continuation (Efros & Leung style)
    that copies only from real material, so the output cannot loop on itself."""
    n = len(stream)
    hi = source_end - span  # the copied span must lie inside the source
    if hi <= m or n < m:
        return []
    src = np.frombuffer(stream[:hi], dtype=np.uint8).astype(np.float32)
    key = np.frombuffer(stream[-m:], dtype=np.uint8).astype(np.float32)
    win = np.lib.stride_tricks.sliding_window_view(src, m)  # win[i] = src[i:i+m]
    d = ((win - key) ** 2).sum(axis=1)
    if banned is not None and len(banned):  # source starts (i + m) used recently: no loops on one spot
        starts = np.arange(len(d)) + m
        near = np.abs(starts[:, None] - banned[None, :]).min(axis=1) < 2 * span
        d[near] = np.inf
    top = np.argpartition(d, min(count, len(d) - 1))[:count]
    return [n - (int(i) + m) for i in top[np.argsort(d[top])]]


def span_candidates(stream: bytes, lags: list[int], span: int, flat: bool = True) -> list[bytes]:
    """Distinct copies at ``lags`` (plus a flat run); returns (candidates, their lags, 0 = flat)."""
    seen, out, used = set(), [], []
    for lag in lags:
        c = _copy(stream, lag, span)
        if c and c not in seen:
            seen.add(c)
            out.append(c)
            used.append(lag)
    run = stream[-1:] * span if stream else bytes([128]) * span
    if (flat or not out) and run not in seen:
        out.append(run)
        used.append(0)
    return out, used


# ------------------------------------------------------------------ continuing
def _context_limit(model: Model, window: int | None) -> int:
    mc = model.max_context
    limit = window or 32768
    return min(limit, mc) if isinstance(mc, int) and mc > 0 else limit


def continue_bytes(model: Model, context: bytes, n: int, sampler: Sampler, rng, mode: str,
                   lags_fn, span: int = 8, commit: int = 8, window: int | None = None,
                   stats: dict | None = None, deadline: float | None = None, flat: bool = True,
                   on_pick=None) -> bytes:
    """``n`` bytes after ``context``, by ``mode`` ("byte" or "span")."""
    stats = stats if stats is not None else {}
    stats.setdefault("guard_fallbacks", 0)
    guard = CopyGuard(b"", 0, 0)
    limit = _context_limit(model, window)
    out = bytearray()
    while len(out) < n:
        if deadline is not None and time.perf_counter() > deadline:
            stats["stopped"] = "max_seconds (rest flat)"
            out += bytes([out[-1] if out else context[-1] if context else 128]) * (n - len(out))
            break
        stream = bytes(context) + bytes(out)
        ctx = stream[-limit:]
        if mode == "byte":
            out += byte_step(lambda c: model_bits(model, c, stats), ctx, stream, sampler, rng, guard, stats)
            continue
        cands, lags = span_candidates(stream, lags_fn(stream), span, flat)
        bits = np.asarray(model.code_lengths(cands, ctx), dtype=np.float64)
        stats["scored"] = stats.get("scored", 0) + len(cands)
        i = sampler.choose(bits, rng)
        out += cands[i][:commit]
        if on_pick is not None:
            on_pick(len(stream) - lags[i] if lags[i] else -1)
    return bytes(out[:n])


def image_rows(model: Model, crop: np.ndarray, sampler: Sampler, seed: int, mode: str, span: int = 8,
               commit: int = 8, max_seconds: float | None = None) -> MediaSample:
    """Each row's second half continued from the true rows above and its first half."""
    rows, cols = crop.shape
    half = cols // 2
    if rows < 1 or half < 1:
        raise UsageError("image crop too small to continue rows")
    rng = np.random.default_rng(seed)
    out = crop.copy()
    gen, stats = [], {"scored": 0}
    t0 = time.perf_counter()
    deadline = None if max_seconds is None else t0 + max_seconds
    for r in range(rows):
        context = crop[:r].tobytes() + crop[r, :half].tobytes()
        g = continue_bytes(model, context, cols - half, sampler, rng, mode,
                           lambda s, r=r: image_lags(cols, r), span, commit, stats=stats, deadline=deadline)
        out[r, half:] = np.frombuffer(g, dtype=np.uint8)
        gen.append(g)
    return MediaSample(model.spec, mode, out.tobytes(), gen, time.perf_counter() - t0, stats)


def audio_continue(model: Model, prime: bytes, n: int, sampler: Sampler, seed: int, mode: str, span: int = 32,
                   commit: int = 32, window: int = 8192, max_seconds: float | None = None) -> MediaSample:
    """``n`` samples after ``prime`` (8-bit, see compgen.data.audio)."""
    rng = np.random.default_rng(seed)
    stats = {"scored": 0}
    t0 = time.perf_counter()
    deadline = None if max_seconds is None else t0 + max_seconds

    recent: list[int] = []  # source starts of the last commits

    def lags(stream: bytes) -> list[int]:
        return neighbour_lags(stream, len(prime), span=span, banned=np.array(recent[-recall:], dtype=np.int64))

    def picked(source: int) -> None:
        recent.append(source)

    recall = max(1, int(0.25 * 16000) // max(1, commit))  # no source reused within ~0.25 s of output
    g = continue_bytes(model, prime, n, sampler, rng, mode, lags, span, commit, window, stats, deadline,
                       flat=False, on_pick=picked)
    return MediaSample(model.spec, mode, prime + g, [g], time.perf_counter() - t0, stats)


# ------------------------------------------------------------------ quality
def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def spectral_distance(a: bytes, b: bytes, rate: int = 16000) -> float:
    """RMS difference (dB) of the mean log power spectra (Welch, 512-sample segments)."""
    from scipy.signal import welch

    def spec(x: bytes) -> np.ndarray:
        s = np.frombuffer(x, dtype=np.uint8).astype(np.float64) - 128.0
        _, p = welch(s, fs=rate, nperseg=min(512, len(s)))
        return 10 * np.log10(p + 1e-10)

    n = min(len(a), len(b))
    if n < 64:
        return float("nan")
    return float(np.sqrt(np.mean((spec(a[:n]) - spec(b[:n])) ** 2)))


def reference_bpb(ref: Model, generated: list[bytes], contexts: list[bytes]) -> float:
    bits = sum(float(ref.code_length(g, c)) for g, c in zip(generated, contexts))
    n = sum(len(g) for g in generated)
    return bits / n if n else float("nan")
