"""Every missing/unreadable path combination with -f/-k/-c/-o: one line, a documented code, no traceback.

The input is checked before the output, so a missing input is what gets reported even
when the output already exists; nothing is created or removed on any refusal.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

TEXT = b"a small file to compress\n"
MODEL = "gzip:level=6"
FLAG_SETS = [(), ("-f",), ("-k",), ("-c",), ("-f", "-k"), ("-f", "-c"), ("-o", "OUT"), ("-f", "-o", "OUT"),
             ("-k", "-o", "OUT"), ("-o", "nodir/OUT")]


def make_input(kind: str, workdir: Path, name: str) -> str:
    """A bad input of the given kind; returns the path to pass."""
    path = workdir / name
    if kind == "missing":
        pass
    elif kind == "directory":
        path.mkdir()
    elif kind == "broken-link":
        path.symlink_to(workdir / "nowhere")
    elif kind == "under-a-file":
        (workdir / "plain").write_bytes(b"x")
        return str(workdir / "plain" / name)
    elif kind == "unreadable":
        path.write_bytes(TEXT)
        path.chmod(0)
    return str(path)


KINDS = ["missing", "directory", "broken-link", "under-a-file"] + ([] if os.geteuid() == 0 else ["unreadable"])


@pytest.mark.parametrize("command", ["compress", "decompress"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("output_exists", [False, True])
def test_bad_input_every_flag_combination(cli, workdir, command, kind, output_exists):
    name = "a.txt" if command == "compress" else "a.txt.cg"
    default_out = "a.txt.cg" if command == "compress" else "a.txt"
    for flags in FLAG_SETS:
        for p in list(workdir.iterdir()):  # a fresh directory per combination
            if p.is_dir() and not p.is_symlink():
                for q in p.iterdir():
                    q.unlink()
                p.rmdir()
            else:
                p.chmod(0o644) if not p.is_symlink() else None
                p.unlink()
        src = make_input(kind, workdir, name)
        if output_exists:
            (workdir / default_out).write_bytes(b"keep me")
            (workdir / "OUT").write_bytes(b"keep me")
        before = sorted(p.name for p in workdir.iterdir())
        argv = [command] + (["-m", MODEL] if command == "compress" else [])
        argv += [str(workdir / f) if f in ("OUT", "nodir/OUT") else f for f in flags] + [src]
        r = cli(*argv)
        assert r.code == 1, (argv, r.code, r.err)
        assert r.err.count("\n") == 1 and r.err.startswith("cgz: ") and "Traceback" not in r.err, (argv, r.err)
        assert src in r.err, (argv, r.err)  # the input is what is reported, not the output
        assert r.out == b""
        assert sorted(p.name for p in workdir.iterdir()) == before, argv
        if output_exists:
            assert (workdir / default_out).read_bytes() == b"keep me"


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_good_input_bad_output(cli, workdir, command):
    src = workdir / "a.txt"
    src.write_bytes(TEXT)
    if command == "decompress":
        assert cli("compress", "-m", MODEL, str(src)).code == 0
        src = workdir / "a.txt.cg"
    target = workdir / ("a.txt.cg" if command == "compress" else "a.txt")
    cases = [
        (["-o", str(workdir / "nodir" / "x")], 1, "no such directory"),
        (["-o", str(workdir)], 1, "is a directory"),
        (["-o", str(src), "-f"], 1, "overwrite the input"),
    ]
    target.write_bytes(b"keep me")
    cases.append(([], 1, "already exists"))
    for flags, code, words in cases:
        argv = [command] + (["-m", MODEL] if command == "compress" else []) + flags + [str(src)]
        r = cli(*argv)
        assert r.code == code and words in r.err and r.err.count("\n") == 1, (argv, r.code, r.err)
        assert src.exists() and target.read_bytes() == b"keep me"


def test_missing_input_with_existing_output_names_the_input(cli, workdir):
    (workdir / "a.txt.cg").write_bytes(b"old")
    r = cli("compress", "-m", MODEL, str(workdir / "a.txt"))
    assert r.code == 1 and "a.txt: no such file" in r.err and "already exists" not in r.err
    (workdir / "a.txt").write_bytes(b"old")
    (workdir / "a.txt.cg").unlink()
    r = cli("decompress", "-f", str(workdir / "a.txt.cg"))
    assert r.code == 1 and "a.txt.cg: no such file" in r.err
    assert (workdir / "a.txt").read_bytes() == b"old"


def test_flag_sets_cover_every_combination_of_the_four_options():
    # the enumeration above includes each of -f, -k, -c, -o alone and in the pairs that make sense
    seen = {f for flags in FLAG_SETS for f in flags if f.startswith("-")}
    assert seen == {"-f", "-k", "-c", "-o"}
    assert len(list(itertools.product(KINDS, [False, True], FLAG_SETS))) >= 80
