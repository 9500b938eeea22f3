"""The one execution seam: where the work units of a sweep run.

Every command that maps pure units (bench, bench scaling, icl, icl curve/ncd, multi-file
score) goes through :func:`map_units` on a backend opened by :func:`open_backend`:

* ``local``   -- in this process, one unit after the other;
* ``process`` -- a spawn-started process pool on this machine;
* ``dask``    -- a ``dask.distributed`` cluster: ``dask`` starts a local one (all cores,
  loopback only), ``dask://HOST:PORT`` connects to a running scheduler;
* any ``concurrent.futures.Executor`` or ``distributed.Client`` passed from Python.

Units are batched, submitted in a bounded window, counted on the progress bar as they
return and merged in input order, so results do not depend on the backend. Data travels
by reference (path + offset + length + crc32, read and checked on the worker) or, with
``ship_data``, as bytes scattered once per file. Models are built once per worker
process by :func:`cached_model` and keyed by spec, the state of the files they load and
(when the caller knows it) the fingerprint they must have.
"""

from __future__ import annotations

import logging
import mmap
import os
import sys
import time
import zlib
from collections import OrderedDict
from concurrent.futures import FIRST_COMPLETED, Executor
from concurrent.futures import wait as futures_wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from .errors import CompgenError, MissingDependencyError, UsageError

KINDS = ("local", "process", "dask")
INSTALL_CLUSTER = "pip install 'compgen[cluster]' (or: pip install dask distributed)"
CONNECT_TIMEOUT = "20s"
_MAX_BATCH = 64  # units per task at most: small enough for a fair split, big enough to amortise a task


# ------------------------------------------------------------------ choosing an executor
@dataclass(frozen=True)
class ExecutorSpec:
    """What the user asked for: ``kind`` (local | process | dask), a scheduler ``address``
    (dask only; None = start a local cluster) and a worker count (None = all cores)."""

    kind: str
    address: str | None = None
    workers: int | None = None

    def __str__(self) -> str:
        if self.kind == "dask" and self.address:
            return f"dask://{self.address.removeprefix('tcp://')}"
        return self.kind if self.workers is None or self.kind == "local" else f"{self.kind} x{self.workers}"


def parse_executor(text: str | None, workers: int | None = None) -> ExecutorSpec:
    """``--executor`` value -> ExecutorSpec; None keeps the old default (a pool when workers > 1)."""
    if workers is not None and workers < 1:
        raise UsageError("--workers must be >= 1")
    if text is None or not str(text).strip():
        return ExecutorSpec("process", None, workers) if workers and workers > 1 else ExecutorSpec("local")
    text = str(text).strip()
    if text in KINDS:
        return ExecutorSpec(text, None, workers)
    if text.startswith("dask://"):
        address = text[len("dask://"):]
        if not address:
            raise UsageError("--executor dask://ADDRESS needs a scheduler address, e.g. dask://host:8786")
        return ExecutorSpec("dask", address if "://" in address else f"tcp://{address}", workers)
    raise UsageError(f"unknown executor {text!r}: use local, process, dask or dask://HOST:PORT")


def add_arguments(parser, workers: bool = False) -> None:
    """``--executor`` and ``--ship-data`` (and ``--workers`` where a command lacks it)."""
    parser.add_argument("--executor", default=None, metavar="local|process|dask[://ADDRESS]",
                        help="where work units run: local (this process), process (a process pool), "
                             "dask (a local Dask cluster, all cores) or dask://HOST:PORT (a running "
                             "scheduler); default: local, or process with --workers > 1")
    parser.add_argument("--ship-data", action="store_true",
                        help="send input bytes to the workers (scattered once per file) instead of "
                             "letting them read path+offset from a shared filesystem")
    if workers:
        parser.add_argument("--workers", type=int, default=None,
                            help="worker processes for process/dask (default: all cores)")


def from_args(args) -> ExecutorSpec:
    return parse_executor(getattr(args, "executor", None), getattr(args, "workers", None))


# ------------------------------------------------------------------ data by reference
@dataclass(frozen=True)
class Data:
    """Parent side: a unit's bytes plus where they live on disk, if anywhere."""

    data: bytes
    path: str | None = None
    offset: int = 0


@dataclass(frozen=True)
class FileSlice:
    """Worker side: read ``length`` bytes of ``path`` at ``offset`` and check their crc32."""

    path: str
    offset: int
    length: int
    crc: int

    def read(self) -> bytes:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read(self.length)
        except OSError as exc:
            raise CompgenError(f"{self.path}: {exc.strerror or exc} on this worker "
                               "(data paths must be the same on every worker, or use --ship-data)") from None
        if len(data) != self.length or zlib.crc32(data) != self.crc:
            raise CompgenError(f"{self.path}@{self.offset}+{self.length}: the bytes on this worker differ from "
                               "the submitting machine's (data paths must line up, or use --ship-data)")
        return data


