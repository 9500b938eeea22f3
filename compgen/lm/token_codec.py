"""Lossless bytes <-> token ids for language models.

A tokenizer alone is not a codec: byte-level BPE vocabularies may lack some byte values
(SmolLM2 drops 21 of them silently), normalisers can rewrite text, and invalid UTF-8
cannot be tokenised at all. :class:`TokenCodec` therefore

* tokenises valid UTF-8 runs with the tokenizer and *verifies* the result against an
  id->bytes table (never ``tokenizer.decode``),
* codes every other byte as its single-byte token when the vocabulary has one, else as
  an escape ``ESC`` + the byte's digits in base ``min(256, ordinary ids)`` (one digit for
  any real vocabulary; ESC is a special token, the digits the first ordinary ids),
* decodes by table look-up, refusing token streams that are not well formed.

:class:`ByteCodec` is the identity codec of byte-level LMs (ids 0..255 = bytes).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import numpy as np

from ..errors import RefusedError


@lru_cache(maxsize=1)
def byte_unicode_inverse() -> dict[str, int]:
    """GPT-2's printable-character alias of every byte, inverted (char -> byte)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


_SP_BYTE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


class ByteCodec:
    """Byte-level LMs: token id == byte value; ``bos_id`` starts every sequence."""

    kind = "bytes"

    def __init__(self, vocab_size: int = 257, bos_id: int = 256):
        self.vocab_size = int(vocab_size)
        self.bos_id = int(bos_id)
        self.table: list[bytes | None] = [bytes([i]) if i < 256 else None for i in range(self.vocab_size)]

    def encode(self, data: bytes) -> np.ndarray:
        return np.frombuffer(bytes(data), dtype=np.uint8).astype(np.int64)

    def decode(self, ids) -> bytes:
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() > 255):
            raise RefusedError("decoded token stream is not bytes (model computed different probabilities?)")
        return ids.astype(np.uint8).tobytes()

    def token_bytes(self, ids) -> int:
        return len(ids)

    def digest(self) -> str:
        return f"bytes-{self.vocab_size}-{self.bos_id}"


