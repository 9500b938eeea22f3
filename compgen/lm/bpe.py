"""Byte-level BPE tokenizers for token LMs trained here (tokenization is compression too).

:func:`train_tokenizer` learns a BPE vocabulary with the ``tokenizers`` library on a
training split. The alphabet is GPT-2's byte-level one: every one of the 256 byte values
is a token of its own, so any byte string has a tokenization (the byte fallback), and
merges only ever shorten it. Invalid UTF-8 never reaches the BPE model: encoding goes
through :class:`compgen.lm.token_codec.TokenCodec`, which tokenises valid UTF-8 runs,
codes every other byte as its single-byte token and verifies the result against an
id -> bytes table. Decoding is table look-up, so ``decode(encode(x)) == x`` for every ``x``.

A tokenizer is a directory holding ``tokenizer.json`` (the ``tokenizers`` format),
``tokenizer_config.json`` (so transformers' ``AutoTokenizer`` reads it too, e.g. ``hf:DIR``)
and ``compgen-tokenizer.json`` (vocabulary size, special tokens, what it was trained on).
A token LM written by ``cgz train --tokenizer bpe4k`` carries these files in its model
directory, and :func:`load_tokenizer` reads either kind of directory.

Training is deterministic: the same bytes and vocabulary size give the same file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from ..errors import CompgenError, MissingDependencyError, UsageError

BOS_TOKEN = "<|bos|>"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "compgen-tokenizer.json"
HF_CONFIG_FILE = "tokenizer_config.json"
MIN_VOCAB = 257 + 1  # 256 byte tokens + BOS + at least one merge
MAX_VOCAB = 1 << 20

_NAMED = re.compile(r"^bpe(\d+)(k?)$", re.IGNORECASE)


def parse_bpe_name(name: str) -> int | None:
    """'bpe4k' -> 4096, 'bpe1000' -> 1000, 'bpe16k' -> 16384; None for anything else."""
    m = _NAMED.match(str(name).strip())
    if not m:
        return None
    return int(m.group(1)) * (1024 if m.group(2) else 1)


def _need_tokenizers():
    try:
        import tokenizers
    except ImportError:
        raise MissingDependencyError("BPE tokenizers need the tokenizers package (pip install tokenizers)") from None
    return tokenizers


def _text_runs(data: bytes) -> list[str]:
    """The valid UTF-8 runs of ``data`` (invalid bytes cut them; they are byte tokens anyway)."""
    text = bytes(data).decode("utf-8", errors="surrogateescape")
    return [run for run in re.split("[\udc80-\udcff]+", text) if run]


def train_tokenizer(train_bytes: bytes, vocab_size: int, out_dir) -> Path:
    """Train a byte-level BPE with ``vocab_size`` ids (256 bytes + BOS + merges) on
    ``train_bytes``; write it to ``out_dir`` (created if needed) and return that path.

    The vocabulary can come out smaller than asked when the data has fewer pairs worth
    merging (``min_frequency`` 2); the saved files record the real size.
    """
    tk = _need_tokenizers()
    from tokenizers import decoders, models, pre_tokenizers, trainers

    vocab_size = int(vocab_size)
    if not MIN_VOCAB <= vocab_size <= MAX_VOCAB:
        raise UsageError(f"BPE vocabulary size must be between {MIN_VOCAB} and {MAX_VOCAB}, not {vocab_size}")
    train_bytes = bytes(train_bytes)
    if not train_bytes:
        raise CompgenError("cannot train a tokenizer on empty data")
    tok = tk.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=[BOS_TOKEN],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_text_runs(train_bytes), trainer=trainer)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"kind": "bpe", "vocab_size": tok.get_vocab_size(), "requested_vocab_size": vocab_size,
            "bos_token": BOS_TOKEN, "bos_id": tok.token_to_id(BOS_TOKEN), "alphabet": "byte-level (256 byte tokens)",
            "train_bytes": len(train_bytes), "train_sha256": hashlib.sha256(train_bytes).hexdigest(),
            "tokenizers": tk.__version__}
    save_files(tok, out, meta)
    return out


def save_files(tok, out: Path, meta: dict, model_max_length: int | None = None) -> None:
    """Write tokenizer.json, tokenizer_config.json and compgen-tokenizer.json into ``out``."""
    out = Path(out)
    (out / TOKENIZER_FILE).write_text(tok.to_str(pretty=True) + "\n", encoding="utf-8")
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": meta.get("bos_token", BOS_TOKEN),
              "add_bos_token": False, "add_eos_token": False, "clean_up_tokenization_spaces": False}
    if model_max_length:
        config["model_max_length"] = int(model_max_length)
    (out / HF_CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")


class _Shim:
    """The few transformers-tokenizer methods TokenCodec calls, over a raw ``tokenizers.Tokenizer``
    (so a tokenizer loads without importing transformers)."""

    def __init__(self, tok, bos_token: str):
        self.tok = tok
        self.bos_token_id = tok.token_to_id(bos_token)
        if self.bos_token_id is None:
            raise CompgenError(f"tokenizer has no {bos_token} token")
        self.all_special_ids = [self.bos_token_id]
        self.added_tokens_decoder: dict = {}

    def __len__(self) -> int:
        return self.tok.get_vocab_size()

    def convert_ids_to_tokens(self, ids):
        return [self.tok.id_to_token(int(i)) for i in ids]

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return self.tok.encode(text, add_special_tokens=add_special_tokens).ids


class BpeTokenizer:
    """A trained BPE as an exact bytes <-> ids codec.

    ``encode(data) -> list[int]``, ``decode(ids) -> bytes`` (its exact inverse),
    ``vocab_size`` (every id the model predicts, BOS included), ``bos_id``, ``codec`` (the
    :class:`~compgen.lm.token_codec.TokenCodec` the token LM codes with), ``path``.
    """

    def __init__(self, tok, path: Path, meta: dict):
        from .token_codec import TokenCodec

        self.path = Path(path)
        self.meta = meta
        self.tokenizer = tok
        self.shim = _Shim(tok, meta.get("bos_token", BOS_TOKEN))
        self.codec = TokenCodec(self.shim, tok.get_vocab_size())
        if len(self.codec.missing):
            raise CompgenError(f"{path}: tokenizer lacks {len(self.codec.missing)} byte tokens (not a byte-level BPE)")
        self.vocab_size = self.codec.vocab_size
        self.bos_id = self.codec.bos_id

    def encode(self, data: bytes) -> list[int]:
        return [int(i) for i in self.codec.encode(bytes(data))]

    def decode(self, ids) -> bytes:
        return self.codec.decode(list(ids))

    def token_lengths(self):
        """Bytes each id stands for (0 for BOS), a numpy int64 array over the vocabulary."""
        return self.codec._lens

    def save_to(self, out: Path, model_max_length: int | None = None) -> None:
        """Copy this tokenizer's files into ``out`` (a model directory being written)."""
        save_files(self.tokenizer, Path(out), self.meta, model_max_length)

    def digest(self) -> str:
        return self.codec.digest()

    def __repr__(self) -> str:
        return f"BpeTokenizer({str(self.path)!r}, vocab_size={self.vocab_size})"


