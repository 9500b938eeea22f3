"""Plan a benchmark, run its units (in-process, on a process pool or a Dask cluster), aggregate.

A job is a list of ``(spec, piece, options)`` units; :func:`run_units` maps
:func:`compgen.bench.unit.measure` over them through :mod:`compgen.executors`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CompgenError, MissingDependencyError, UsageError
from ..data import FILE_SLICES, Options, Piece, file_sources, load_units, parse_data_spec
from ..lm.seven_bit import spec_for_modality as lm_spec_for
from .unit import is_codec_spec, measure

MODES = ("chunked", "whole")


@dataclass
class BenchConfig:
    specs: list[str]
    data: list[str]
    modes: tuple[str, ...] = MODES
    chunk: int = 2048
    max_bytes: int | None = None
    seed: int = 0
    verify: bool = False
    via_model: bool = False
    workers: int = 1
    tail: float | None = None
    patch: tuple[int, int] = (32, 64)
    lm_max_bytes: int | None = None  # LM specs only (they are ~10^4 times slower than codecs)
    byte_scheme: str = "auto"  # token LMs on image/audio: auto (= 7bit) | 7bit | escape
    extra: dict = field(default_factory=dict)
    executor: object = None  # compgen.executors: "local" | "process" | "dask[://ADDRESS]", a Client or an Executor
    ship_data: bool = False
    lm_xent: bool = True  # LM cross-entropy rows over every codec piece (off for `bench scaling`)


def check_specs(specs: list[str]) -> None:
    """Fail fast, in the parent, on specs that cannot load (one-line errors, no workers spawned)."""
    from ..registry import dependency_status, parse_spec

    if not specs:
        raise UsageError("no models given")
    for spec in specs:
        entry, kwargs = parse_spec(spec)
        ok, missing = dependency_status(entry)
        if not ok:
            raise MissingDependencyError(f"model {entry.name!r} needs {', '.join(missing)}")
        path = kwargs.get("path")
        if entry.positional == "path" and path is not None and not Path(str(path)).exists():
            raise CompgenError(f"{spec}: {path} does not exist")


def plan(cfg: BenchConfig) -> list[tuple[str, Piece, dict]]:
    """All units: modes x models x routes x pieces, grouped by model for cache locality."""
    for mode in cfg.modes:
        if mode not in MODES:
            raise UsageError(f"unknown mode {mode!r}; use chunked, whole or both")
    check_specs(cfg.specs)
    data = [parse_data_spec(d) for d in cfg.data]
    opt = Options(chunk=cfg.chunk, patch=tuple(cfg.patch), tail=cfg.tail)
    units = []
    for mode in cfg.modes:
        pieces = load_units(data, mode, opt, cfg.max_bytes, cfg.seed)
        lm_pieces = pieces
        if cfg.lm_max_bytes is not None and any(not is_codec_spec(s) for s in cfg.specs):
            lm_pieces = load_units(data, mode, opt, min(cfg.lm_max_bytes, cfg.max_bytes or cfg.lm_max_bytes), cfg.seed)
        for spec in cfg.specs:
            codec = is_codec_spec(spec)
            # LMs: teacher-forced cross-entropy ("xent") over every piece the codecs see, and the
            # real coded, verified size ("model") of the --lm-max-bytes chunks, coded in lockstep
            # batches (see lm_batches); whole files are not LM-coded (one slow stream each)
            routes = ["native"] if codec else ((["xent"] if cfg.lm_xent else [])
                                               + (["model"] if mode == "chunked" or not cfg.lm_xent else []))
            if cfg.via_model and codec:
                routes.append("model")
            for route in routes:
                base = {"route": route, "verify": cfg.verify and route != "xent", "mode": mode}
                if not codec and route == "model" and mode == "chunked":
                    for p in lm_batches(lm_pieces, lm_batch_size(spec)):
                        units.append((batch_spec(lm_spec_for(spec, p.modality, cfg.byte_scheme), p),
                                      p, {**base, "modality": p.modality, "pieces": dict(p.meta).get("pieces", 1)}))
                    continue
                use = pieces if codec or route == "xent" else lm_pieces
                for p in use:
                    opts = {**base, "modality": p.modality}
                    if p.meta and route == "native":
                        opts["meta"] = p.info
                    units.append((lm_spec_for(spec, p.modality, cfg.byte_scheme), p, opts))
    return units


def lm_batch_size(spec: str) -> int:
    """Chunks per lockstep batch: the spec's batch= (else the LM default)."""
    from ..lm.model import DEFAULT_BATCH
    from ..registry import parse_spec

    return max(1, int(parse_spec(spec)[1].get("batch", DEFAULT_BATCH)))


