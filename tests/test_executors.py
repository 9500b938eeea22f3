"""compgen.executors: one seam for local, process-pool and Dask runs; same results everywhere.

The Dask tests share one LocalCluster (2 worker processes x 1 thread, loopback only);
each test is bounded by a faulthandler watchdog and the cluster is closed, its
processes gone, at the end of the module.
"""

from __future__ import annotations

import faulthandler
import json
import multiprocessing
import os
import random
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import compgen
from compgen.bench import BenchConfig, run
from compgen.errors import CompgenError, MissingDependencyError, UsageError
from compgen.executors import (Backend, Data, FileSlice, FuturesBackend, Shipped, _Prepared, map_units,
                               open_backend, parse_executor)
from compgen.icl.runner import Cache, run_jobs
from compgen.icl.tasks import make_items

TIMING = ("compress_s", "decompress_s", "load_s", "seconds", "em_seconds", "compress_Bps", "decompress_Bps")


def _text(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    words = "the of and a to in is you that it he was for on are as with his they at be this".split()
    return " ".join(rng.choice(words) for _ in range(n // 3)).encode()[:n]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    for i in range(3):
        (d / f"t{i}.txt").write_bytes(_text(24_000, i))
    (d / "noise.bin").write_bytes(random.Random(9).randbytes(6_000))
    return d


@pytest.fixture(autouse=True)
def watchdog():
    """No test here may hang the suite: dump the stacks and exit after 120 s."""
    faulthandler.dump_traceback_later(120, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def strip(obj):
    """Drop timings: what remains must be identical across executors."""
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items() if k not in TIMING}
    if isinstance(obj, list):
        return [strip(v) for v in obj]
    return obj


# ------------------------------------------------------------------ without a cluster
def test_parse_executor():
    assert parse_executor(None).kind == "local"
    assert parse_executor(None, workers=3) == parse_executor("process", 3)
    assert parse_executor("dask").address is None
    assert parse_executor("dask://sched:8786").address == "tcp://sched:8786"
    assert parse_executor("dask://tls://sched:8786").address == "tls://sched:8786"
    for bad in ("ray", "dask://", "dask:sched"):
        with pytest.raises(UsageError):
            parse_executor(bad)
    with pytest.raises(UsageError):
        parse_executor("process", 0)


def test_without_dask_executor_dask_says_how_to_install(monkeypatch, cli, data_dir, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now fails
    with pytest.raises(MissingDependencyError, match=r"pip install 'compgen\[cluster\]'"):
        with open_backend("dask"):
            pass
    res = cli("bench", "-m", "gzip", "--data", data_dir, "--mode", "whole", "--no-plots", "--no-cli-check",
              "--executor", "dask", "-o", tmp_path / "o")
    assert res.code == 4 and len(res.err.strip().splitlines()) == 1 and "pip install" in res.err
    res = cli("bench", "-m", "gzip", "--data", data_dir, "--mode", "whole", "--no-plots", "--no-cli-check",
              "--executor", "local", "-o", tmp_path / "o")
    assert res.code == 0 and (tmp_path / "o" / "bench.json").exists()


def test_data_goes_by_reference_checked_or_as_bytes(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"0123456789" * 10)
    on_disk, altered, unknown = Data(b"3456", str(f), 3), Data(b"xxxx", str(f), 3), Data(b"abc")
    pool = FuturesBackend(ThreadPoolExecutor(2), 2)
    items, handles = _Prepared(pool).batch([(on_disk, altered, unknown)])
    ref, a, b = items[0]
    assert ref == FileSlice(str(f), 3, 4, ref.crc) and ref.read() == b"3456"
    assert (a, b, handles) == (b"xxxx", b"abc", [])  # not what the file holds / no file: sent as bytes

    class Scattering(Backend):  # what Dask does with --ship-data: one blob per file
        in_process, scatters, ship, workers = False, True, True, 2

    items, handles = _Prepared(Scattering()).batch([(on_disk,), (Data(b"78", str(f), 7),), (unknown,)])
    assert [i[0] for i in items] == [Shipped(0, 3, 4), Shipped(0, 7, 2), Shipped(1, 0, 3)]
    assert handles == [f.read_bytes(), b"abc"]
    f.write_bytes(b"changed!" * 10)  # a worker whose file differs refuses instead of measuring other bytes
    with pytest.raises(CompgenError, match="differ"):
        ref.read()


def test_map_units_keeps_order_and_counts_every_unit_once(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(bytes(range(256)) * 40)
    units = [(Data(f.read_bytes()[i:i + 100], str(f), i), i) for i in range(0, 10_000, 100)]
    seen, advanced = [], []
    with open_backend(ThreadPoolExecutor(3)) as backend:
        out = map_units(backend, _first_byte_plus, units, labels=[str(i) for _, i in units],
                        weights=[len(d.data) for d, _ in units], advance=advanced.append,
                        on_result=lambda i, r: seen.append(i))
    assert out == [(i % 256) + i for _, i in units]
    assert sorted(seen) == list(range(len(units))) and sum(advanced) == 10_000


def test_ctrl_c_while_workers_start_is_delivered_not_lost():
    """Worker start-up holds SIGINT back (workers inherit that); one arriving meanwhile
    still interrupts the run as soon as start-up is over."""
    from compgen.executors import _sigint_deferred

    with pytest.raises(KeyboardInterrupt):
        with _sigint_deferred():
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # to this thread, as a tty's Ctrl-C with no other thread
            time.sleep(0.05)  # pending in here
            reached = True
    assert reached


def _first_byte_plus(data: bytes, i: int) -> int:
    return data[0] + i


def test_process_pool_bench_equals_local(data_dir):
    cfg = BenchConfig(specs=["gzip", "bz2"], data=[str(data_dir)], chunk=4096, max_bytes=40_000)
    assert strip(run(cfg)["units"]) == strip(run(cfg, executor="process")["units"])


def test_ctrl_c_exits_cleanly_and_stops_workers(tmp_path):
    """A real SIGINT to the process group of `cgz bench --executor process`."""
    import subprocess

    d = tmp_path / "d"
    d.mkdir()
    (d / "big.txt").write_bytes(_text(4_000_000, 5))  # long enough that a slow start cannot finish first
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-m", "compgen", "bench", "-m", "xz,brotli", "--data", str(d),
                             "--chunk", "1024", "--executor", "process", "--workers", "2", "--no-plots",
                             "-o", str(tmp_path / "o")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:  # the pool is up: inside the run
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.decode().strip() == "cgz: interrupted"
    assert not (tmp_path / "o" / "bench.json").exists()
    deadline = time.monotonic() + 20
    while _running(pgid=proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(pgid=proc.pid), "worker processes outlived the interrupted run"


def _processes(**want) -> list[int]:
    """Live (not zombie) processes whose ppid / pgid is as given, from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            state, ppid, pgid = fields[0], int(fields[1]), int(fields[2])
            if state != "Z" and all({"ppid": ppid, "pgid": pgid}[k] == v for k, v in want.items()):
                out.append(int(entry))
    return out


def _children(pid: int) -> list[int]:
    return _processes(ppid=pid)


def _running(pgid: int) -> list[int]:
    return _processes(pgid=pgid)


# ------------------------------------------------------------------ on a LocalCluster
@pytest.fixture(scope="module")
def client():
    pytest.importorskip("distributed")
    from compgen.executors import local_cluster

    faulthandler.dump_traceback_later(120, exit=True)
    cluster, client = local_cluster(2, dashboard=False)
    client.wait_for_workers(2, timeout=60)
    faulthandler.cancel_dump_traceback_later()
    assert all(addr.startswith("tcp://127.0.0.1:") for addr in client.nthreads())
    yield client
    client.close()
    cluster.close(timeout=30)
    deadline = time.monotonic() + 20
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not multiprocessing.active_children(), "the cluster left processes behind"


def test_dask_bench_equals_local_with_references_and_shipped_data(client, data_dir):
    cfg = BenchConfig(specs=["gzip", "zstd", "ppmd"], data=[str(data_dir)], chunk=2048, verify=True)
    local = run(cfg)
    dask = run(cfg, executor=client)
    assert strip(dask["units"]) == strip(local["units"]) and strip(dask["summary"]) == strip(local["summary"])
    cfg.ship_data = True
    assert strip(run(cfg, executor=client)["units"]) == strip(local["units"])


def test_dask_icl_equals_local_and_the_cache_resumes_across_executors(client, tmp_path):
    items = make_items(["induction", "reverse", "copy"], [0, 2], 1, 4)
    models = [compgen.load("gzip"), compgen.load("zstd")]
    local = run_jobs(models, items, Cache(None))
    path = tmp_path / "cache.jsonl"
    half = run_jobs(models, items[: len(items) // 2], Cache(path))  # interrupted local run
    rest = run_jobs(models, items, Cache(path), executor=client)  # resumed on the cluster
    assert strip(rest) == strip(local) and strip(half) == strip({k: local[k] for k in half})
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(lines) == len(models) * len(items) == len({(x["m"], x["k"]) for x in lines})  # none twice


def test_dask_score_equals_local(client, data_dir, cli, tmp_path):
    outs = []
    for ex in ("local", f"dask://{client.scheduler.address.removeprefix('tcp://')}"):
        res = cli("score", "-m", "gzip,bz2", "--executor", ex, "--json", tmp_path / "s.json", data_dir)
        assert res.code == 0, res.err
        outs.append(strip(json.loads((tmp_path / "s.json").read_text())))
    assert outs[0] == outs[1] and len(outs[0]) == 2 * 4


def test_killed_worker_loses_and_duplicates_nothing(client, data_dir):
    cfg = BenchConfig(specs=["xz", "brotli", "ppmd"], data=[str(data_dir)], chunk=1024)
    expected = strip(run(cfg)["units"])
    pids = client.run(os.getpid)
    done, killed = threading.Event(), []

    def kill_a_busy_worker():
        while not done.is_set():
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:
                time.sleep(0.3)  # let it get into a batch
                if not done.is_set():
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    killed.append(pids[busy[0]])
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_a_busy_worker, daemon=True)
    watcher.start()
    try:
        got = run(cfg, executor=client)
    finally:
        done.set()
        watcher.join(10)
    assert killed, "the run finished before a worker could be killed"
    assert strip(got["units"]) == expected  # every unit once, in order, same sizes
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed one
    assert killed[0] not in client.run(os.getpid).values()


def _hide_pyppmd():
    import compgen.executors as ex

    sys.modules["pyppmd"] = None
    sys.modules.pop("compgen.compressors.ppmd", None)
    ex._MODELS.clear()


def _restore_pyppmd():
    import compgen.executors as ex

    sys.modules.pop("pyppmd", None)
    ex._MODELS.clear()


def test_worker_without_a_dependency_names_the_unit_and_the_package(client, data_dir):
    client.run(_hide_pyppmd)
    try:
        cfg = BenchConfig(specs=["ppmd"], data=[str(data_dir)], modes=("whole",))
        with pytest.raises(CompgenError, match=r"ppmd on \S+@0: MissingDependencyError: .*pyppmd is missing"):
            run(cfg, executor=client)
        items = make_items(["copy"], [0], 1, 2)
        with pytest.raises(MissingDependencyError, match=r"ppmd.* on copy .*on worker tcp://.*pyppmd is missing"):
            run_jobs([compgen.load("ppmd")], items, Cache(None), executor=client)
    finally:
        client.run(_restore_pyppmd)


def test_ctrl_c_cancels_the_futures(client):
    from compgen.executors import DaskBackend

    def ctrl_c(i, result):  # the first result arrives, then the user presses Ctrl-C
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        map_units(DaskBackend(client), time.sleep, [(0.25,)] * 40, labels=["nap"] * 40, batch=1,
                  advance=lambda n: None, on_result=ctrl_c)

    def scheduler_tasks():  # queued or running (the finished one stays while the traceback holds it)
        return client.run_on_scheduler(lambda dask_scheduler: sum(
            ts.state in ("released", "waiting", "queued", "no-worker", "processing")
            for ts in dask_scheduler.tasks.values()))

    deadline = time.monotonic() + 20
    while scheduler_tasks() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert scheduler_tasks() == 0, "queued or running units were not cancelled"


def test_cli_local_cluster_prints_its_dashboard_and_matches_local(cli, data_dir, tmp_path):
    pytest.importorskip("distributed")
    outs = []
    for ex in ("local", "dask"):
        res = cli("bench", "-m", "gzip,bz2", "--data", data_dir, "--chunk", "4096", "--no-plots", "--no-cli-check",
                  "--executor", ex, "--workers", "1", "-o", tmp_path / ex)
        assert res.code == 0, res.err
        outs.append(strip(json.loads((tmp_path / ex / "bench.json").read_text())["units"]))
    assert "local Dask cluster: 1 worker x 1 thread; dashboard http://127.0.0.1:" in res.err
    assert outs[0] == outs[1]


def test_media_bench_equals_local_on_process_and_dask(client, data_dir, tmp_path):
    """image: pieces are decoded samples, not byte ranges of their file: only the text file
    is sent by reference, the patches travel as bytes (or scattered with --ship-data), and
    every executor gives the local figures."""
    np = pytest.importorskip("numpy")
    Image = pytest.importorskip("PIL.Image")
    from compgen.data import file_sources

    images = tmp_path / "images"
    images.mkdir()
    y, x = np.mgrid[0:96, 0:160]
    rgb = np.stack([(x * 2) % 256, (y * 3) % 256, (x + y) % 256], axis=2)
    rgb = np.clip(rgb + np.random.default_rng(0).integers(-3, 4, rgb.shape), 0, 255).astype(np.uint8)
    Image.fromarray(rgb).save(images / "p.png")
    text = str(data_dir / "t0.txt")
    specs = [f"image:{images}", f"text:{text}"]
    assert file_sources(specs) == {"t0.txt": (os.path.abspath(text), 0)}  # no reference for the picture
    cfg = BenchConfig(specs=["gzip", "png"], data=specs, chunk=2048, verify=True)
    local = run(cfg)
    assert {r["modality"] for r in local["summary"]} == {"image", "text"}
    assert any(r["spec"] == "png" and r["modality"] == "image" for r in local["units"])
    for executor, ship in (("process", False), (client, False), (client, True)):
        cfg.ship_data = ship
        got = run(cfg, executor=executor)
        assert strip(got["units"]) == strip(local["units"]), (executor, ship)
        assert strip(got["summary"]) == strip(local["summary"])