@dataclass(frozen=True)
class Shipped:
    """Worker side: ``length`` bytes at ``offset`` of the batch's scattered blob number ``slot``."""

    slot: int
    offset: int
    length: int


class _Sources:
    """Parent side: which Data are verbatim slices of their file (checked here through mmap,
    so a reference can never name other bytes), and the blobs to scatter for --ship-data."""

    def __init__(self):
        self._maps: dict[str, object] = {}

    def _map(self, path: str):
        if path not in self._maps:
            try:
                with open(path, "rb") as fh:
                    self._maps[path] = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # gone, unreadable or empty
                self._maps[path] = None
        return self._maps[path]

    def on_disk(self, d: Data) -> bool:
        if d.path is None or not d.data:
            return False
        m = self._map(d.path)
        return m is not None and m[d.offset:d.offset + len(d.data)] == d.data

    def file_bytes(self, path: str) -> bytes:
        return self._map(path)[:]

    def close(self) -> None:
        for m in self._maps.values():
            if m is not None:
                m.close()
        self._maps.clear()


def _resolve(arg, blobs):
    if isinstance(arg, FileSlice):
        return arg.read()
    if isinstance(arg, Shipped):
        return bytes(blobs[arg.slot][arg.offset:arg.offset + arg.length])
    if isinstance(arg, Data):
        return arg.data
    return arg


# ------------------------------------------------------------------ worker side
def _where() -> str:
    dist = sys.modules.get("distributed")
    if dist is not None:
        try:
            return f" on worker {dist.get_worker().address}"
        except ValueError:
            pass
    import multiprocessing

    return "" if multiprocessing.parent_process() is None else f" in worker process {os.getpid()}"


def run_batch(fn: Callable, items: Sequence[tuple], labels: Sequence[str], *blobs) -> list:
    """Run ``fn(*args)`` for each unit of a batch (on a worker); errors name the unit and the worker."""
    out = []
    for args, label in zip(items, labels):
        try:
            out.append(fn(*(_resolve(a, blobs) for a in args)))
        except CompgenError as exc:
            raise type(exc)(f"{label}{_where()}: {exc}") from None
        except ImportError as exc:
            raise MissingDependencyError(f"{label}{_where()}: {exc.name or exc} is not installed there") from None
    return out


_MODELS: "OrderedDict[tuple, object]" = OrderedDict()
_MODELS_KEPT = 2  # units arrive grouped by model; two covers the hand-over between models


def _files_stamp(spec: str):
    """(mtime, size) of the files a path spec loads, so a long-lived worker rebuilds a
    model whose files changed (a retrained byte-lm at the same path)."""
    from .registry import parse_spec

    entry, kwargs = parse_spec(spec)
    path = kwargs.get(entry.positional) if entry.positional else None
    if path is None:
        return None
    try:
        st = os.stat(path)
        stamps = [(str(path), st.st_mtime_ns, st.st_size)]
        if os.path.isdir(path):
            with os.scandir(path) as it:
                stamps += sorted((e.name, e.stat().st_mtime_ns, e.stat().st_size) for e in it if e.is_file())
        return tuple(stamps)
    except OSError:
        return None  # load() reports the missing path


def cached_model(spec: str, fingerprint: str | None = None):
    """The Model for ``spec``, built once per process; returns (model, seconds spent loading now).

    With ``fingerprint`` (the submitting process's ``model.fingerprint()``) a worker that
    builds a different model (other library version, other weights at that path) refuses
    instead of mixing its results with the caller's.
    """
    key = (spec, _files_stamp(spec))
    model, elapsed = _MODELS.get(key), 0.0
    if model is not None:
        _MODELS.move_to_end(key)
    else:
        from .registry import REGISTRY, load

        entry = REGISTRY.get(spec.split(":", 1)[0].strip().lower())
        if entry is not None and "transformers" in entry.needs:  # keep worker output clean: no loading bars
            import multiprocessing

            if multiprocessing.parent_process() is not None:  # a pool or Dask worker: others share the cores,
                os.environ.setdefault("COMPGEN_OMP_SPIN", "0")  # so OpenMP threads must not spin (lm/openmp.py)
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            try:
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
            except Exception:
                pass
        t = time.perf_counter()
        model = load(spec)
        elapsed = time.perf_counter() - t
        _MODELS[key] = model
        while len(_MODELS) > _MODELS_KEPT:
            _, old = _MODELS.popitem(last=False)
            close = getattr(old, "close", None)
            if callable(close):
                close()
    if fingerprint is not None and model.fingerprint() != fingerprint:
        raise CompgenError(f"model {spec} built here has fingerprint {model.fingerprint()}, the caller's has "
                           f"{fingerprint}: install the same library versions and model files on every worker")
    return model, elapsed