def lm_batches(pieces: list[Piece], size: int) -> list[Piece]:
    """Equal-sized chunks of one modality joined into batches of up to ``size`` chunks.

    A token LM codes one 2048-byte chunk as a single stream at ~20 tokens/s; a batch of
    chunks coded as one file with one segment per chunk (each segment cold-starts, no
    in-file model shared between them: ``segment=CHUNK:mix=0``) runs them in lockstep at
    10x the throughput, with the same per-chunk conditioning. One header per batch.
    """
    groups: dict[tuple, list[Piece]] = {}
    for p in pieces:
        groups.setdefault((p.modality, len(p.data)), []).append(p)
    out = []
    for (modality, n), ps in groups.items():
        for i in range(0, len(ps), size):
            part = ps[i: i + size]
            out.append(Piece(f"{len(part)} {modality} chunks", part[0].offset, b"".join(q.data for q in part),
                             modality, (("pieces", len(part)), ("segment", n))))
    return out


def batch_spec(spec: str, piece: Piece) -> str:
    """The spec that codes ``piece`` (a batch) with one cold-started segment per chunk."""
    import re

    meta = dict(piece.meta)
    if meta.get("pieces", 1) <= 1:
        return spec
    return re.sub(r":(segment|mix)=[^:]*", "", spec) + f":segment={meta['segment']}:mix=0"


def run_units(units: list[tuple[str, Piece, dict]], workers: int = 1, executor=None, ship_data: bool = False,
              sources: dict[str, tuple[str, int]] | None = None) -> list[dict]:
    """Measure every unit on ``executor`` (see :mod:`compgen.executors`; None: a process pool
    when workers > 1); results carry their mode, file and offset, in unit order.

    ``sources`` (file name -> path, start; :func:`compgen.data.file_sources`) lets workers read
    bytes/text pieces from disk themselves; image and audio pieces (decoded samples) travel as
    bytes, or are scattered once with ``ship_data``.
    """
    from ..executors import Data, map_units, open_backend

    sources = sources or {}

    def data(p: Piece) -> Data:
        path, start = sources.get(p.file, (None, 0)) if p.modality in FILE_SLICES else (None, 0)
        return Data(p.data, path, start + p.offset)

    jobs = [(spec, data(p), {k: v for k, v in opts.items() if k != "mode"}) for spec, p, opts in units]
    with open_backend(executor, workers if workers > 1 else None, ship_data) as backend:
        results = map_units(backend, measure, jobs, labels=[f"{spec} on {p.label}" for spec, p, _ in units],
                            weights=[len(p.data) for _, p, _ in units], desc="bench", unit="B")
    for (_spec, piece, opts), res in zip(units, results):
        res.update(mode=opts["mode"], file=piece.file, offset=piece.offset)
    return results


def _sum(rows, key):
    vals = [r.get(key) for r in rows]
    if any(v is None for v in vals):
        return None
    return float(sum(vals))


