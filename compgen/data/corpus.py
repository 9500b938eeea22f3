"""The embedded default corpus: CPython's own documentation topics (~465 KB of English).

Shipped with every CPython as ``pydoc_data.topics``, so demos and tests need no download.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def default_corpus() -> bytes:
    """All pydoc topics, sorted by name, joined by blank lines, UTF-8."""
    try:
        from pydoc_data.topics import topics
    except ImportError:  # some distributions strip pydoc_data
        return _fallback()
    return "\n\n".join(topics[k].strip() for k in sorted(topics)).encode("utf-8")


def _fallback() -> bytes:
    """A small generated English-like text for Pythons without pydoc_data."""
    words = ("the model predicts the next byte of a text from the bytes before it and a "
             "compressor does the same when it codes data so that prediction and compression "
             "are two views of one thing").split()
    out, state = [], 12345
    for _ in range(60000):
        state = (state * 1103515245 + 12345) % (1 << 31)
        out.append(words[state % len(words)])
    return " ".join(out).encode()
