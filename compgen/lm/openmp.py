"""How torch's OpenMP worker threads wait between parallel regions (set before torch loads).

A lockstep coding step of SmolLM2 runs ~300 parallel regions (products, attention,
softmax). Between two regions the second thread either spins or sleeps on a futex. On
these VMs waking a sleeping vCPU costs ~0.1-0.2 ms, so sleeping at once
(``OMP_WAIT_POLICY=PASSIVE``) made an idle machine's 32-stream step 76-90 ms where
spinning for ~0.1 ms first (``GOMP_SPINCOUNT=10000``) took 62-67 ms (benchmarks/lm_wait.py;
ad-hoc runs earlier: 107-116 against 57-71 ms); the real coder
compressed 128 KiB in 80 s instead of 105 s, byte-identical output (the wait changes no
float). But a spinning thread steals its core from anyone else: beside one busy process
the same step took 250-300 ms spinning against 94-98 ms passive.

So the choice is made once, before torch loads: spin briefly only when the CPUs are idle
right now and no other compgen process holds the spin lock (a flock in the cache dir,
held until exit), else sleep at once. ``COMPGEN_OMP_SPIN=1`` / ``0`` forces either; an
``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` already in the environment is left alone.
Measurements: docs/lm.md ("Why real steps were slower than the microbenchmark").
"""

from __future__ import annotations

import os
import time

SPIN_COUNT = "10000"  # ~0.1 ms of spinning before a worker sleeps
IDLE_SHARE = 0.85  # of all CPUs, over the sample, to count as idle
_LOCK = None  # the open lock file of the process that spins (kept until exit)


def cpu_idle_share(seconds: float = 0.1) -> float | None:
    """Share of all CPUs' time spent idle over ``seconds`` (None where /proc/stat is missing).
    The caller sleeps meanwhile, so its own thread does not count as busy."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        return fields[3] + (fields[4] if len(fields) > 4 else 0), sum(fields)

    try:
        idle0, total0 = sample()
        time.sleep(seconds)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return (idle1 - idle0) / max(1, total1 - total0)


def _take_spin_lock(folder: str) -> bool:
    global _LOCK
    try:
        import fcntl

        os.makedirs(folder, exist_ok=True)
        f = open(os.path.join(folder, "openmp-spin.lock"), "w")
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (OSError, ImportError):
        return False
    _LOCK = f
    return True


def choose_wait_policy(env=os.environ, idle_share=cpu_idle_share, lock=_take_spin_lock, folder: str = "") -> str:
    """Set the OpenMP wait variables in ``env`` (unless the user set them); returns "spin",
    "passive" or "user". Only effective before torch is imported."""
    if "OMP_WAIT_POLICY" in env or "GOMP_SPINCOUNT" in env:
        return "user"
    force = env.get("COMPGEN_OMP_SPIN", "auto").strip().lower()
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    if force in ("0", "no", "off", "false"):
        return "passive"
    if force not in ("1", "yes", "on", "true"):
        share = idle_share()
        if share is None or share < IDLE_SHARE or not lock(folder):
            return "passive"
    env["GOMP_SPINCOUNT"] = SPIN_COUNT
    return "spin"
