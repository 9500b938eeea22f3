"""From a data argument and model specs to a :class:`~.report.Report`.

Inputs are cut to a bounded size (``max_bytes``, default :data:`.report.DEFAULT_CUT` per
modality) and the cut is stated. Images are explained as the patches ``cgz score``
codes (each patch on its own), audio as its 2048-sample chunks, text as one piece, so
every total equals what ``cgz score`` reports for the same bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CompgenError, UsageError
from .lengths import DEFAULT_BUDGET, ByteLengths, byte_lengths
from .report import DEFAULT_CUT, Report


@dataclass
class Piece:
    data: bytes
    meta: dict


def load_input(arg: str, max_bytes: int | None, patch=(32, 64), chunk: int = 2048) -> tuple[Report, list[Piece]]:
    """The bytes to explain, cut to ``max_bytes`` (the cut is stated in ``report.cut``)."""
    from ..data import parse_data_spec
    from ..fileio import read_input

    spec = parse_data_spec(arg) if arg != "-" else None
    modality = spec.modality if spec else "bytes"
    limit = int(max_bytes) if max_bytes else DEFAULT_CUT[modality]
    if limit < 1:
        raise UsageError("--bytes must be >= 1")
    how = "--bytes" if max_bytes else "the default cut; --bytes N changes it"
    if modality in ("bytes", "text"):
        if spec and Path(spec.path).is_dir():
            raise CompgenError(f"{spec.path}: is a directory (explain takes one file)")
        data = read_input(spec.path if spec else "-")
        if not data:
            raise CompgenError(f"{arg}: empty input, nothing to explain")
        report = Report(arg, modality, data[:limit], original_bytes=len(data))
        if len(data) > limit:
            report.cut = f"first {limit:,} of {len(data):,} bytes shown ({how})"
        return report, [Piece(report.data, {})]
    if not Path(spec.path).exists():
        raise CompgenError(f"{spec.path}: no such file")
    if Path(spec.path).is_dir():
        raise CompgenError(f"{spec.path}: is a directory (explain takes one file)")
    if modality == "image":
        from ..data.image import grid, load_gray, patches

        gray = load_gray(spec.path)
        n_r, n_c = grid(gray.shape, patch)
        if n_r * n_c == 0:
            raise CompgenError(f"{spec.path}: smaller than one {patch[0]}x{patch[1]} patch, nothing to explain")
        size = patch[0] * patch[1]
        keep = max(1, limit // size)
        rows, cols = (min(n_r, max(1, keep // n_c)), n_c) if keep >= n_c else (1, keep)
        pieces = [Piece(blob, {"shape": patch, "cell": cell}) for _, cell, blob in patches(gray, patch)
                  if cell[0] < rows and cell[1] < cols]
        data = b"".join(p.data for p in pieces)
        report = Report(arg, modality, data, original_bytes=n_r * n_c * size, patch=tuple(patch), grid=(rows, cols),
                        picture=gray[:rows * patch[0], :cols * patch[1]].copy(), pieces=len(pieces))
        if (rows, cols) != (n_r, n_c):
            report.cut = (f"top-left {rows * patch[0]}x{cols * patch[1]} pixels ({len(pieces)} of {n_r * n_c} patches) "
                          f"shown ({how})")
        return report, pieces
    from ..data.audio import RATE, load_u8

    data, _ = load_u8(spec.path)
    if not data:
        raise CompgenError(f"{spec.path}: no samples, nothing to explain")
    report = Report(arg, modality, data[:limit], original_bytes=len(data), rate=RATE)
    if len(data) > limit:
        report.cut = (f"first {limit / RATE:.2f} s of {len(data) / RATE:.2f} s ({limit:,} of {len(data):,} samples) "
                      f"shown ({how})")
    pieces = [Piece(report.data[i:i + chunk], {"rate": RATE}) for i in range(0, len(report.data), chunk)]
    report.pieces = len(pieces)
    return report, pieces


def check_specs(specs: list[str], report: Report, lm_binary: bool = False) -> list[str]:
    """The spec each model runs under (token LMs go through ``7bit:`` on images and audio);
    refuses a binary file under a token LM unless ``lm_binary``."""
    from ..commands.score import is_token_lm, looks_binary
    from ..lm.seven_bit import spec_for_modality
    from ..registry import parse_spec

    if not specs:
        raise UsageError("no model given (-m gzip,ppmd,...)")
    for s in specs:
        parse_spec(s)
    out = [spec_for_modality(s, report.modality) for s in specs]
    if report.modality in ("bytes", "text") and not lm_binary and looks_binary(report.data):
        for s in specs:
            if is_token_lm(s):
                raise UsageError(f"{report.source} looks binary (NUL or many control bytes): a token LM would code it "
                                 f"through escape tokens; use -m 7bit:{s} (exact: high 7 bits to the LM) or "
                                 f"--lm-binary")
    return out


def parse_diff(text: str | None, specs: list[str]) -> tuple[int, int]:
    if not text:
        return (0, 1) if len(specs) > 1 else (0, 0)
    if len(specs) < 2:
        raise UsageError("--diff needs two models in -m")
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2:
        raise UsageError("--diff takes two models: A,B (specs from -m, or their positions 1..n)")
    out = []
    for p in parts:
        if p.isdigit() and 1 <= int(p) <= len(specs):
            out.append(int(p) - 1)
        elif p in specs:
            out.append(specs.index(p))
        else:
            raise UsageError(f"--diff: {p!r} is not one of the models given with -m")
    if out[0] == out[1]:
        raise UsageError("--diff needs two different models")
    return out[0], out[1]


def explain_model(model, pieces: list[Piece], stride=None, budget: float = DEFAULT_BUDGET,
                  label: str = "") -> ByteLengths:
    """Per-byte lengths of every piece, concatenated; the total summed piece by piece in
    order, as ``cgz score`` does."""
    from ..progress import progress_bar

    n = sum(len(p.data) for p in pieces)
    parts = []
    t = time.perf_counter()
    with progress_bar(f"explain {label or model.spec}", total=n, unit="B") as advance:
        for p in pieces:
            parts.append(byte_lengths(model, p.data, stride=stride, budget=budget / len(pieces), meta=p.meta,
                                      advance=advance))
    total = 0.0
    for p in parts:
        total += p.total
    first = parts[0]
    tokens = []
    offset = 0
    for p, piece in zip(parts, pieces, strict=True):
        tokens += [(a + offset, b + offset, *rest) for a, b, *rest in p.tokens]
        offset += len(piece.data)
    res = max(p.resolution for p in parts)
    method = first.method if len(parts) == 1 else first.method + f" (each of {len(parts)} pieces on its own)"
    return ByteLengths(first.spec, np.concatenate([p.bits for p in parts]), total, method, res, tokens,
                       time.perf_counter() - t)


# ------------------------------------------------------------------ resuming
def cache_dir() -> Path:
    """Where finished models' lengths are kept, so a killed run resumes after its last model."""
    import os
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "compgen" / "explain"