@contextmanager
def _sigint_deferred():
    """Hold Ctrl-C back while worker processes are started: they inherit the blocked signal
    (kept across exec, and Python's start-up leaves the mask alone), so Ctrl-C reaches only
    this process, which cancels the units and stops the workers, and no worker prints a
    traceback. Blocked, not ignored: a Ctrl-C that arrives meanwhile is delivered when this
    returns instead of being lost (under load a pool's start-up can take seconds)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


# ------------------------------------------------------------------ backends
class _Done:
    """A finished local call, shaped like a future."""

    def __init__(self, fn, args):
        try:
            self._value, self._error = fn(*args), None
        except Exception as exc:  # raised again by result(), like a future
            self._value, self._error = None, exc

    def result(self):
        if self._error is not None:
            raise self._error
        return self._value


class Backend:
    """Submit batches, wait for any to finish, cancel the rest. ``remote_all``: every model
    runs here (False for our own process pool: it takes codecs, language models stay in
    the parent where they use all cores); ``ship``: send bytes instead of references."""

    name = "local"
    workers = 1
    remote_all = True
    in_process = True
    ship = False
    scatters = False

    def submit(self, fn, *args):
        return _Done(fn, args)

    def wait_any(self, futures) -> list:
        return list(futures)

    def cancel(self, futures) -> None:
        pass

    def scatter(self, data: bytes):
        return data

    def close(self) -> None:
        pass


class FuturesBackend(Backend):
    """Any ``concurrent.futures.Executor``; ``own`` = our spawn process pool (closed, and on
    interrupt terminated, by us)."""

    in_process = False

    def __init__(self, executor: Executor, workers: int, own: bool = False, ship: bool = False):
        self.executor, self.workers, self.own, self.ship = executor, workers, own, ship
        self.remote_all = not own
        self._aborted = False
        self.name = f"process x{workers}" if own else type(executor).__name__

    def submit(self, fn, *args):
        if self.own:  # the pool starts its processes inside submit()
            with _sigint_deferred():
                return self.executor.submit(fn, *args)
        return self.executor.submit(fn, *args)

    def wait_any(self, futures) -> list:
        return list(futures_wait(list(futures), return_when=FIRST_COMPLETED).done)

    def cancel(self, futures) -> None:
        if self.own and futures:
            # stop now (finished results are kept by the caller), not after every queued batch; the
            # pool then fails the pending futures itself (cancelling them too races with it)
            self._aborted = True
            for proc in list((getattr(self.executor, "_processes", None) or {}).values()):
                proc.terminate()
            self.executor.shutdown(wait=False)
            return
        for f in futures:
            f.cancel()

    def close(self) -> None:
        if self.own:
            if not self._aborted:
                self.executor.shutdown(wait=True, cancel_futures=True)


class DaskBackend(Backend):
    """A ``distributed.Client``; ``own``: we made the client (and ``cluster``, a LocalCluster) and close them."""

    in_process = False
    scatters = True

    def __init__(self, client, cluster=None, ship: bool = False, own: bool = False):
        self.client, self.cluster, self.ship, self.own = client, cluster, ship, own or cluster is not None
        self.workers = max(1, sum(client.nthreads().values()))
        self.name = f"dask {'local x' + str(self.workers) if cluster is not None else client.scheduler.address}"

    def submit(self, fn, *args):
        # pure=False: no hashing of arguments, every unit runs; a killed worker's tasks are
        # rescheduled by the scheduler (distributed.scheduler.allowed-failures)
        return self.client.submit(fn, *args, pure=False)

    def wait_any(self, futures) -> list:
        from distributed import wait

        return list(wait(list(futures), return_when="FIRST_COMPLETED").done)

    def cancel(self, futures) -> None:
        try:
            self.client.cancel(list(futures), force=True)
        except Exception:
            pass

    def scatter(self, data: bytes):
        # a copy on every worker: a worker that dies cannot take the only copy with it
        return self.client.scatter(data, hash=False, broadcast=True)

    def close(self) -> None:
        if self.own:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _import_distributed():
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise MissingDependencyError(f"--executor dask needs dask and distributed: {INSTALL_CLUSTER}") from None
    return distributed


def _note(text: str) -> None:
    from .progress import _QUIET

    if not _QUIET:
        print(f"cgz: {text}", file=sys.stderr, flush=True)


#: Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536; any explicit value turns off
#: glibc's adaptive mmap threshold, so every codec call maps and faults in its buffers again:
#: brotli/xz on 2 KB chunks ran 4x slower (1.12 s -> 4.58 s of compress time). None unsets it.
NANNY_ENVIRON = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def local_cluster(workers: int, dashboard: bool = True):
    """(LocalCluster, Client): ``workers`` processes x 1 thread, listening on loopback only.

    Dask's own INFO/WARNING lines (worker start/stop, a port already taken) are turned
    down to errors in this process: the progress bar and our notes say what happens.
    """
    import warnings

    distributed = _import_distributed()
    import dask

    logging.getLogger("distributed").setLevel(logging.ERROR)
    with warnings.catch_warnings(), _sigint_deferred(), dask.config.set(NANNY_ENVIRON):
        warnings.simplefilter("ignore")  # "port 8787 is in use, using another": the link printed is the real one
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", silence_logs=logging.ERROR,
                                           dashboard_address="127.0.0.1:8787" if dashboard else None)
    return cluster, distributed.Client(cluster)


def _malloc_trim() -> str | None:  # runs on a worker
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def _start_dask(spec: ExecutorSpec, ship: bool) -> DaskBackend:
    distributed = _import_distributed()
    if spec.address:
        try:
            client = distributed.Client(spec.address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise CompgenError(f"cannot reach the Dask scheduler at {spec.address}: {exc}") from None
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError):
            client.close()
            raise CompgenError(f"the Dask scheduler at {spec.address} has no workers "
                               f"(start some: dask worker {spec.address} --nthreads 1)") from None
        backend = DaskBackend(client, None, ship, own=True)
        _note(f"dask scheduler {spec.address}: {len(client.nthreads())} workers, {backend.workers} threads")
        trimmed = [w for w, v in client.run(_malloc_trim).items() if v]
        if trimmed:
            _note(f"{len(trimmed)} workers run with MALLOC_TRIM_THRESHOLD_ set, which makes codecs up to 4x "
                  "slower; docs/cluster.md shows the Dask setting that unsets it")
        return backend
    n = spec.workers or os.cpu_count() or 1
    cluster, client = local_cluster(n)
    _note(f"local Dask cluster: {n} worker{'s' if n != 1 else ''} x 1 thread; dashboard {cluster.dashboard_link}")
    return DaskBackend(client, cluster, ship)


def _is_dask_client(obj) -> bool:
    dist = sys.modules.get("distributed")
    return dist is not None and isinstance(obj, dist.Client)


@contextmanager
def open_backend(executor=None, workers: int | None = None, ship_data: bool = False) -> Iterator[Backend]:
    """A Backend for ``executor``: None / text / ExecutorSpec (built and closed here), a
    ``distributed.Client`` or ``concurrent.futures.Executor`` (used, left open), or a Backend."""
    if isinstance(executor, Backend):
        yield executor
        return
    if _is_dask_client(executor):
        yield DaskBackend(executor, None, ship_data)
        return
    if isinstance(executor, Executor):
        yield FuturesBackend(executor, getattr(executor, "_max_workers", None) or os.cpu_count() or 1, ship=ship_data)
        return
    spec = executor if isinstance(executor, ExecutorSpec) else parse_executor(executor, workers)
    if spec.kind == "local":
        backend: Backend = Backend()
    elif spec.kind == "process":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        n = spec.workers or os.cpu_count() or 1
        pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"))  # fork is unsafe with torch
        backend = FuturesBackend(pool, n, own=True, ship=ship_data)
    else:
        backend = _start_dask(spec, ship_data)
    try:
        yield backend
    finally:
        backend.close()


def describe(executor, workers: int | None = None) -> str:
    """A JSON-friendly name for what ran the units."""
    if executor is None or isinstance(executor, (str, ExecutorSpec)):
        return str(executor if isinstance(executor, ExecutorSpec) else parse_executor(executor, workers))
    if _is_dask_client(executor):
        return f"dask {executor.scheduler.address}"
    return getattr(executor, "name", None) or type(executor).__name__


# ------------------------------------------------------------------ map
def _batches(weights: Sequence[int], backend: Backend, batch: int | None) -> list[range]:
    n = len(weights)
    if backend.in_process:
        return [range(i, i + 1) for i in range(n)]
    if batch:
        return [range(i, min(n, i + batch)) for i in range(0, n, batch)]
    target = max(1, sum(weights) // (backend.workers * 8))  # ~8 batches per worker: even finish
    out, start, acc = [], 0, 0
    for i, w in enumerate(weights):
        acc += w
        if acc >= target or i + 1 - start >= _MAX_BATCH:
            out.append(range(start, i + 1))
            start, acc = i + 1, 0
    if start < n:
        out.append(range(start, n))
    return out


class _Prepared:
    """Turn Data arguments into what the backend should carry: bytes, FileSlice or Shipped."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self.sources = _Sources()
        self.blobs: dict = {}  # (path) or id(bytes) -> scattered handle

    def _blob(self, key, make):
        if key not in self.blobs:
            self.blobs[key] = self.backend.scatter(make())
        return self.blobs[key]

    def batch(self, units: Sequence[tuple]) -> tuple[list, list]:
        handles: list = []
        slots: dict = {}
        items = []
        for args in units:
            items.append(tuple(self._arg(a, handles, slots) for a in args))
        return items, handles

    def _arg(self, a, handles, slots):
        if not isinstance(a, Data) or self.backend.in_process:
            return a.data if isinstance(a, Data) else a
        located = self.sources.on_disk(a)
        if not self.backend.ship:
            return FileSlice(a.path, a.offset, len(a.data), zlib.crc32(a.data)) if located else a.data
        if not self.backend.scatters:
            return a.data
        key, offset = (("file", a.path), a.offset) if located else (("bytes", id(a.data)), 0)
        if key not in slots:
            handle = self._blob(key, (lambda: self.sources.file_bytes(a.path)) if located else (lambda: a.data))
            slots[key] = len(handles)
            handles.append(handle)
        return Shipped(slots[key], offset, len(a.data))

    def close(self) -> None:
        self.sources.close()
        self.blobs.clear()


