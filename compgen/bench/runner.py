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
            # LMs: teacher-forced cross-entropy over every piece the codecs see ("xent"), and the
            # real coded (and verified) size over the --lm-max-bytes subset ("model")
            routes = ["native"] if is_codec_spec(spec) else (["xent", "model"] if cfg.lm_xent else ["model"])
            if cfg.via_model and is_codec_spec(spec):
                routes.append("model")
            for route in routes:
                for p in (pieces if is_codec_spec(spec) or route == "xent" else lm_pieces):
                    opts = {"route": route, "verify": cfg.verify and route != "xent", "mode": mode,
                            "modality": p.modality}
                    if p.meta and route == "native":
                        opts["meta"] = p.info
                    units.append((lm_spec_for(spec, p.modality, cfg.byte_scheme), p, opts))
    return units


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
    for (spec, piece, opts), res in zip(units, results):
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
            model_spec=rs[0].get("model_spec", rs[0]["spec"]), units=len(rs), input_bytes=n_in,
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
            verified=sum(1 for r in rs if r.get("verified")),
            verify_failed=sum(1 for r in rs if r.get("verified") is False),
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
