"""PPMd sizes computed in recycled worker processes (bounded memory despite pyppmd's leak).

pyppmd 1.3.1 leaks ~7 KB per ``pyppmd.compress`` call and ~11-15 KB per encoder
object (measured: 2,000 calls add 14 MB that is never returned), and a PPMd model
makes 256 calls per scored byte. The calls therefore run in child processes that are
replaced once their resident memory passes :data:`RECYCLE_MB` (each reply carries the
worker's RSS), so no process grows past ~200 MB whatever the input size; with several workers PPMd (which holds the GIL) also scores
candidates in parallel. The sizes are exactly ``len(pyppmd.compress(ctx + c))``.

Run as a script this file is the worker: it imports only pyppmd, so it starts fast
and needs nothing of compgen on its path.
"""

from __future__ import annotations

import struct
import subprocess
import sys

RECYCLE_MB = 160
_REQ = struct.Struct("<cIII")  # variant, order, mem, number of candidates
_LEN = struct.Struct("<I")


def _read_exact(stream, n: int) -> bytes:
    buf = stream.read(n)
    if buf is None or len(buf) != n:
        raise EOFError
    return buf


def serve(stdin=None, stdout=None) -> None:
    """Worker loop: requests on stdin, sizes on stdout, until stdin closes."""
    import pyppmd

    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    while True:
        try:
            variant, order, mem, n = _REQ.unpack(_read_exact(stdin, _REQ.size))
            ctx = _read_exact(stdin, _LEN.unpack(_read_exact(stdin, 4))[0])
            cands = [_read_exact(stdin, _LEN.unpack(_read_exact(stdin, 4))[0]) for _ in range(n)]
        except EOFError:
            return
        v = variant.decode()
        sizes = [len(pyppmd.compress(ctx + c, max_order=order, mem_size=mem, variant=v)) for c in cands]
        try:
            with open("/proc/self/statm") as fh:
                rss_mb = int(fh.read().split()[1]) * 4096 >> 20
        except (OSError, ValueError, IndexError):  # no /proc: recycle by call count instead
            rss_mb = 0
        stdout.write(struct.pack(f"<{n + 1}I", *sizes, rss_mb))
        stdout.flush()


class _Worker:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-I", __file__], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        self.calls = 0
        self.rss_mb = 0

    def send(self, head: bytes, ctx: bytes, cands: list[bytes]) -> None:
        parts = [head, _LEN.pack(len(ctx)), ctx]
        for c in cands:
            parts += [_LEN.pack(len(c)), c]
        self.proc.stdin.write(b"".join(parts))
        self.proc.stdin.flush()
        self.calls += len(cands)

    def receive(self, n: int) -> list[int]:
        raw = self.proc.stdout.read(4 * n + 4)
        if raw is None or len(raw) != 4 * n + 4:
            raise OSError("PPMd worker process ended unexpectedly")
        *sizes, self.rss_mb = struct.unpack(f"<{n + 1}I", raw)
        return sizes

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


class PpmdWorkers:
    """``sizes(ctx, candidates)`` = PPMd output lengths, spread over ``processes`` recycled workers."""

    def __init__(self, order: int, mem: int, variant: str, processes: int = 1,
                 recycle_mb: int = RECYCLE_MB, recycle_calls: int = 1 << 15):
        self.head = (variant.encode(), int(order), int(mem))
        self.processes = max(1, int(processes))
        self.recycle_mb = int(recycle_mb)
        self.recycle_calls = int(recycle_calls)
        self.workers: list[_Worker] = []
        self.spawned = 0

    def _worker(self, i: int) -> _Worker:
        while len(self.workers) <= i:
            self.workers.append(self._spawn())
        w = self.workers[i]
        if w.rss_mb >= self.recycle_mb or w.calls >= self.recycle_calls or w.proc.poll() is not None:
            w.close()
            w = self.workers[i] = self._spawn()
        return w

    def _spawn(self) -> _Worker:
        self.spawned += 1
        return _Worker()

    def sizes(self, context: bytes, candidates: list[bytes]) -> list[int]:
        from ..errors import CompgenError

        n = len(candidates)
        k = min(self.processes, max(1, n // 8))  # a handful of candidates is not worth a second process
        chunks = [candidates[i * n // k:(i + 1) * n // k] for i in range(k)]
        try:
            used = []
            for i, chunk in enumerate(chunks):
                w = self._worker(i)
                w.send(_REQ.pack(*self.head, len(chunk)), context, chunk)
                used.append((w, len(chunk)))
            out: list[int] = []
            for w, m in used:
                out += w.receive(m)
            return out
        except OSError as exc:
            self.close()
            raise CompgenError(f"PPMd scoring failed: {exc}") from None

    def worker_pids(self) -> list[int]:
        return [w.proc.pid for w in self.workers]

    def close(self) -> None:
        for w in self.workers:
            w.close()
        self.workers = []

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


if __name__ == "__main__":
    serve()