def _result(fut, labels: Sequence[str]) -> list:
    """A batch's results; a worker lost for good (a pool process killed, a task whose Dask
    workers kept dying) becomes one line naming the batch."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        return fut.result()
    except CompgenError:
        raise
    except Exception as exc:
        if not isinstance(exc, BrokenProcessPool) and not type(exc).__module__.startswith("distributed"):
            raise
        more = f" (and {len(labels) - 1} more units)" if len(labels) > 1 else ""
        raise CompgenError(f"{labels[0]}{more}: the worker running it was lost "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None


def map_units(backend: Backend, fn: Callable, units: Sequence[tuple], *, labels: Sequence[str],
              weights: Sequence[int] | None = None, batch: int | None = None, desc: str = "units",
              unit: str = "units", advance: Callable[[int], None] | None = None,
              on_result: Callable[[int, object], None] | None = None) -> list:
    """``[fn(*u) for u in units]`` on ``backend``, in input order.

    ``fn`` must be a top-level function (workers import it); any :class:`Data` argument
    arrives as bytes. The progress bar (or ``advance``) counts ``weights`` of finished
    units as they return; ``on_result(i, result)`` sees each result as it arrives (in
    completion order: icl appends it to its cache). On an error or Ctrl-C the queued
    and running units are cancelled before the exception propagates.
    """
    n = len(units)
    weights = list(weights) if weights is not None else [1] * n
    if len(labels) != n or len(weights) != n:
        raise ValueError("one label and one weight per unit")
    results: list = [None] * n
    if not n:
        return results
    if advance is None:
        from .progress import progress_bar

        with progress_bar(desc, sum(weights), unit=unit) as bar:
            return map_units(backend, fn, units, labels=labels, weights=weights, batch=batch,
                             advance=bar, on_result=on_result)
    batches = _batches(weights, backend, batch)
    if not backend.in_process:
        # largest first, so no big unit runs alone at the end (stable: equal batches keep their order)
        batches.sort(key=lambda idx: -sum(weights[i] for i in idx))
    todo = iter(batches)
    window = 1 if backend.in_process else max(4, 3 * backend.workers)
    prepared = _Prepared(backend)
    inflight: dict = {}
    try:
        while True:
            for idx in todo:
                items, handles = prepared.batch([units[i] for i in idx])
                inflight[backend.submit(run_batch, fn, items, [labels[i] for i in idx], *handles)] = idx
                if len(inflight) >= window:
                    break
            if not inflight:
                break
            for fut in backend.wait_any(inflight):
                idx = inflight.pop(fut)
                for i, res in zip(idx, _result(fut, [labels[i] for i in idx])):
                    results[i] = res
                    if on_result is not None:
                        on_result(i, res)
                advance(sum(weights[i] for i in idx))
    except BaseException:
        backend.cancel(list(inflight))
        raise
    finally:
        prepared.close()
    return results
