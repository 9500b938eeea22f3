"""Compare codec outputs with the command-line tools on the same bytes.

The codecs are measured by their library output; this checks that those sizes are
what ``gzip -9 -c``, ``xz -6 -c``, ``zstd -19 -c`` and ``bzip2 -9 -c`` would write
(the ``brotli`` CLI is checked too when installed).
"""

from __future__ import annotations

import shutil
import subprocess


def cli_command(model) -> list[str] | None:
    """argv of the CLI that writes the same format as ``model`` (None: no CLI equivalent)."""
    name = model.name
    level = getattr(model, "level", None)
    if name == "gzip":
        return ["gzip", f"-{level}", "-c", "-n"]
    if name == "xz":
        return ["xz", f"-{level}{'e' if getattr(model, 'extreme', False) else ''}", "-c", "-T1", "--check=crc64"]
    if name == "zstd":
        return ["zstd", f"-{level}", "-c", "-q", "--no-check"] + (["--ultra"] if level > 19 else [])
    if name == "bz2":
        return ["bzip2", f"-{level}", "-c"]
    if name == "brotli":
        return ["brotli", "-q", str(level), f"--lgwin={model.lgwin}", "-c"]
    return None


def cli_size(argv: list[str], data: bytes, timeout: float = 600) -> int | None:
    """Bytes the CLI writes for ``data`` on stdin (None when the tool is missing or fails)."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        proc = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return len(proc.stdout) if proc.returncode == 0 else None


def compare(specs: list[str], pieces, tolerance: float = 0.01) -> list[dict]:
    """Library vs CLI size for each codec spec with a CLI, on each piece (whole files)."""
    from ..registry import load
    from .unit import is_codec_spec

    rows = []
    for spec in specs:
        if not is_codec_spec(spec):
            continue
        model = load(spec)
        argv = cli_command(model)
        for piece in pieces:
            lib = len(model.compress(piece.data))
            cli = cli_size(argv, piece.data) if argv else None
            row = {"spec": model.spec, "file": piece.file, "input_bytes": len(piece.data), "library_bytes": lib,
                   "cli": " ".join(argv) if argv else None, "cli_bytes": cli}
            if cli is None:
                row.update(status="no CLI" if not argv or shutil.which(argv[0]) is None else "CLI failed",
                           rel_diff=None)
            else:
                rel = (lib - cli) / cli
                row.update(rel_diff=rel, status="ok" if abs(rel) <= tolerance else "MISMATCH")
            rows.append(row)
    return rows
