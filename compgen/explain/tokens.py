"""Per-byte code lengths of language models, with each token and its top predictions.

A token LM's code length of a file is its teacher-forced cross-entropy over the codec's
tokens (``LMModel.token_bits``: windows of 1024 tokens, 128 re-read). The same windows
are run here through the same forward (``windows_logprobs``), so the token bits and
their sum are the very floats ``cgz score`` adds up. A token's bits are split over its
bytes by the model's own next-token distribution: byte ``j`` of token ``t`` costs
``-log2(M(t[:j+1]) / M(t[:j]))``, with ``M(u)`` the probability of the tokens whose
bytes start with ``u`` (``M(empty) = 1``); the last byte gets what is left of the
token's bits, so the bytes add up to the token exactly. An escaped byte (a byte the
vocabulary lacks: escape token + digits) carries all of its tokens' bits.
"""

from __future__ import annotations

import numpy as np

from .byte_lengths import ByteLengths

LN2 = float(np.log(2))


def _token_text(table, token_id: int) -> str:
    t = table[token_id] if table is not None and 0 <= token_id < len(table) else None
    if table is None:  # byte-level LM: ids 0..255 are bytes
        t = bytes([token_id]) if 0 <= token_id < 256 else None
    if t is None:
        return f"<special {token_id}>"
    return t.decode("utf-8", errors="backslashreplace")


