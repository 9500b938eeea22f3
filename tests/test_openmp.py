"""The OpenMP wait policy chosen before torch loads (compgen/lm/openmp.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from compgen.lm.openmp import SPIN_COUNT, _take_spin_lock, choose_wait_policy, cpu_idle_share


def test_spins_only_when_idle_and_the_lock_is_free():
    def decide(env, share, locked=True):
        return choose_wait_policy(env, idle_share=lambda: share, lock=lambda folder: locked)

    env: dict = {}
    assert decide(env, 0.99) == "spin" and env == {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": SPIN_COUNT}
    env = {}
    assert decide(env, 0.40) == "passive" and env == {"OMP_WAIT_POLICY": "PASSIVE"}  # someone else is busy
    env = {}
    assert decide(env, 0.99, locked=False) == "passive" and "GOMP_SPINCOUNT" not in env  # another compgen spins
    env = {}
    assert decide(env, None) == "passive"  # no /proc/stat: the safe choice
    env = {"COMPGEN_OMP_SPIN": "0"}
    assert decide(env, 0.99) == "passive" and "GOMP_SPINCOUNT" not in env
    env = {"COMPGEN_OMP_SPIN": "1"}
    assert decide(env, 0.10, locked=False) == "spin" and env["GOMP_SPINCOUNT"] == SPIN_COUNT
    for user in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "5"}):
        env = dict(user)
        assert decide(env, 0.99) == "user" and env == user  # the user's own setting stays


def test_idle_share_is_a_share():
    share = cpu_idle_share(0.02)
    assert share is None or 0.0 <= share <= 1.0


def test_one_process_holds_the_spin_lock(tmp_path):
    assert _take_spin_lock(str(tmp_path))
    code = ("import sys; from compgen.lm.openmp import _take_spin_lock; "
            f"sys.exit(0 if not _take_spin_lock({str(tmp_path)!r}) else 1)")
    done = subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(os.path.dirname(__file__)))
    assert done.returncode == 0  # a second process finds it taken

