"""Run probe jobs for several models: process pool, per-item cache, progress bar.

A job is any picklable object with ``key() -> str`` (a hash of everything that
determines its result) and ``run(model) -> dict``. Results are cached in a JSONL
file under (model fingerprint, job key), appended as they arrive, so an interrupted
run resumes where it stopped and a rerun with more items only does the new ones.

Codec models run in worker processes (``workers``); other models (language models,
which are multi-threaded themselves and costly to load) run in this process.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Sequence

from ..progress import progress_bar


class Cache:
    """Append-only JSONL of ``{"m": fingerprint, "k": key, "r": result}``; None = in memory only."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path else None
        self.data: dict[tuple[str, str], dict] = {}
        if self.path and self.path.exists():
            with open(self.path, "r", encoding="utf-8") as fh:
                for line in fh:
                    try:
                        rec = json.loads(line)
                        self.data[(rec["m"], rec["k"])] = rec["r"]
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut by an interrupted run
        self._fh = None

    def get(self, fingerprint: str, key: str):
        return self.data.get((fingerprint, key))

    def put(self, fingerprint: str, key: str, result: dict) -> None:
        self.data[(fingerprint, key)] = result
        if self.path is None:
            return
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.write(json.dumps({"m": fingerprint, "k": key, "r": result}) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# --------------------------------------------------------------- worker side
_MODELS: dict = {}


def _worker_model(spec: str):
    model = _MODELS.get(spec)
    if model is None:
        from ..registry import load

        model = load(spec)
        if hasattr(model, "threads"):
            model.threads = 1  # the pool is the parallelism; no nested threads
        _MODELS[spec] = model
    return model


def _work(spec: str, jobs: list) -> list[dict]:
    model = _worker_model(spec)
    return [job.run(model) for job in jobs]


def _in_pool(model) -> bool:
    from ..compressors.base import CompressorModel

    return isinstance(model, CompressorModel)


# --------------------------------------------------------------- driver
def run_jobs(models: Sequence, jobs: Sequence, cache: Cache, workers: int = 1, batch: int = 8,
             desc: str = "icl") -> dict[tuple[str, str], dict]:
    """Results for every (model.spec, job.key()); cached ones are not recomputed.

    ``models`` are loaded Model objects (for the fingerprint and the in-process route);
    pool workers rebuild codec models from their spec.
    """
    results: dict[tuple[str, str], dict] = {}
    todo: list[tuple[object, list]] = []
    for model in models:
        fp = model.fingerprint()
        missing = []
        for job in jobs:
            hit = cache.get(fp, job.key())
            if hit is None:
                missing.append(job)
            else:
                results[(model.spec, job.key())] = hit
        if missing:
            todo.append((model, missing))
    total = sum(len(m) for _, m in todo)
    if not total:
        return results
    with progress_bar(desc, total, unit="item") as advance:
        pooled = [(m, js) for m, js in todo if workers > 1 and _in_pool(m)]
        local = [(m, js) for m, js in todo if not (workers > 1 and _in_pool(m))]
        if pooled:
            ctx = get_context("spawn")  # fork is unsafe once torch is loaded
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
            try:
                futures = {}
                for model, js in pooled:
                    for i in range(0, len(js), batch):
                        chunk = js[i:i + batch]
                        futures[pool.submit(_work, model.spec, chunk)] = (model, chunk)
                for fut in as_completed(futures):
                    model, chunk = futures[fut]
                    for job, res in zip(chunk, fut.result()):
                        cache.put(model.fingerprint(), job.key(), res)
                        results[(model.spec, job.key())] = res
                    advance(len(chunk))
            except BaseException:
                # interrupted or failed: stop now (results so far are cached) instead of
                # letting the pool finish every queued batch
                for proc in list((getattr(pool, "_processes", None) or {}).values()):
                    proc.terminate()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown()
        for model, js in local:
            for job in js:
                res = job.run(model)
                cache.put(model.fingerprint(), job.key(), res)
                results[(model.spec, job.key())] = res
                advance(1)
    return results
