"""How good is a sample? Fluency under a reference LM, copying, variety, real words.

* ``fluency``: bits/byte a reference LM (default SmolLM2-135M) needs for the sample's
  continuation given its prompt, ``(bits(prompt + sample) - bits(prompt)) / len(sample)``,
  tokenised from the utf-8 text with the LM's own tokenizer behind a BOS token. Lower is
  more fluent; real text of the corpus is the yardstick. Same definition as
  ``../shared/tools/lm_fluency.py`` (``benchmarks/sampling.py --quality`` checks the two agree).
* ``copied``: share of the sample's bytes inside a verbatim corpus match of >= 32 bytes
  (copying is how a generator fakes fluency);
* ``distinct4``: distinct word 4-grams / all 4-grams (loops score low);
* ``valid_words``: share of the sample's words (letters, lowercased) found in the corpus.

The reference LM is loaded only when a fluency figure is asked for; scores are cached
per (LM, prompt, sample) in a JSON file so benchmarks never score a text twice.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re

import numpy as np

from ..errors import UsageError

COPY_RUN = 32  # bytes: a verbatim corpus run this long counts as copied
_WORDS = re.compile(r"[a-z]+")


def words(data: bytes) -> list[str]:
    return _WORDS.findall(data.decode("utf-8", "replace").lower())


def copied_share(corpus: bytes, sample: bytes, run: int = COPY_RUN) -> float:
    """Share of ``sample`` bytes covered by verbatim corpus matches of >= ``run`` bytes.

    Scans left to right; a match found at ``i`` is extended as far as it goes and the
    scan resumes after it (the definition of ``../shared/tools/sample_quality.py``).
    """
    n, covered, i = len(sample), 0, 0
    while i + run <= n:
        if sample[i:i + run] in corpus:
            j = i + run
            while j < n and sample[i:j + 1] in corpus:
                j += 1
            covered += j - i
            i = j
        else:
            i += 1
    return covered / max(1, n)


def text_quality(corpus: bytes, sample: bytes) -> dict:
    """valid_words, copied, distinct4 of ``sample`` against the corpus it was primed on."""
    vocab = set(words(corpus))
    w = words(sample)
    grams = [tuple(w[k:k + 4]) for k in range(len(w) - 3)]
    return {"bytes": len(sample), "words": len(w),
            "valid_words": round(sum(x in vocab for x in w) / max(1, len(w)), 3),
            "copied": round(copied_share(corpus, sample), 3),
            "distinct4": round(len(set(grams)) / max(1, len(grams)), 3)}


class Fluency:
    """Reference-LM bits/byte of a continuation given its prompt (cached per text)."""

    def __init__(self, spec: str = "smollm2", cache_path: str | None = None):
        self.spec = spec
        self._lm = None
        self.cache_path = cache_path
        self._cache: dict[str, float] = {}
        if cache_path and os.path.exists(cache_path):
            try:
                with open(cache_path) as f:
                    self._cache = {k: float(v) for k, v in json.load(f).items()}
            except (OSError, ValueError):
                self._cache = {}
        self._dirty = False

    @property
    def lm(self):
        if self._lm is None:
            from ..registry import load

            lm = load(self.spec)
            if not hasattr(lm, "target_logprobs"):
                raise UsageError(f"{self.spec}: a fluency reference must be a language model")
            self._lm = lm
        return self._lm

    def _key(self, prompt: bytes, sample: bytes) -> str:
        h = hashlib.sha256(f"{self.spec}\0{len(prompt)}\0".encode() + prompt + sample)
        return h.hexdigest()[:24]

    def _ids(self, text: bytes) -> np.ndarray:
        codec = self.lm.codec
        tok = getattr(codec, "tokenizer", None)
        if tok is not None:  # as a user of the LM would: its tokenizer on the utf-8 text
            ids = tok(text.decode("utf-8", "replace"), add_special_tokens=True)["input_ids"]
            bos = tok.bos_token_id if tok.bos_token_id is not None else 0
        else:
            ids, bos = codec.encode(text).tolist(), codec.bos_id
        return np.array([bos, *ids], dtype=np.int64)

    def _bits(self, text: bytes) -> float:
        if not text:
            return 0.0
        ids = self._ids(text)
        window = self.lm.position_limit()
        if len(ids) > window:
            raise UsageError(f"fluency: text of {len(ids)} tokens is longer than the reference LM's {window}")
        return float(-self.lm.target_logprobs(ids).sum() / math.log(2))

    def bpb(self, prompt: bytes, sample: bytes) -> float:
        """Bits per byte of ``sample`` given ``prompt`` (lower = more fluent)."""
        prompt, sample = bytes(prompt), bytes(sample)
        if not sample:
            return float("nan")
        key = self._key(prompt, sample)
        if key not in self._cache:
            bits = self._bits(prompt + sample) - self._bits(prompt)
            self._cache[key] = round(bits / len(sample), 4)
            self._dirty = True
        return self._cache[key]

    def save(self) -> None:
        """Write the cache (atomically) if anything was added."""
        if not (self.cache_path and self._dirty):
            return
        tmp = f"{self.cache_path}.tmp{os.getpid()}"
        os.makedirs(os.path.dirname(os.path.abspath(self.cache_path)), exist_ok=True)
        with open(tmp, "w") as f:
            json.dump(self._cache, f)
        os.replace(tmp, self.cache_path)
        self._dirty = False


def default_cache() -> str:
    from ..lm.loading import cache_dir

    return os.path.join(cache_dir(), "fluency-cache.json")


def sample_quality(corpus: bytes, prompt: bytes, sample: bytes, fluency: Fluency | None = None) -> dict:
    """All figures for one sample; ``fluency`` adds the reference-LM bits/byte."""
    q = text_quality(corpus, sample)
    if fluency is not None:
        q["fluency"] = round(fluency.bpb(prompt, sample), 3)
    return q
