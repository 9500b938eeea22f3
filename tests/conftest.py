"""Shared fixtures: an in-process CLI runner and small deterministic inputs.

Nothing here needs ../shared; tests that want the corpora skip when it is absent.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# Two xdist workers share the cores: torch's OpenMP threads must not spin (compgen/lm/openmp.py).
os.environ.setdefault("COMPGEN_OMP_SPIN", "0")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@dataclass
class CliResult:
    code: int
    out: bytes
    err: str


class _Stdin:
    """Stands in for sys.stdin: a binary ``buffer`` and a tty answer."""

    def __init__(self, data: bytes):
        self.buffer = io.BytesIO(data)
        self.closed = False

    def isatty(self) -> bool:
        return False


@pytest.fixture
def cli(monkeypatch, capsysbinary):
    """Run ``compgen.cli.main(argv)`` in-process with given stdin bytes; returns CliResult."""
    from compgen.cli import main

    def run(*argv: str, stdin: bytes = b"") -> CliResult:
        monkeypatch.setattr(sys, "stdin", _Stdin(stdin))
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse errors
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsysbinary.readouterr()
        return CliResult(code, captured.out, captured.err.decode(errors="replace"))

    return run


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A temporary current directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def shared_file(relative: str) -> Path:
    """A file from ../shared/data, or skip the test when the corpora are not there."""
    path = SHARED / "data" / relative
    if not path.exists():
        pytest.skip(f"needs {path}")
    return path


def load_benchmark(name: str):
    """A script from benchmarks/ as a module, loaded once per session (tests reuse its helpers)."""
    import importlib.util

    key = f"compgen_benchmark_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]
