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

    One sparse matrix maps token ids to the prefixes they start with (every token of the
    vocabulary whose bytes extend u), so the masses of one slice of rows are a single
    dense x sparse product over the prefixes that slice needs."""

    def __init__(self, codec, ids: np.ndarray):
        from scipy.sparse import csc_matrix

        from ..lm.prefix_scorer import TokenIndex

        index = TokenIndex(codec)
        table = codec.table
        self.cols: dict[int, list[int]] = {}  # token id -> its prefixes' columns
        col_of: dict[bytes, int] = {}
        rows, ptr = [], [0]
        for tok in sorted({int(i) for i in ids}):
            t = table[tok]
            if t is None or len(t) < 2:
                continue
            cols = []
            for j in range(1, len(t)):
                u = t[:j]
                c = col_of.get(u)
                if c is None:
                    a, b = index.prefix_range(u)
                    c = col_of[u] = len(ptr) - 1
                    rows.append(index.sorted_ids[a:b])
                    ptr.append(ptr[-1] + b - a)
                cols.append(c)
            self.cols[tok] = cols
        self.ids = ids
        vocab = len(table)
        members = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        self.matrix = csc_matrix((np.ones(len(members), dtype=np.float32), members, np.array(ptr)),
                                 shape=(vocab, len(ptr) - 1))

    def split_bits(self, positions: np.ndarray, e: np.ndarray, z: np.ndarray):
        """(token position, [bits of its bytes but the last]) for every row whose token has
        2+ bytes; ``e`` holds the rows' unnormalised probabilities, ``z`` their sums."""
        need = [(r, self.cols[int(self.ids[q])]) for r, q in enumerate(positions) if int(self.ids[q]) in self.cols]
        if not need:
            return []
        used = sorted({c for _, cols in need for c in cols})
        where = {c: j for j, c in enumerate(used)}
        rows = np.array([r for r, _ in need])
        masses = np.asarray(e[rows] @ self.matrix[:, used], dtype=np.float64)
        out = []
        for k, (r, cols) in enumerate(need):
            m = [float(z[r])] + [masses[k, where[c]] for c in cols]
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

    def visit(win: int, row0: int, logits) -> None:
        lo, _, start = spans[win]
        pos = lo + row0 + np.arange(logits.shape[0])  # token index each row predicts
        keep = np.nonzero(pos >= start)[0]
        if not len(keep):
            return
        lg = logits if len(keep) == logits.shape[0] else logits[torch.as_tensor(keep)]
        p = pos[keep]
        advance(int(codec.token_bytes(ids[p])))
        mx = lg.max(dim=1, keepdim=True).values
        k = min(top, lg.shape[1])
        tv, ti = torch.topk(lg, k, dim=1)
        e = (lg - mx).exp_()  # float32, the row's maximum at 1
        z = e.sum(dim=1).double().numpy()
        top_ids[p, :k] = ti.numpy()
        top_p[p, :k] = torch.exp(tv - mx).double().numpy() / z[:, None]
        if prefixes is not None:
            for q, parts in prefixes.split_bits(p, e.numpy(), z):
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