def aggregate(results: list[dict], by: tuple[str, ...] = ("modality", "mode", "spec", "route")) -> list[dict]:
    """Sum units into rows: raw/adjusted rate, bits/byte, cross-entropy, throughput."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault(tuple(r.get(k) for k in by), []).append(r)
    rows = []
    for key, rs in groups.items():
        n_in = sum(r["input_bytes"] for r in rs)
        n_units = sum(int(r.get("pieces") or 1) for r in rs)  # a batch unit codes several chunks
        out = _sum(rs, "output_bytes")
        payload = _sum(rs, "payload_bytes")
        xent = _sum(rs, "xent_bits")
        c_s = _sum(rs, "compress_s")
        d_s = _sum(rs, "decompress_s")
        size = max(int(r.get("model_size_bytes") or 0) for r in rs)
        headers = [int(r.get("header_bytes") or 0) for r in rs]
        # the paper counts a codec's header once across all chunks; both figures are kept
        once = None if out is None else out - sum(headers) + max(headers)
        row = dict(zip(by, key))
        row.update(
            model_spec=rs[0].get("model_spec", rs[0]["spec"]), units=n_units, input_bytes=n_in,
            output_bytes=None if out is None else int(out), payload_bytes=None if payload is None else int(payload),
            model_size_bytes=size, n_params=rs[0].get("n_params"),
            raw_rate=None if out is None else out / n_in,
            header_bytes=max(headers), raw_rate_header_once=None if once is None else once / n_in,
            adjusted_rate=None if out is None else (out + size) / n_in,
            bits_per_byte=None if out is None else 8 * out / n_in,
            payload_bits_per_byte=None if payload is None else 8 * payload / n_in,
            xent_bits_per_byte=None if xent is None else xent / n_in,
            compress_Bps=n_in / c_s if c_s else None,
            decompress_Bps=n_in / d_s if d_s else None,
            verified=sum(int(r.get("pieces") or 1) for r in rs if r.get("verified")),
            verify_failed=sum(int(r.get("pieces") or 1) for r in rs if r.get("verified") is False),
            load_s=sum(r.get("load_s") or 0.0 for r in rs),
            errors=sorted({r["error"] for r in rs if r.get("error")}),
        )
        # per-chunk spread (bits/byte), used for error bars and fit uncertainties
        bpbs = [8 * r["output_bytes"] / r["input_bytes"] for r in rs if r.get("output_bytes") and r["input_bytes"]]
        pbpbs = [8 * r["payload_bytes"] / r["input_bytes"] for r in rs
                 if r.get("payload_bytes") is not None and r["input_bytes"]]
        # LM cross-entropy rows: the rate an ideal coder would reach on these units
        row["xent_rate"] = None if xent is None else xent / (8 * n_in)
        row["bits_per_byte_sem"] = _sem(bpbs)
        row["payload_bits_per_byte_sem"] = _sem(pbpbs)
        rows.append(row)
    return rows


def _sem(values: list[float]) -> float | None:
    n = len(values)
    if n < 2:
        return None
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return (var / n) ** 0.5


def run_bench(cfg: BenchConfig, executor=None) -> dict:
    """Plan, run, aggregate. Raises CompgenError when a unit failed (other than a verify mismatch).

    ``executor`` (else ``cfg.executor``): where units run, e.g. a ``distributed.Client``.
    """
    from ..executors import describe

    executor = cfg.executor if executor is None else executor
    units = plan(cfg)
    if not units:
        raise UsageError("nothing to measure")
    started = time.time()
    t = time.perf_counter()
    results = run_units(units, cfg.workers, executor, cfg.ship_data, file_sources(cfg.data, cfg.tail))
    wall = time.perf_counter() - t
    failed = [r for r in results if r.get("error") and r["error"] != "round trip mismatch"]
    if failed:
        r = failed[0]
        raise CompgenError(f"{r['spec']} on {r['file']}@{r['offset']}: {r['error']}"
                           + (f" (and {len(failed) - 1} more failed units)" if len(failed) > 1 else ""))
    return {
        "config": {"models": cfg.specs, "data": cfg.data, "modes": list(cfg.modes), "chunk": cfg.chunk,
                   "max_bytes": cfg.max_bytes, "seed": cfg.seed, "verify": cfg.verify,
                   "via_model": cfg.via_model, "workers": cfg.workers, "tail": cfg.tail, "patch": list(cfg.patch),
                   "lm_max_bytes": cfg.lm_max_bytes, "byte_scheme": cfg.byte_scheme, "lm_xent": cfg.lm_xent,
                   "executor": describe(executor, cfg.workers), **cfg.extra},
        "started_unix": started,
        "wall_s": wall,
        "summary": aggregate(results),
        "per_file": aggregate(results, ("modality", "mode", "spec", "route", "file")),
        "units": results,
    }