def _groups(codec, ids: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(first token, end token, first byte, end byte) of every piece of text the tokens
    stand for: one token, or an escape token with its digit tokens (one byte)."""
    out = []
    pos = 0
    k = 0
    ids = [int(i) for i in ids]
    table = getattr(codec, "table", None)
    while k < len(ids):
        i = ids[k]
        if table is None:
            out.append((k, k + 1, pos, pos + 1))
            pos, k = pos + 1, k + 1
            continue
        t = table[i]
        if t is None:  # the escape token: n_digits digit tokens follow, one byte
            end = k + 1 + codec.n_digits
            out.append((k, end, pos, pos + 1))
            pos, k = pos + 1, end
        else:
            out.append((k, k + 1, pos, pos + len(t)))
            pos, k = pos + len(t), k + 1
    return out


class _PrefixMasses:
    """M(u) for the proper prefixes u of the tokens of one text, many rows at a time.

    The tokens whose bytes extend u are one contiguous range of the vocabulary sorted by
    bytes (``TokenIndex``), so with a slice's rows put in that order once, each mass is
    the sum of one contiguous run (float64 sums of the float32 exponentials)."""

    def __init__(self, codec, ids: np.ndarray):
        import torch

        from ..lm.prefix_scorer import TokenIndex

        index = TokenIndex(codec)
        table = codec.table
        self.order = torch.as_tensor(np.asarray(index.sorted_ids, dtype=np.int64))
        self.ranges: dict[int, list[tuple[int, int]]] = {}  # token id -> its prefixes' ranges
        for tok in sorted({int(i) for i in ids}):
            t = table[tok]
            if t is not None and len(t) >= 2:
                self.ranges[tok] = [index.prefix_range(t[:j]) for j in range(1, len(t))]
        self.ids = ids

    def split_bits(self, positions: np.ndarray, e, z: np.ndarray):
        """(token position, [bits of its bytes but the last]) for every row whose token has
        2+ bytes; ``e`` (torch float32) holds the rows' unnormalised probabilities, ``z``
        their sums."""
        import torch

        need = [(r, self.ranges[int(self.ids[q])]) for r, q in enumerate(positions) if int(self.ids[q]) in self.ranges]
        if not need:
            return []
        rows = torch.as_tensor([r for r, _ in need])
        picked = e.index_select(0, rows)
        ordered = torch.gather(picked, 1, self.order.expand(len(rows), -1)).numpy()  # rows in byte order
        out = []
        for k, (r, ranges) in enumerate(need):
            m = [float(z[r])] + [float(ordered[k, a:b].sum(dtype=np.float64)) for a, b in ranges]
            out.append((positions[r], [-np.log2(m[j + 1] / m[j]) for j in range(len(m) - 1)]))
        return out


def lm_lengths(model, data: bytes, top: int = 5, advance=lambda n: None) -> ByteLengths:
    """Per-byte bits of ``data`` under an LMModel (token or byte level), the token list
    with each token's top predictions, and the total (== ``model.code_length(data)``)."""
    import torch

    from ..lm.model import score_windows

    data = bytes(data)
    codec = model.codec
    ids = np.asarray(codec.encode(data), dtype=np.int64)
    table = getattr(codec, "table", None)
    w, overlap, batch = model.score_settings()
    spans = score_windows(len(ids), 0, w, overlap)
    windows = [np.concatenate([[codec.bos_id], ids[lo:hi]]) for lo, hi, _ in spans]
    n_tok = len(ids)
    top_ids = np.zeros((n_tok, top), dtype=np.int64)
    top_p = np.zeros((n_tok, top), dtype=np.float64)
    # split[k] = bits of the first len(token)-1 bytes of token k (None: one byte or escape)
    split: list = [None] * n_tok
    prefixes = _PrefixMasses(codec, ids) if table is not None else None

    def visit(win: int, row0: int, e, z) -> None:
        lo, _, start = spans[win]
        first = max(0, start - lo - row0)  # rows before the window's scored part are context
        if first >= e.shape[0]:
            return
        e, z = e[first:], z[first:].numpy()  # e: float32 exp(logits - row max), z: its float64 sums
        p = lo + row0 + first + np.arange(e.shape[0])  # token index each row predicts
        advance(int(codec.token_bytes(ids[p])))
        k = min(top, e.shape[1])
        tv, ti = torch.topk(e, k, dim=1)
        top_ids[p, :k] = ti.numpy()
        top_p[p, :k] = tv.double().numpy() / z[:, None]
        if prefixes is not None:
            for q, parts in prefixes.split_bits(p, e, z):
                split[q] = parts

    logps = model.windows_logprobs(windows, batch, visit=visit)
    token_bits = np.zeros(n_tok, dtype=np.float64)
    for lp, (lo, hi, start) in zip(logps, spans, strict=True):
        token_bits[start:hi] = -lp[start - lo:] / LN2
    total = -sum(float(lp[start - lo:].sum()) for lp, (lo, _, start) in zip(logps, spans, strict=True)) / LN2
    bits = np.zeros(len(data), dtype=np.float64)
    tokens = []
    for k0, k1, b0, b1 in _groups(codec, ids):
        tb = float(token_bits[k0:k1].sum())
        parts = split[k0] if k1 == k0 + 1 else None
        if parts and b1 - b0 == len(parts) + 1:
            bits[b0:b1 - 1] = parts
            bits[b1 - 1] = tb - float(sum(parts))
        else:
            bits[b0:b1] = tb / (b1 - b0)
        text = _token_text(table, int(ids[k0])) if k1 == k0 + 1 else f"<escaped 0x{data[b0]:02x}>"
        preds = [(_token_text(table, int(t)), float(pp)) for t, pp in zip(top_ids[k0], top_p[k0], strict=True) if pp > 0]
        tokens.append((b0, b1, tb, text, preds))
    what = "token" if table is not None else "byte"
    method = (f"teacher-forced {what} bits (windows of {w + 1} tokens, {overlap} re-read)"
              + (", split over each token's bytes by the model's own prefix probabilities" if table is not None else ""))
    out = ByteLengths(model.spec, bits, float(total), method, 1, tokens)
    tree = model.prefix_scorer.tree_bytes
    if len(data) <= tree:  # code_length scores short data by every covering tokenization
        exact = float(model.code_length(data))
        if total > 0:
            out.bits = bits * (exact / total)
        out.total = exact
        out.method += "; scaled to the prefix scorer's total (short input)"
    return out


def seven_bit_lengths(model, data: bytes, top: int = 5, advance=lambda n: None) -> ByteLengths:
    """``7bit:LM``: the LM's bits of the high 7 bits plus the low bit's bits under the
    adaptive binary model the coder picks (the cheapest of four), byte by byte."""
    from ..lm.seven_bit import LOW_MODELS, _contexts, _kt_probs, low_bits_cost, split

    data = bytes(data)
    high, low = split(data)
    inner = lm_lengths(model.lm, high, top=top, advance=advance)
    costs = {k: low_bits_cost(k, high, low) for k in LOW_MODELS}
    kind = min(LOW_MODELS, key=lambda k: costs[k])
    ctx = _contexts(kind, high, low)
    if ctx is None:
        low_bits = np.ones(len(low))
    else:
        rows, _ = _kt_probs(ctx, low)
        low_bits = -np.log2(rows[np.arange(len(low)), low])
    total = inner.total + min(costs[k] for k in LOW_MODELS)
    method = inner.method + f"; on the high 7 bits, plus the low bit ({kind} model)"
    tokens = [(a, b, tb, text, preds) for a, b, tb, text, preds in inner.tokens]
    return ByteLengths(model.spec, inner.bits + low_bits, float(total), method, 1, tokens)
