"""The installed command is reachable by its name from the shells people type it in.

`compgen` itself is a bash builtin (and a zsh function once bashcompinit loads), so the
program is installed as `cgz`; these tests run it the way a user would, through each shell
that is installed here, and check that compgen's own --version answers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import compgen

BIN = Path(sys.executable).parent
EXPECTED = f"cgz (compgen) {compgen.__version__}"

SHELLS = {
    "bash -c": ["bash", "-c"],
    "bash -i -c": ["bash", "-i", "-c"],
    "zsh -c (bashcompinit)": ["zsh", "-f", "-c", "autoload -U +X bashcompinit && bashcompinit; "],
    "fish -c": ["fish", "--no-config", "-c"],
    "dash -c": ["dash", "-c"],
    "sh -c": ["sh", "-c"],
}


def _installed_script() -> Path:
    script = BIN / "cgz"
    if not script.exists():
        pytest.skip("the package is not installed as a script here (run `make setup`)")
    return script


def _run_in(shell: list[str], command: str) -> subprocess.CompletedProcess:
    argv = shell[:-1] + [shell[-1] + command] if shell[-1].endswith("; ") else shell + [command]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=env)


@pytest.mark.parametrize("label", list(SHELLS))
def test_the_command_name_reaches_compgen_in_every_installed_shell(label):
    _installed_script()
    shell = SHELLS[label]
    if shutil.which(shell[0]) is None:
        pytest.skip(f"{shell[0]} is not installed")
    r = _run_in(shell, "cgz --version")
    assert r.returncode == 0, (label, r.stderr)
    assert r.stdout.strip().splitlines()[-1] == EXPECTED, (label, r.stdout, r.stderr)


def test_the_old_name_is_not_installed_because_bash_would_shadow_it():
    script_dir = _installed_script().parent
    assert not (script_dir / "compgen").exists(), "a `compgen` script would be unreachable from bash"
    if shutil.which("bash"):
        r = _run_in(SHELLS["bash -c"], "type -t compgen")
        assert r.stdout.strip() == "builtin"  # the reason for the new name


def test_python_dash_m_keeps_working():
    r = subprocess.run([sys.executable, "-m", "compgen", "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == EXPECTED