class TokenCodec:
    """Tokenizer + id->bytes table + escape scheme = exact codec for arbitrary bytes."""

    kind = "tokens"

    def __init__(self, tokenizer, vocab_size: int | None = None):
        self.tokenizer = tokenizer
        self.vocab_size = int(vocab_size or len(tokenizer))
        self.table = self._build_table(tokenizer, self.vocab_size)
        specials = [i for i, t in enumerate(self.table) if t is None]
        self.bos_id = self._pick_bos(tokenizer, specials)
        # single-byte tokens, the escape token and the 256 digit tokens
        self.single = {t[0]: i for i, t in reversed(list(enumerate(self.table))) if t is not None and len(t) == 1}
        esc = [i for i in specials if i != self.bos_id]
        self.esc_id = esc[0] if esc else None
        self.digits = [i for i, t in enumerate(self.table) if t is not None][:256]
        self.digit_value = {t: b for b, t in enumerate(self.digits)}
        base, self.n_digits = max(2, len(self.digits)), 1
        while base ** self.n_digits < 256:
            self.n_digits += 1
        self.missing = bytes(b for b in range(256) if b not in self.single)
        self._lens = np.array([len(t) if t is not None else 0 for t in self.table], dtype=np.int64)
        self._bad = re.compile("[\udc80-\udcff" + "".join(re.escape(chr(b)) for b in self.missing if b < 0x80) + "]")

    # ------------------------------------------------------------------ table
    @staticmethod
    def _build_table(tokenizer, vocab_size: int) -> list[bytes | None]:
        """bytes of every id; None for special/added tokens (they never stand for text)."""
        special = set(getattr(tokenizer, "all_special_ids", []) or [])
        added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
        special |= {i for i, tok in added.items() if getattr(tok, "special", True)}
        tokens = tokenizer.convert_ids_to_tokens(list(range(min(vocab_size, len(tokenizer)))))
        inv = byte_unicode_inverse()
        mappable = sum(1 for t in tokens if t and all(c in inv for c in t))
        byte_level = mappable > 0.9 * len(tokens)
        table: list[bytes | None] = []
        for i, tok in enumerate(tokens):
            if i in special or tok is None or tok == "":
                table.append(None)
            elif byte_level and all(c in inv for c in tok):
                table.append(bytes(inv[c] for c in tok))
            elif (m := _SP_BYTE.match(tok)):
                table.append(bytes([int(m.group(1), 16)]))
            elif not byte_level:
                table.append(tok.replace("\u2581", " ").encode("utf-8"))
            else:
                table.append(None)
        table += [None] * (vocab_size - len(table))
        return table

    @staticmethod
    def _pick_bos(tokenizer, specials: list[int]) -> int:
        for name in ("bos_token_id", "eos_token_id"):
            value = getattr(tokenizer, name, None)
            if isinstance(value, int):
                return value
        if specials:
            return specials[0]
        raise ValueError("tokenizer has no special token to start sequences with")

    def digest(self) -> str:
        """Hash of everything that maps tokens to bytes (part of the model fingerprint)."""
        h = hashlib.sha256()
        for t in self.table:
            h.update(b"\x00" if t is None else b"\x01" + len(t).to_bytes(2, "little") + t)
        h.update(f"{self.bos_id},{self.esc_id},{self.n_digits}".encode())
        return h.hexdigest()[:16]

    # ------------------------------------------------------------------ coding
    def _byte_ids(self, raw: bytes, out: list[int]) -> None:
        for b in raw:
            tok = self.single.get(b)
            if tok is not None:
                out.append(tok)
            elif self.esc_id is not None and len(self.digits) >= 2:
                base, digs = len(self.digits), []
                for _ in range(self.n_digits):
                    b, r = divmod(b, base)
                    digs.append(self.digits[r])
                out += [self.esc_id, *reversed(digs)]
            else:
                raise ValueError(f"byte 0x{b:02x} has no token and the vocabulary has no escape token")

    def _text_ids(self, text: str, out: list[int]) -> None:
        raw = text.encode("utf-8")
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if b"".join(self.table[i] or b"\xff\xff" for i in ids) == raw:  # never trust, verify
            out += ids
        elif len(text) > 1:  # normalisation or a dropped byte somewhere: bisect down to it
            mid = len(text) // 2
            self._text_ids(text[:mid], out)
            self._text_ids(text[mid:], out)
        else:
            self._byte_ids(raw, out)

    def encode(self, data: bytes) -> np.ndarray:
        """Token ids whose table bytes concatenate to exactly ``data``."""
        text = bytes(data).decode("utf-8", errors="surrogateescape")
        out: list[int] = []
        pos = 0
        for m in self._bad.finditer(text):
            if m.start() > pos:
                self._text_ids(text[pos: m.start()], out)
            self._byte_ids(text[m.start()].encode("utf-8", errors="surrogateescape"), out)
            pos = m.end()
        if pos < len(text):
            self._text_ids(text[pos:], out)
        return np.array(out, dtype=np.int64)

    def decode(self, ids) -> bytes:
        """Table decoding; a malformed stream (bad escape, special id) is refused."""
        out = bytearray()
        it = iter(np.asarray(ids, dtype=np.int64).tolist())
        for i in it:
            t = self.table[i] if 0 <= i < self.vocab_size else None
            if t is not None:
                out += t
            elif i == self.esc_id and self.esc_id is not None:
                d = 0
                for _ in range(self.n_digits):
                    v = self.digit_value.get(next(it, -1))
                    d = None if v is None or d is None else d * len(self.digits) + v
                if d is None or d > 255:
                    raise RefusedError("decoded token stream has a broken escape (model computed different probabilities?)")
                out.append(d)
            else:
                raise RefusedError(f"decoded token stream contains special token {i} (model computed different probabilities?)")
        return bytes(out)

    def token_bytes(self, ids) -> int:
        """Bytes the ids stand for (escapes: ESC counts 0, the digit 1 -- close enough for progress)."""
        return int(self._lens[np.asarray(ids, dtype=np.int64)].sum())
