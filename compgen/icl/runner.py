"""Run probe jobs for several models: process pool, per-item cache, progress bar.

A job is any picklable object with ``key() -> str`` (a hash of everything that
determines its result) and ``run(model) -> dict``. Results are cached in a JSONL
file under (model fingerprint, job key), appended as they arrive, so an interrupted
run resumes where it stopped and a rerun with more items only does the new ones.

Jobs run through :mod:`compgen.executors`: on a process pool (``workers``) codec models
run in the workers and other models (language models, multi-threaded themselves and
costly to load) in this process; on Dask every model runs on the cluster.
"""

from __future__ import annotations

import json
import os
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
def run_item(spec: str, fingerprint: str, job) -> dict:
    """One job on a worker: the model is built once per worker process and must match the caller's."""
    from ..executors import cached_model

    return job.run(cached_model(spec, fingerprint)[0])


def _in_pool(model) -> bool:
    from ..compressors.base import CompressorModel

    return isinstance(model, CompressorModel)


def _label(model, job) -> str:
    what = getattr(job, "task", None) or getattr(job, "kind", type(job).__name__)
    where = f" shots={job.shots} seed={job.seed} #{job.index}" if hasattr(job, "shots") else ""
    return f"{model.spec} on {what}{where} item {job.key()}"


# --------------------------------------------------------------- driver
def run_jobs(models: Sequence, jobs: Sequence, cache: Cache, workers: int = 1, batch: int = 8,
             desc: str = "icl", executor=None, ship_data: bool = False) -> dict[tuple[str, str], dict]:
    """Results for every (model.spec, job.key()); cached ones are not recomputed.

    ``models`` are loaded Model objects (for the fingerprint and the in-process route).
    ``executor`` (see :mod:`compgen.executors`; None: a process pool when workers > 1):
    its workers rebuild models from their spec; our own process pool takes codecs only,
    language models then run here. Results are cached as they arrive, so an interrupted
    run resumes on any executor.
    """
    from ..executors import map_units, open_backend

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

    def keep(model, job, res) -> None:
        cache.put(model.fingerprint(), job.key(), res)
        results[(model.spec, job.key())] = res

    with progress_bar(desc, total, unit="item") as advance, \
            open_backend(executor, workers if workers > 1 else None, ship_data) as backend:
        remote = [(m, js) for m, js in todo if not backend.in_process and (backend.remote_all or _in_pool(m))]
        if remote:
            pairs = [(m, job) for m, js in remote for job in js]
            map_units(backend, run_item, [(m.spec, m.fingerprint(), job) for m, job in pairs],
                      labels=[_label(m, job) for m, job in pairs], batch=batch, advance=advance,
                      on_result=lambda i, res: keep(*pairs[i], res))
        for model, js in todo:
            if any(model is m for m, _ in remote):
                continue
            for job in js:
                keep(model, job, job.run(model))
                advance(1)
    return results
