"""Hostile LM-coder containers are refused with bounded work, and the pre-decode bounds
fire before the model runs (model steps are counted, not timed)."""

from __future__ import annotations

import pytest
from conftest import load_benchmark

pytest.importorskip("torch")
pytest.importorskip("transformers")

from compgen.coding import container  # noqa: E402
from compgen.errors import RefusedError  # noqa: E402
from compgen.lm import coder as lm_coder  # noqa: E402
from compgen.model import as_compressor  # noqa: E402

fuzz = load_benchmark("fuzz")


@pytest.fixture(scope="module")
def lm_file(tmp_path_factory):
    lm = fuzz.tiny_lm(str(tmp_path_factory.mktemp("tiny-lm")))
    text = fuzz.lm_texts()["lm"]
    blob = as_compressor(lm, store=False).compress(text)
    return lm, text, blob


@pytest.fixture
def steps(monkeypatch):
    """Counts every model call (prime or step) the LM coder makes."""
    count = {"n": 0}
    real = lm_coder.make_stepper

    def counting(*args, **kw):
        stepper = real(*args, **kw)
        for name in ("prime", "step"):
            fn = getattr(stepper, name)

            def wrapped(ids, _fn=fn):
                count["n"] += 1
                return _fn(ids)
            setattr(stepper, name, wrapped)
        return stepper

    monkeypatch.setattr(lm_coder, "make_stepper", counting)
    return count


def _edited(blob: bytes, payload: bytes | None = None, **fields) -> bytes:
    header, old = container.unpack(blob)
    for key, value in fields.items():
        if key in ("length", "crc32"):
            setattr(header, key, value)
        else:
            header.coder[key] = value
    return container.pack(header, old if payload is None else payload)  # pack re-seals the file CRC


def test_valid_file_decodes_with_one_step_per_token(lm_file, steps):
    lm, text, blob = lm_file
    assert container.decompress(blob, model=lm) == text
    n_tokens = container.read_header(blob).coder["tokens"]
    assert n_tokens <= steps["n"] <= n_tokens + 1 + n_tokens // 8  # one per token, plus re-primes


@pytest.mark.parametrize("fields", [
    {"length": 10 ** 12},  # huge length, CRC re-sealed
    {"tokens": 1 << 39},
    {"tokens": 5},  # fewer tokens than bytes of a byte LM
])
def test_impossible_plans_are_refused_before_the_model_runs(lm_file, steps, fields):
    lm, _, blob = lm_file
    with pytest.raises(RefusedError, match="cannot hold|inconsistent segment plan"):
        container.decompress(_edited(blob, **fields), model=lm)
    assert steps["n"] == 0


def test_huge_consistent_plan_stops_where_the_payload_runs_dry(lm_file, steps):
    """Length and token count agree with each other, not with a ~300-byte payload: the
    pre-decode bound (constriction's 2^-24 quantum: ~2e-5 bits a token at least) is too
    loose to see it, so the running-cost check stops it just past the payload's end."""
    lm, _, blob = lm_file
    n_tokens = container.read_header(blob).coder["tokens"]
    with pytest.raises(RefusedError, match="past its size"):
        container.decompress(_edited(blob, length=10 ** 6, tokens=10 ** 6), model=lm)
    assert steps["n"] <= n_tokens + 64


def test_flipped_payload_is_refused_within_the_files_own_work(lm_file, steps):
    lm, _, blob = lm_file
    header, payload = container.unpack(blob)
    bad = bytearray(payload)
    bad[len(bad) // 3] ^= 0x10
    with pytest.raises(RefusedError):
        container.decompress(_edited(blob, payload=bytes(bad)), model=lm)
    assert 0 < steps["n"] <= header.coder["tokens"] + 1 + header.coder["tokens"] // 8


def test_running_cost_refuses_a_payload_cut_in_half(lm_file, steps):
    """Half the words, the rest of the header intact: the decoder runs dry and refuses once
    what it decodes costs more than its state can hold, long before the token count."""
    lm, _, blob = lm_file
    header, payload = container.unpack(blob)
    half = payload[: (len(payload) // 2) & ~3]
    with pytest.raises(RefusedError, match="past its size"):
        container.decompress(_edited(blob, payload=half), model=lm)
    assert steps["n"] < 0.75 * header.coder["tokens"]


def test_changed_crc_costs_one_decode_and_no_more(lm_file, steps):
    """The one refusal no check can bring forward: every prefix decodes correctly."""
    lm, _, blob = lm_file
    header = container.read_header(blob)
    with pytest.raises(RefusedError, match="checksum"):
        container.decompress(_edited(blob, crc32=(header.crc32 + 1) & 0xFFFFFFFF), model=lm)
    assert steps["n"] <= header.coder["tokens"] + 1 + header.coder["tokens"] // 8
