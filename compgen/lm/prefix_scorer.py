"""Scoring continuations of a prompt from one KV cache (shared-prefix scoring).

Why: an ICL item asks for the code length of a few short candidates after one long
prompt, and the k-shot prompts of one episode are nested (demos[:k] + query). Running
the prompt once, keeping its KV cache, and reusing the longest common token prefix for
the next prompt turns "one full forward per candidate" into "forward the new prompt
tokens once, then a few tree rounds".

What a length means (the boundary rule): ``code_lengths(cands, ctx)[i]`` is
-log2 P(the LM's output after ctx's own tokens *starts with* the bytes c_i), summed
over every covering tokenization of c_i (all tokens but the last inside c_i, the last
may run past its end), natural tokens only, special tokens renormalised away (as in
:mod:`compgen.lm.byte_view`). The context is tokenised on its own and ends on a token
boundary, so this is the exact byte-level probability of c_i after ctx whenever ctx's
own tokenization ends where the text's does (ICL prompts do: candidates start with the
format's lead space). Not "c_i tokenised on its own" (" Paris" may be " P"+"aris").

How: a tree over the candidates of one call, breadth first. Each round forwards ONE new
token for every frontier node (all candidates at once) on top of the prompt cache with a
tree-attention 4D mask (a node sees the prompt, its ancestors and itself); the earlier
rounds' nodes stay in the cache; at the end the cache is cropped back to the prompt. A
node forwarded for the first time brings the canonical tokens of the rest of its
candidate along (a chain in the same forward), so the likeliest path of every candidate
costs one round and further rounds only serve the tokenizations pruning keeps.
``prune`` drops nodes below ``prune`` x the best path of their candidate and
``max_nodes`` caps each candidate's frontier; ``prune=0`` is exact (no cap). Nodes cover
different numbers of bytes, so a node is ranked by its log p extrapolated to the whole
candidate at its own rate per byte (ranking by raw log p would favour short tokens).
``max_rounds`` (default 1: the first forward only; 2 adds a round of alternatives) is the
forward budget: after it only nodes already computed are expanded, so the result is a
lower bound on the exact probability that still contains every canonical path.

Fallbacks (documented in docs/icl.md): a candidate with a byte no natural token contains
(SmolLM2 lacks 21 byte values) is scored on the codec's canonical tokens (escapes
included, full softmax), and candidates longer than ``tree_bytes`` take the teacher-forced
canonical path :meth:`LMModel.token_bits` (long data is a file, not a continuation).

``chunk``: None reuses any common prefix (fastest; the floats then depend on which
prompt came before, at the 1e-6 level). An integer makes the cache *canonical*: the
prompt is forwarded in chunks aligned to multiples of ``chunk`` and only whole chunks
are reused, so every float is a function of the tokens alone -- what the byte view
needs, because a byte coder must compute the same floats when decoding.
"""

from __future__ import annotations

import bisect

import numpy as np

_NEG = -np.inf


class TokenIndex:
    """The natural tokens of a codec sorted by bytes: prefix ranges and exact look-ups."""

    def __init__(self, codec):
        table = codec.table
        self.table = table
        self.natural = np.array([t is not None and len(t) > 0 for t in table], dtype=bool)
        ids = sorted((i for i, t in enumerate(table) if t), key=lambda i: table[i])
        self.sorted_ids = np.array(ids, dtype=np.int64)
        self.sorted_bytes = [table[i] for i in ids]
        self.sorted_lens = np.array([len(b) for b in self.sorted_bytes], dtype=np.int64)
        self.first_byte = np.array([b[0] for b in self.sorted_bytes], dtype=np.int64)
        self.exact = {}
        for i in ids:
            self.exact.setdefault(table[i], i)
        self.max_len = int(self.sorted_lens.max()) if len(ids) else 0
        self.covered = frozenset(b for t in self.sorted_bytes for b in t)  # bytes some token contains

    def prefix_range(self, u: bytes) -> tuple[int, int]:
        """Positions in the sorted table of tokens whose bytes start with u."""
        if not u:
            return 0, len(self.sorted_bytes)
        lo = bisect.bisect_left(self.sorted_bytes, u)
        stem = u.rstrip(b"\xff")
        if not stem:
            return lo, len(self.sorted_bytes)
        succ = stem[:-1] + bytes([stem[-1] + 1])  # smallest string above every extension of u
        return lo, bisect.bisect_left(self.sorted_bytes, succ, lo)


