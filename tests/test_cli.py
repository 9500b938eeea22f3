"""The command line, gzip/xz style: file naming, -c/-o/-k/-f, stdin/stdout, exit codes,
and one-line errors that never leave a partial or wrong output behind."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

TEXT = b"It was the best of times, it was the worst of times.\n"
MODEL = "gzip:level=6"  # fast enough to code a few dozen bytes per test


def compress_file(cli, path: Path, *extra: str):
    return cli("compress", "-m", MODEL, *extra, str(path))


def test_compress_decompress_file(cli, workdir):
    src = workdir / "notes.txt"
    src.write_bytes(TEXT)
    os.chmod(src, 0o640)
    r = compress_file(cli, src)
    assert r.code == 0, r.err
    assert r.out == b"" and r.err == ""
    packed = workdir / "notes.txt.cg"
    assert packed.exists() and not src.exists()  # input removed, like gzip
    assert packed.stat().st_mode & 0o777 == 0o640  # permissions carried over
    r = cli("decompress", str(packed))
    assert r.code == 0, r.err
    assert src.read_bytes() == TEXT and not packed.exists()


def test_keep_stdout_and_output_options(cli, workdir):
    src = workdir / "a.txt"
    src.write_bytes(TEXT)
    assert compress_file(cli, src, "-k").code == 0
    assert src.exists() and (workdir / "a.txt.cg").exists()
    r = compress_file(cli, src, "-c")
    assert r.code == 0 and r.out.startswith(b"CGEN") and src.exists()
    assert r.out == (workdir / "a.txt.cg").read_bytes()  # deterministic
    assert compress_file(cli, src, "-o", "other.bin").code == 0
    assert src.exists() and (workdir / "other.bin").read_bytes() == r.out
    r = cli("decompress", "-c", "other.bin")
    assert r.code == 0 and r.out == TEXT and (workdir / "other.bin").exists()
    assert cli("decompress", "-o", "back.txt", "a.txt.cg", "-k").code == 0
    assert (workdir / "back.txt").read_bytes() == TEXT and (workdir / "a.txt.cg").exists()


def test_stdin_to_stdout(cli, workdir):
    r = cli("compress", "-m", MODEL, stdin=TEXT)
    assert r.code == 0 and r.out.startswith(b"CGEN")
    back = cli("decompress", stdin=r.out)
    assert back.code == 0 and back.out == TEXT
    dash = cli("compress", "-m", MODEL, "-", stdin=b"")
    assert dash.code == 0 and cli("decompress", "-", stdin=dash.out).out == b""


def test_refuses_existing_output_without_force(cli, workdir):
    src = workdir / "b.txt"
    src.write_bytes(TEXT)
    target = workdir / "b.txt.cg"
    target.write_bytes(b"precious")
    r = compress_file(cli, src)
    assert r.code == 1 and "already exists" in r.err and r.err.count("\n") == 1
    assert target.read_bytes() == b"precious" and src.exists()
    r = compress_file(cli, src, "-f")
    assert r.code == 0 and target.read_bytes().startswith(b"CGEN") and not src.exists()
    src.write_bytes(b"stale")
    r = cli("decompress", str(target))
    assert r.code == 1 and src.read_bytes() == b"stale" and target.exists()
    assert cli("decompress", "-f", str(target)).code == 0 and src.read_bytes() == TEXT


def test_corrupt_file_exit_3_one_line_no_output(cli, workdir):
    src = workdir / "c.txt"
    src.write_bytes(TEXT)
    assert compress_file(cli, src).code == 0
    packed = workdir / "c.txt.cg"
    blob = packed.read_bytes()
    for bad in (blob[:-7], blob[:20], blob + b"x", blob[:40] + bytes([blob[40] ^ 4]) + blob[41:], b"hello"):
        packed.write_bytes(bad)
        r = cli("decompress", str(packed))
        assert r.code == 3, (r.code, r.err)
        assert r.err.startswith("cgz: ") and r.err.count("\n") == 1 and "Traceback" not in r.err
        assert not src.exists() and packed.exists()
        assert [p.name for p in workdir.iterdir()] == ["c.txt.cg"]  # no temp or partial file left


def test_wrong_model_exit_3_names_the_model(cli, workdir):
    r = cli("compress", "-m", "gzip:level=9", stdin=TEXT)
    (workdir / "x.cg").write_bytes(r.out)
    r = cli("decompress", "-m", "gzip:level=6", "-c", "x.cg")
    assert r.code == 3 and "needs model gzip (" in r.err and r.out == b""


def test_user_errors_one_line(cli, workdir):
    r = cli("compress", "-m", "nosuch", "missing.txt")
    assert r.code == 2 and "unknown model" in r.err and r.err.count("\n") == 1
    r = cli("compress", "-m", MODEL, "missing.txt")
    assert r.code == 1 and "no such file" in r.err and r.err.count("\n") == 1
    r = cli("decompress", "missing.cg")
    assert r.code == 1 and "no such file" in r.err
    (workdir / "plain.txt").write_bytes(TEXT)
    r = cli("decompress", "plain.txt")
    assert r.code == 2 and "suffix" in r.err
    (workdir / "d.cg").write_bytes(b"x")
    r = cli("compress", "-m", MODEL, "d.cg")
    assert r.code == 2 and "suffix" in r.err
    r = cli("compress", "-m", MODEL, str(workdir))
    assert r.code == 1 and "directory" in r.err
    r = cli("compress", "--bogus-flag")
    assert r.code == 2 and r.err.count("\n") == 1
    r = cli("score", "-m", "gzip,nosuch", "plain.txt")
    assert r.code == 2 and "nosuch" in r.err


def test_models_lists_specs(cli):
    r = cli("models")
    assert r.code == 0
    text = r.out.decode()
    for name in ["gzip", "zlib", "deflate", "zstd", "brotli", "xz", "bz2", "ppmd", "smollm2", "hf", "gguf"]:
        assert name in text


def test_score_table_and_json(cli, workdir):
    data = TEXT * 20
    (workdir / "book.txt").write_bytes(data)
    r = cli("score", "-m", "gzip,zstd,brotli,xz,bz2,ppmd", "book.txt", "--json", "s.json")
    assert r.code == 0, r.err
    text = r.out.decode()
    assert "gzip:level=9" in text and "ppmd" in text and "bits/byte" in text
    rows = json.loads((workdir / "s.json").read_text())
    assert len(rows) == 6 and {r["file"] for r in rows} == {"book.txt"}
    gz = next(r for r in rows if r["model"] == "gzip:level=9")
    gzip_file = len(gzip.compress(data, 9))
    assert gz["native_bytes"] == gzip_file
    assert gz["bits_per_byte"] == pytest.approx(8 * (gzip_file - len(gzip.compress(b"", 9))) / len(data))
    r = cli("score", "-m", "zstd", stdin=data)
    assert r.code == 0 and "<stdin>" in r.out.decode()


# --------------------------------------------------- real processes (python -m compgen)
def run(*argv: str, stdin: bytes = b"", cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "compgen", *argv], input=stdin, capture_output=True,
                          cwd=cwd, env=env, timeout=120)


def test_subprocess_pipe_round_trip(tmp_path):
    packed = run("compress", "-m", MODEL, stdin=TEXT)
    assert packed.returncode == 0 and packed.stderr == b""
    back = run("decompress", stdin=packed.stdout)
    assert back.returncode == 0 and back.stdout == TEXT


def test_subprocess_errors_are_single_lines(tmp_path):
    packed = run("-q", "compress", "-m", MODEL, stdin=TEXT).stdout
    (tmp_path / "f.cg").write_bytes(packed[:-1])
    cases = [(("decompress", "f.cg"), 3), (("compress", "-m", "nope", "f"), 2), (("compress", "missing"), 1),
             (("decompress", "-q", "-c", "nothere.cg"), 1)]
    for argv, code in cases:
        r = run(*argv, cwd=tmp_path)
        err = r.stderr.decode()
        assert r.returncode == code, (argv, r.returncode, err)
        assert err.count("\n") == 1 and "Traceback" not in err and err.startswith("cgz: "), err
        assert r.stdout == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.cg"]