def load_tokenizer(path) -> BpeTokenizer:
    """A tokenizer written by :func:`train_tokenizer` (its directory or tokenizer.json), or
    the tokenizer inside a token-LM model directory."""
    tk = _need_tokenizers()
    p = Path(os.path.expanduser(str(path)))
    folder = p if p.is_dir() else p.parent
    file = p / TOKENIZER_FILE if p.is_dir() else p
    if not file.is_file():
        raise UsageError(f"{path}: no {TOKENIZER_FILE} (train one with `cgz train --tokenizer bpe4k` "
                         "or compgen.lm.bpe.train_tokenizer)")
    try:
        tok = tk.Tokenizer.from_file(str(file))
    except Exception as exc:  # the Rust side raises a bare Exception on a bad file
        raise CompgenError(f"{file}: not a readable tokenizer ({str(exc).splitlines()[0] if str(exc) else exc})") from None
    meta = {}
    try:
        meta = json.loads((folder / META_FILE).read_text())
    except (OSError, ValueError):
        pass
    return BpeTokenizer(tok, folder, meta if isinstance(meta, dict) else {})


def tokens_per_byte(tokenizer, data: bytes) -> float:
    """Tokens of ``data`` per byte (``tokenizer``: a BpeTokenizer or a path; nan for no data).

    With a token LM's perplexity per token, bits/byte = log2(ppl_token) * tokens/byte.
    """
    tok = tokenizer if hasattr(tokenizer, "encode") and hasattr(tokenizer, "vocab_size") else load_tokenizer(tokenizer)
    data = bytes(data)
    if not data:
        return float("nan")
    return len(tok.encode(data)) / len(data)


def resolve_tokenizer(tokenizer, train_bytes: bytes | None = None) -> BpeTokenizer | None:
    """None / "bytes" -> None (a byte LM); a BpeTokenizer as is; "bpe4k" (any ``bpeN[k]``)
    -> a BPE trained on ``train_bytes`` (held in memory); anything else -> a tokenizer path."""
    if tokenizer is None or isinstance(tokenizer, BpeTokenizer):
        return tokenizer
    name = str(tokenizer).strip()
    if name.lower() in ("", "bytes", "byte", "none"):
        return None
    size = parse_bpe_name(name)
    if size is not None and not Path(os.path.expanduser(name)).exists():
        if train_bytes is None:
            raise UsageError(f"tokenizer {name}: no training data to learn it from")
        import tempfile

        with tempfile.TemporaryDirectory(prefix="compgen-bpe-") as tmp:
            return load_tokenizer(train_tokenizer(train_bytes, size, tmp))
    if not Path(os.path.expanduser(name)).exists():
        raise UsageError(f"unknown tokenizer {name!r}: use bytes, bpe1k, bpe4k, bpe16k (any bpeN or bpeNk) "
                         "or a tokenizer directory")
    return load_tokenizer(name)
