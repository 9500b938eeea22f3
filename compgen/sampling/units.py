"""Word units of text: what span mode commits per step (a word and its delimiters)."""

from __future__ import annotations

#: bytes that belong to a word; everything else is a delimiter
WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'")


def first_unit(span: bytes) -> bytes:
    """Leading delimiters + one word + the delimiters after it (up to the next word)."""
    i, n = 0, len(span)
    while i < n and span[i] not in WORD:
        i += 1
    while i < n and span[i] in WORD:
        i += 1
    while i < n and span[i] not in WORD:
        i += 1
    return span[:i]


def trailing_word(text: bytes) -> int:
    """Length of the word the text ends in (0 after a delimiter)."""
    i = len(text)
    while i > 0 and text[i - 1] in WORD:
        i -= 1
    return len(text) - i