def natural_logprobs(logits: np.ndarray, natural: np.ndarray) -> np.ndarray:
    """float32 logits [..., V] -> float64 log-probabilities renormalised over natural tokens."""
    x = np.asarray(logits, dtype=np.float64)
    x = np.where(natural[: x.shape[-1]], x, _NEG)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _logsumexp(v) -> float:
    v = np.asarray(v, dtype=np.float64)
    if not len(v):
        return _NEG
    m = v.max()
    return float(m + np.log(np.exp(v - m).sum())) if m > _NEG else _NEG


class PrefixScorer:
    PROMPT_CHUNK = 256  # tokens per forward when extending the prompt cache (free mode)

    def __init__(self, model, prune: float = 1e-4, max_nodes: int | None = 8, tree_bytes: int = 256,
                 chunk: int | None = None, max_total_nodes: int = 4096, max_rounds: int | None = 1):
        self.model = model
        self.prune = float(prune)
        self.max_nodes = max_nodes if self.prune > 0 else None
        self.tree_bytes = int(tree_bytes)
        self.chunk = chunk
        self.max_total_nodes = int(max_total_nodes)
        self.max_rounds = max_rounds if self.prune > 0 else None
        self.index = TokenIndex(model.codec)
        self.tokens: list[int] = []  # BOS + prompt tokens the cache holds
        self.cache = None
        self.last_logits = None  # float32 logits after self.tokens
        self.stats = {"prompt_tokens": 0, "reused_tokens": 0, "tree_rounds": 0, "tree_nodes": 0}

    def settings(self) -> dict:
        return {"prune": self.prune, "max_nodes": self.max_nodes, "max_rounds": self.max_rounds,
                "tree_bytes": self.tree_bytes,
                "chunk": self.chunk}

    # ------------------------------------------------------------- torch
    def _net(self, ids, positions, mask=None):
        """Logits [n, V] of ids (one sequence) at ``positions`` on top of the cache."""
        import torch

        m = self.model
        m.set_threads()
        with torch.inference_mode():
            out = m.net(input_ids=torch.as_tensor([ids], dtype=torch.long),
                        position_ids=torch.as_tensor([positions], dtype=torch.long),
                        attention_mask=mask, cache=self.cache, use_cache=True)
        self.cache = out.cache
        return out.logits[0].float().numpy()

    def _cache_len(self) -> int:
        return 0 if self.cache is None else int(self.cache.get_seq_length())

    def _crop_to(self, n: int) -> None:
        have = self._cache_len()
        if n <= 0:
            self.cache = None
        elif have > n:
            self.cache.crop(-(have - n))

    # ------------------------------------------------------------- prompt
    def prime(self, tokens) -> np.ndarray:
        """Make the cache hold exactly ``tokens`` (BOS first); float32 logits after them."""
        new = [int(t) for t in tokens]
        if self.cache is not None and new == self.tokens:
            self._crop_to(len(new))
            return self.last_logits
        common = 0
        if self.cache is not None:
            old = self.tokens
            n = min(len(old), len(new))
            while common < n and old[common] == new[common]:
                common += 1
        keep = min(common, len(new) - 1)  # always forward at least one token (its logits)
        step = self.chunk or self.PROMPT_CHUNK
        if self.chunk:
            keep = keep // self.chunk * self.chunk
        self._crop_to(keep)
        self.tokens = new[:keep]
        self.stats["reused_tokens"] += keep
        logits = None
        start = keep
        while start < len(new):
            end = min(len(new), (start // step + 1) * step) if self.chunk else min(len(new), start + step)
            logits = self._net(new[start:end], list(range(start, end)))[-1]
            self.tokens = new[:end]
            start = end
        self.stats["prompt_tokens"] += len(new) - keep
        self.last_logits = logits
        return logits

    def context_tokens(self, context: bytes, room: int) -> list[int]:
        m = self.model
        ctx = [int(t) for t in m.codec.encode(bytes(context)[-4 * m.window:])] if context else []
        return [int(m.codec.bos_id)] + ctx[max(0, len(ctx) - room):]

    def logprobs_after(self, prefix, toks=()) -> np.ndarray:
        """Natural-token log p(. | BOS + prefix + toks): prefix from the cache, toks forwarded on top."""
        m = self.model
        room = m.window - 1 - len(toks)
        prefix = list(prefix)[max(0, len(prefix) - room):]
        base = [int(m.codec.bos_id)] + prefix
        logits = self.prime(base)
        if toks:
            p = len(base)
            logits = self._net(list(toks), list(range(p, p + len(toks))))[-1]
            self._crop_to(p)
        return natural_logprobs(logits, self.index.natural)

    # ------------------------------------------------------------- scoring
    def code_lengths(self, candidates, context: bytes = b"") -> np.ndarray:
        cands = [bytes(c) for c in candidates]
        out = np.zeros(len(cands), dtype=np.float64)
        m = self.model
        # each candidate's canonical tokens, encoded once (they size the paths below)
        enc = [m.codec.encode(c) if c and len(c) <= self.tree_bytes else None for c in cands]
        # a file, not a continuation (or more tokens than half the window): sliding windows
        long_ = [i for i, c in enumerate(cands) if c and (enc[i] is None or len(enc[i]) > m.window // 2)]
        if long_:
            ctx_tokens = m.codec.encode(bytes(context)[-4 * m.window:]) if context else None
            for i in long_:
                out[i] = m.token_bits(enc[i] if enc[i] is not None else m.codec.encode(cands[i]), ctx_tokens)
        short = [i for i, c in enumerate(cands) if c and i not in long_]
        if not short:
            return out
        # room after the prompt: a tree path has at most one token per byte, the canonical
        # fallback as many tokens as the codec gives (escapes take several)
        depth = max(max(len(cands[i]), len(enc[i])) for i in short)
        room = max(1, m.window - 1 - depth)
        tokens = self.context_tokens(context, room)
        tree = [i for i in short if set(cands[i]) <= self.index.covered]
        root = None
        if tree:
            bits, root = self._tree_bits([cands[i] for i in tree], tokens)
            out[tree] = bits
        for i in short:
            if i not in tree:
                root = self.prime(tokens) if root is None else root
                out[i] = self._canonical_bits(cands[i], tokens, root)
        return out

    def _pending(self, tokens) -> int:
        """Prime all but the prompt's last new tokens (<= 64); how many are left to forward."""
        if self.cache is not None and self.tokens == list(tokens):
            return 0
        common = 0
        if self.cache is not None:
            n = min(len(self.tokens), len(tokens))
            while common < n and self.tokens[common] == tokens[common]:
                common += 1
        left = max(1, min(64, len(tokens) - common))
        if len(tokens) - left < 1:
            left = len(tokens) - 1
        if left <= 0:
            self.prime(tokens)
            return 0
        head = list(tokens[:-left])
        if not (self.cache is not None and self.tokens[:len(head)] == head and common >= len(head)):
            self.prime(head)
        else:
            self._crop_to(len(head))
            self.tokens = head
            self.stats["reused_tokens"] += len(head)
        return left

    def _canonical_bits(self, c: bytes, tokens, root_logits) -> float:
        """Teacher-forced bits of the codec's tokens of c (escapes included, full softmax)."""
        ids = [int(t) for t in self.model.codec.encode(c)]
        p = len(tokens)
        rows = [root_logits]
        if len(ids) > 1:
            rows += list(self._net(ids[:-1], list(range(p, p + len(ids) - 1))))
            self._crop_to(p)
        x = np.asarray(rows, dtype=np.float64)
        x = x - x.max(axis=1, keepdims=True)
        lp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
        return float(-lp[np.arange(len(ids)), ids].sum() / np.log(2))

    def _canonical_chain(self, path: tuple, rest: bytes) -> list[tuple]:
        """The nodes along the canonical tokens of ``rest`` after ``path`` (all but the last
        token): forwarded in the same round, so the likeliest path costs one round, not one
        per token. Exactness is unchanged: they are nodes the search would reach anyway."""
        ids = [int(t) for t in self.model.codec.encode(rest)] if rest else []
        out = []
        for t in ids[:-1]:
            if not self.index.natural[t]:
                break
            path = path + (t,)
            out.append(path)
        return out

    def _tree_bits(self, cands: list[bytes], tokens) -> tuple[np.ndarray, np.ndarray]:
        """Covering-tokenization probability of every candidate, breadth first over one tree.

        The first forward carries the prompt's new tail (causal) and the canonical chain of
        every candidate (tree mask), so an item whose alternatives are all pruned costs ONE
        forward. Returns (bits, logits after the prompt)."""
        import torch

        idx = self.index
        p = len(tokens)
        log_prune = np.log(self.prune) if self.prune > 0 else _NEG
        slots: dict[tuple, int] = {}  # path -> cache position of its last token
        dtype = next(self.model.net.parameters()).dtype
        neg = torch.finfo(dtype).min if dtype.is_floating_point else -1e30
        left = self._pending(tokens)
        seeds = list(dict.fromkeys(q for c in cands for q in self._canonical_chain((), c)))
        if left:
            base = self._cache_len()  # == p - left
            n = left + len(seeds)
            mask = torch.full((1, 1, n, base + n), neg, dtype=dtype)
            for r in range(left):
                mask[0, 0, r, : base + r + 1] = 0
            for r, path in enumerate(seeds):
                row = left + r
                mask[0, 0, row, :p] = 0
                anc = [slots[path[:d]] for d in range(1, len(path))]
                if anc:
                    mask[0, 0, row, anc] = 0
                mask[0, 0, row, base + row] = 0
                slots[path] = base + row
            ids = list(tokens[-left:]) + [q[-1] for q in seeds]
            pos = list(range(base, p)) + [p + len(q) - 1 for q in seeds]
            logits = self._net(ids, pos, mask)
            self.tokens = list(tokens)
            self.stats["prompt_tokens"] += left
            self.stats["tree_rounds"] += 1
            self.stats["tree_nodes"] += len(seeds)
            root_logits = logits[left - 1]
            self.last_logits = root_logits
            lps = natural_logprobs(logits[left:], idx.natural) if seeds else []
            node_lp = {q: lps[r] for r, q in enumerate(seeds)}
        else:
            root_logits = self.last_logits
            node_lp = {}
        node_lp[()] = natural_logprobs(root_logits, idx.natural)  # path -> logprobs after it
        terms: list[list[float]] = [[] for _ in cands]
        frontier = [[((), 0, 0.0)] for _ in cands]  # per candidate: (path, bytes covered, log p)
        total = len(seeds) if left else 0
        rounds = 1 if left else 0
        while any(frontier):
            grown: list[list] = []
            for ci, c in enumerate(cands):
                kids = []
                for path, j, lp in frontier[ci]:
                    lpv = node_lp[path]
                    rest = c[j:]
                    lo, hi = idx.prefix_range(rest)
                    if hi > lo:
                        terms[ci].append(lp + _logsumexp(lpv[idx.sorted_ids[lo:hi]]))
                    for n in range(1, min(len(rest), idx.max_len + 1)):
                        t = idx.exact.get(rest[:n])
                        if t is not None and lpv[t] > _NEG:
                            kids.append((path + (t,), j + n, lp + float(lpv[t])))
                if kids and (self.prune > 0 or self.max_nodes):
                    # nodes cover different numbers of bytes: rank each by its log p
                    # extrapolated to the whole candidate at its own rate per byte
                    est = [lp * len(c) / j for _, j, lp in kids]
                    best = max(est + terms[ci])
                    free = [k for k in kids if k[0] in node_lp]  # computed already: kept, cost nothing
                    kids = [k for k, e in zip(kids, est) if e >= best + log_prune and k[0] not in node_lp]
                    if self.max_nodes and len(kids) > self.max_nodes:
                        kids = sorted(kids, key=lambda k: -k[2] * len(c) / k[1])[: self.max_nodes]
                    kids = free + kids
                grown.append(kids)
            todo = []
            for ci, kids in enumerate(grown):
                for path, j, _ in kids:
                    if path not in node_lp:
                        todo.append(path)
                        todo += self._canonical_chain(path, cands[ci][j:])
            todo = [q for q in dict.fromkeys(todo) if q not in node_lp]  # parents stay before children
            if self.max_rounds and rounds >= self.max_rounds:  # budget spent: only nodes already computed
                todo = []
                grown = [[k for k in kids if k[0] in node_lp] for kids in grown]
            if total + len(todo) > self.max_total_nodes:  # bound the work on any input
                todo = todo[: max(0, self.max_total_nodes - total)]
                keep = set(todo) | set(node_lp)
                grown = [[k for k in kids if k[0] in keep] for kids in grown]
            if todo:
                base = self._cache_len()
                n = len(todo)
                mask = torch.full((1, 1, n, base + n), neg, dtype=dtype)
                mask[0, 0, :, :p] = 0
                for r, path in enumerate(todo):
                    anc = [slots[path[:d]] for d in range(1, len(path))]
                    if anc:
                        mask[0, 0, r, anc] = 0
                    mask[0, 0, r, base + r] = 0
                    slots[path] = base + r
                logits = self._net([path[-1] for path in todo], [p + len(path) - 1 for path in todo], mask)
                lps = natural_logprobs(logits, idx.natural)
                for r, path in enumerate(todo):
                    node_lp[path] = lps[r]
                total += n
                rounds += 1
                self.stats["tree_rounds"] += 1
                self.stats["tree_nodes"] += n
            frontier = grown
        self._crop_to(p)
        bits = np.array([-_logsumexp(t) / np.log(2) if t else np.inf for t in terms], dtype=np.float64)
        return bits, root_logits