def cache_key(model, pieces: list[Piece], stride, budget: float) -> str:
    import hashlib
    import json

    h = hashlib.sha256()
    h.update(json.dumps({"spec": model.spec, "fp": model.fingerprint(), "stride": stride, "budget": budget,
                         "v": 1}, sort_keys=True).encode())
    for p in pieces:
        h.update(hashlib.sha256(p.data).digest())
        h.update(json.dumps(p.meta, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def load_cached(key: str) -> ByteLengths | None:
    import json

    path = cache_dir() / f"{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            bits = np.array(z["bits"], dtype=np.float64)
    except (OSError, ValueError, KeyError):
        return None
    tokens = [(a, b, tb, t, [(x, p) for x, p in preds]) for a, b, tb, t, preds in meta["tokens"]]
    return ByteLengths(meta["spec"], bits, float(meta["total"]), meta["method"], int(meta["resolution"]), tokens,
                       float(meta["seconds"]))


def save_cached(key: str, res: ByteLengths) -> None:
    """Best effort: a cache that cannot be written only costs the resume."""
    import io
    import json

    from ..fileio import write_atomic

    meta = {"spec": res.spec, "total": res.total, "method": res.method, "resolution": res.resolution,
            "seconds": res.seconds, "tokens": res.tokens}
    buf = io.BytesIO()
    np.savez(buf, bits=res.bits, meta=np.array(json.dumps(meta)))
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        write_atomic(cache_dir() / f"{key}.npz", buf.getvalue(), force=True)
    except (OSError, CompgenError):
        pass
