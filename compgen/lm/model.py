"""A causal language model as a compgen Model.

Token LMs get a byte-level face through :mod:`compgen.lm.byte_view` (exact next-byte
distributions) and code files with :mod:`compgen.lm.coder` (token-level range coding,
many segments in lockstep). Byte-level LMs (vocab 257) are both at once.
"""

from __future__ import annotations

import hashlib
import os
from typing import Sequence

import numpy as np

from ..errors import UsageError
from ..model import Model
from .adaptive_head import DEFAULT_LR, lr_text, lr_units
from .log_softmax import float64_logprobs, target_logprobs_exp

DEFAULT_BATCH = 32
DEFAULT_TOKEN_WINDOW = 512
#: teacher-forced scoring (score/bench cross-entropy): tokens per window incl. BOS, tokens of
#: the previous window re-read as context, windows per forward, output-layer rows per slice
SCORE_WINDOW = 1024
SCORE_OVERLAP = 128
SCORE_BATCH = 1  # bf16 trunk: 1 window per forward beat 4 (benchmarks/lm_score.py, 2026-12-06)
HEAD_ROWS = 128  # a 128 x 49152 float32 slice (25 MB) stays below glibc's mmap threshold: no fresh pages per slice


def cpu_has_bf16() -> bool:
    """The CPU computes bfloat16 dot products natively (Linux /proc/cpuinfo flags)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def weights_digest(net) -> str:
    """sha256 over every parameter/buffer (name, dtype, shape, bytes), in name order."""
    import torch

    h = hashlib.sha256()
    for name, t in sorted(net.state_dict().items()):
        t = t.detach().contiguous().cpu()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:24]


def softmax64(logits: np.ndarray) -> np.ndarray:
    """float32 logits -> float64 probabilities, the same way on every call."""
    x = np.asarray(logits, dtype=np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


class LMModel(Model):
    """Wraps a transformers causal LM and an exact bytes<->tokens codec.

    ``mix=0`` codes with the LM alone (no in-file token model). ``threads`` is the torch thread count used for every computation (it changes the
    floats, so it is part of the spec and checked on decode); ``batch`` the number of
    segments coded in lockstep; ``window`` the most tokens the model sees at once;
    ``segment`` the bytes per lockstep segment when compressing (0: automatic plan);
    ``score_dtype`` the trunk precision of teacher-forced scoring only (see :meth:`scoring_bf16`);
    ``code_dtype`` the precision the coder's stepper computes in when compressing (see
    :meth:`coding_bf16`; a file records it, so decoding follows the file).
    """

    def __init__(self, net, codec, *, base_spec: str, name: str, weights: str | None = None,
                 threads=None, batch=DEFAULT_BATCH, window=None, dtype: str = "float32", quant: str = "none", mix=1,
                 segment=0, score_dtype: str = "auto", code_dtype: str = "auto", head="auto", head_lr=None):
        if str(mix) not in ("0", "1"):
            raise UsageError(f"mix must be 0 or 1, not {mix!r}")
        self.mix = int(mix)  # the coder mixes an in-file token model into the LM's distribution
        if str(head).lower() not in ("auto", "0", "1"):
            raise UsageError(f"head must be 0, 1 or auto, not {head!r}")
        self.head = str(head).lower()  # the coder's adaptive head (compgen.lm.adaptive_head)
        self.head_lr = lr_units(DEFAULT_LR if head_lr is None else head_lr)
        self.quant = str(quant).lower()
        if self.quant not in ("none", "int8"):
            raise UsageError(f"quant must be none or int8, not {quant!r}")
        # Identity and size describe the weights as stored, so take them before quantising.
        self._stored = (int(sum(p.numel() for p in net.parameters())),
                        int(sum(p.numel() * p.element_size() for p in net.parameters())))
        if self.quant == "int8":
            # int8 Linear layers, inputs quantised per row (see compgen.lm.int8); every path
            # (coder, scorer, byte view) runs the same quantised net.
            from .int8 import quantize_linears

            weights = weights or weights_digest(net)
            net = quantize_linears(net)
        self.net = net
        self.codec = codec
        self.base_spec = base_spec
        self.name = name
        self._weights = weights
        self.threads = int(threads) if threads else default_threads()
        self.batch = int(batch)
        # bytes per lockstep segment when compressing (0: the coder's plan). Encoder-only: a file
        # records its stream count, so any segment setting decodes it. segment=2048 codes 2048-byte
        # chunks as independent cold-started streams of one batch (the bench's chunked LM rows).
        try:
            self.segment = int(segment)
        except (TypeError, ValueError):
            raise UsageError(f"segment must be a byte count, not {segment!r}") from None
        if self.segment < 0:
            raise UsageError("segment must be >= 0")
        self.dtype = str(dtype)
        self.score_dtype = str(score_dtype).lower()
        if self.score_dtype not in ("auto", "float32", "bfloat16"):
            raise UsageError(f"score_dtype must be auto, float32 or bfloat16, not {score_dtype!r}")
        self.code_dtype = str(code_dtype).lower()
        if self.code_dtype not in ("auto", "float32", "bfloat16"):
            raise UsageError(f"code_dtype must be auto, float32 or bfloat16, not {code_dtype!r}")
        self.window = min(int(window), self.position_limit()) if window else self.default_window()
        if self.threads < 1 or self.batch < 1:
            raise UsageError("threads and batch must be >= 1")
        if self.window < 8:
            raise UsageError("window must be >= 8 tokens")
        self._byte_view = None
        self._prefix_scorer = None
        self._window_set = bool(window)  # a window= in the spec also sets the scoring window

    # ---------------------------------------------------------------- identity
    def position_limit(self) -> int:
        cfg = self.net.config
        for key in ("n_positions", "max_position_embeddings", "n_ctx"):
            v = getattr(cfg, key, None)
            if isinstance(v, int) and v > 0:
                return v
        return 2048

    @property
    def spec(self) -> str:
        parts = [self.base_spec, f"threads={self.threads}"]
        if self.batch != DEFAULT_BATCH:
            parts.append(f"batch={self.batch}")
        if self.window != self.default_window():
            parts.append(f"window={self.window}")
        if self.dtype != "float32":
            parts.append(f"dtype={self.dtype}")
        if self.quant != "none":
            parts.append(f"quant={self.quant}")
        if not self.mix:
            parts.append("mix=0")
        if self.segment:
            parts.append(f"segment={self.segment}")
        if self.score_dtype != "auto":
            parts.append(f"score_dtype={self.score_dtype}")
        if self.code_dtype != "auto":
            parts.append(f"code_dtype={self.code_dtype}")
        if self.head != "auto":
            parts.append(f"head={self.head}")
        if self.head_lr != lr_units(DEFAULT_LR):
            parts.append(f"head_lr={lr_text(self.head_lr)}")
        return ":".join(parts)

    def default_window(self) -> int:
        """Token LMs: 512 tokens (~1.9 KB of text; SmolLM2 on alice29 with 32 segments:
        1.158 bits/byte against 1.149 with each segment's whole past, at 320 B/s)."""
        limit = self.position_limit()
        return limit if self.codec.kind == "bytes" else min(DEFAULT_TOKEN_WINDOW, limit)

    def weights(self) -> str:
        if self._weights is None:
            self._weights = weights_digest(self.net)
        return self._weights

    def fingerprint_data(self) -> dict:
        import torch
        import transformers

        return {"kind": "lm", "arch": type(self.net).__name__, "weights": self.weights(), "dtype": self.dtype,
                "quant": self.quant,
                "codec": self.codec.digest(), "torch": torch.__version__, "transformers": transformers.__version__}

    @property
    def n_params(self) -> int:
        return self._stored[0]

    @property
    def size_bytes(self) -> int:
        return self._stored[1]

    @property
    def max_context(self) -> int:
        """Bytes of context that fit the window (byte LMs exactly; token LMs ~3 bytes/token)."""
        return self.window - 1 if self.codec.kind == "bytes" else 3 * (self.window - 1)

    # ---------------------------------------------------------------- compute
    def scoring_bf16(self) -> bool:
        """Whether teacher-forced scoring (score, bench cross-entropy rows) runs its matrix
        products in bfloat16 (torch autocast; logits and log-softmax are float32).

        ``auto``: yes for a float32 model of >= 50M parameters on a CPU with native bf16 dot
        products (avx512_bf16 / AMX). Measured on SmolLM2, first 60 KB of alice29 (idle, 2
        cores): 1.82x faster, 1.141707 against 1.141767 bits/byte (-0.005 %). Tiny models gain
        nothing and stay float32. The coder and the ICL scorer never use this path: their
        floats are the model's own (``score_dtype=float32`` forces the float32 path here too).
        """
        if self.score_dtype != "auto":
            return self.score_dtype == "bfloat16" and self.dtype == "float32"
        return self._bf16_pays()

    def _bf16_pays(self) -> bool:
        """The ``auto`` rule of both bf16 paths: a float32 model big enough (>= 50M parameters)
        for bf16 matrix products to win, on a CPU that computes them natively."""
        return self.dtype == "float32" and self.n_params >= 50_000_000 and cpu_has_bf16()

    def coding_bf16(self) -> bool:
        """Whether compressing steps the model with bfloat16 matrix products and KV cache
        (residual stream, norms, softmax and logits float32). Recorded in the file: the
        decoder follows the file, whatever its own setting.

        ``auto``: yes for a float32 Llama-family model of >= 50M parameters on a CPU with
        native bf16 dot products (the same rule as :meth:`scoring_bf16`; figures in
        docs/lm.md). ``bfloat16`` asks for it on any float32 Llama net; ``float32`` never.
        """
        from .stepper import supports_bf16

        if self.code_dtype == "float32" or self.quant != "none" or self.dtype != "float32":
            return False
        if self.code_dtype == "bfloat16":
            if not supports_bf16(self.net):
                raise UsageError("code_dtype=bfloat16 needs a float32 Llama-family model")
            return True
        return self._bf16_pays() and supports_bf16(self.net)

    def head_units(self) -> int:
        """The adaptive head's learning rate in units of 2^-16 when compressing, 0 without a head.
        Recorded in the file: the decoder follows the file, whatever its own setting.

        ``auto``: on for token LMs (chosen by measurement on the Canterbury texts with SmolLM2,
        docs/lm.md), off for byte LMs (not measured)."""
        on = self.head == "1" or (self.head == "auto" and self.codec.kind == "tokens")
        return self.head_lr if on else 0

    def set_threads(self) -> None:
        import torch

        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)

    def forward(self, ids: np.ndarray, cache=None):
        """Last-position float32 logits [S, V] for ids [S, T] after ``cache``; returns (logits, cache)."""
        import torch

        self.set_threads()
        with torch.inference_mode():
            out = self.net(input_ids=torch.as_tensor(np.asarray(ids, dtype=np.int64)), cache=cache,
                           use_cache=True, logits_to_keep=1)
        return out.logits[:, -1, :].float().numpy(), out.cache

    def all_logits(self, ids: np.ndarray) -> np.ndarray:
        """float32 logits at every position of ids [S, T] (teacher forcing, no cache)."""
        import torch

        self.set_threads()
        with torch.inference_mode():
            out = self.net(input_ids=torch.as_tensor(np.asarray(ids, dtype=np.int64)), use_cache=False)
        return out.logits.float().numpy()

    def target_logprobs(self, ids: np.ndarray) -> np.ndarray:
        """Natural-log probability of ids[1:] given the ones before (one sequence, teacher forcing).

        Runs the trunk once and the output layer in slices, so a 2048-token window never
        materialises 2048 x vocab logits at once.
        """
        import torch

        self.set_threads()
        ids_t = torch.as_tensor(np.asarray(ids, dtype=np.int64))[None, :]
        with torch.inference_mode():
            hidden = self.net.base_model(input_ids=ids_t, use_cache=False).last_hidden_state[0, :-1]
            head = self.net.get_output_embeddings()
            out = []
            for lo in range(0, hidden.shape[0], 256):
                logits = head(hidden[lo: lo + 256]).float().double()
                tgt = ids_t[0, lo + 1: lo + 1 + logits.shape[0]]
                out.append((logits.gather(1, tgt[:, None])[:, 0] - torch.logsumexp(logits, dim=1)).numpy())
        return np.concatenate(out) if out else np.zeros(0)

    # ---------------------------------------------------------------- Model API
    def next_byte_probs(self, context: bytes) -> np.ndarray:
        if self.codec.kind == "bytes":
            ctx = np.frombuffer(bytes(context)[-(self.window - 1):], dtype=np.uint8).astype(np.int64)
            logits = self.all_logits(np.concatenate([[self.codec.bos_id], ctx])[None, :])[0, -1, :256]
            return softmax64(logits)
        if self._byte_view is None:
            from .byte_view import ByteView

            self._byte_view = ByteView(self)
        return self._byte_view.next_byte_probs(bytes(context))

    def token_bits(self, tokens: np.ndarray, context_tokens: np.ndarray | None = None, *,
                   window: int | None = None, overlap: int | None = None, batch: int | None = None) -> float:
        """Teacher-forced bits of ``tokens`` after ``context_tokens`` over sliding windows.

        Each window re-reads ``overlap`` tokens of the one before as context; windows are
        scored ``batch`` at a time (see :func:`score_windows`, :meth:`windows_logprobs`).
        Defaults: SCORE_WINDOW / SCORE_OVERLAP / SCORE_BATCH (chosen by benchmarks/lm_score.py).
        """
        tokens = np.asarray(tokens, dtype=np.int64)
        ctx = np.asarray(context_tokens if context_tokens is not None else [], dtype=np.int64)
        if tokens.size == 0:
            return 0.0
        w, overlap, batch = self.score_settings(window, overlap, batch)
        seq = np.concatenate([ctx[-overlap:] if overlap else ctx[:0], tokens])
        spans = score_windows(len(seq), len(seq) - len(tokens), w, overlap)
        logps = self.windows_logprobs([np.concatenate([[self.codec.bos_id], seq[lo:hi]]) for lo, hi, _ in spans],
                                      batch)
        # row r of a window's log-probs predicts seq[lo + r]
        return -sum(float(lp[start - lo:].sum()) for lp, (lo, _, start) in zip(logps, spans)) / np.log(2)

    def score_settings(self, window=None, overlap=None, batch=None) -> tuple[int, int, int]:
        """(tokens after BOS per window, overlap, windows per forward) for teacher-forced scoring."""
        window = window or (self.window if self._window_set else SCORE_WINDOW)
        w = min(int(window), self.position_limit()) - 1
        overlap = min(int(SCORE_OVERLAP if overlap is None else overlap), w // 2)
        batch = max(1, int(batch or SCORE_BATCH))
        if w < 4 or overlap < 0:
            raise UsageError("score window must be >= 5 tokens and overlap >= 0")
        return w, overlap, batch

    def windows_logprobs(self, windows: list[np.ndarray], batch: int = 1, float64: bool = False,
                         visit=None) -> list[np.ndarray]:
        """Natural-log probability of ids[1:] of each window, ``batch`` windows per trunk forward.

        Windows of a batch are right-padded to the longest: the causal mask keeps padding out
        of every kept position. The output layer runs in row slices, so a batch never holds
        batch x length x vocab logits at once. ``float64``: the old all-float64 log-softmax
        (reference); else float32 exp with blocked sums (see :mod:`compgen.lm.log_softmax`).
        ``visit(window, row, e, z)``, if given, sees each slice's float32 ``e = exp(logits -
        row max)`` (rows ``row..`` of that window) and the rows' float64 sums ``z``, the very
        values the log-probabilities come from, and must not change them (``cgz explain``
        reads the top predictions and the prefix masses there).
        """
        import torch

        self.set_threads()
        out: list = [None] * len(windows)
        order = sorted(range(len(windows)), key=lambda i: -len(windows[i]))  # equal lengths share a batch
        head = self.net.get_output_embeddings()
        bf16 = self.scoring_bf16()
        from .big_vocab import BIG_VOCAB, blocked_target_logprobs

        big = None  # large vocabularies: the output layer by column blocks (compgen.lm.big_vocab)
        if not float64 and type(head) is torch.nn.Linear and head.bias is None and head.weight.shape[0] >= BIG_VOCAB:
            big = head.weight.detach().to(torch.bfloat16) if bf16 else head.weight.detach()
        with torch.inference_mode():
            for b in range(0, len(order), batch):
                group = order[b: b + batch]
                length = len(windows[group[0]])
                ids = np.zeros((len(group), length), dtype=np.int64)
                for row, i in enumerate(group):
                    ids[row, :len(windows[i])] = windows[i]
                ids_t = torch.as_tensor(ids)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    hidden = self.net.base_model(input_ids=ids_t, use_cache=False).last_hidden_state
                for row, i in enumerate(group):
                    n = len(windows[i]) - 1
                    h, tgt = hidden[row, :n], ids_t[row, 1: n + 1]
                    parts = []
                    for lo in range(0, n, HEAD_ROWS):
                        if big is not None:
                            parts.append(blocked_target_logprobs(h[lo: lo + HEAD_ROWS], big, tgt[lo: lo + HEAD_ROWS], bf16))
                            continue
                        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                            logits = head(h[lo: lo + HEAD_ROWS])
                        logits = logits.float()
                        if float64:
                            parts.append(float64_logprobs(logits, tgt[lo: lo + HEAD_ROWS]))
                            continue
                        logp, e, z = target_logprobs_exp(logits, tgt[lo: lo + HEAD_ROWS])
                        if visit is not None:
                            visit(i, lo, e, z)
                        parts.append(logp)
                    out[i] = np.concatenate(parts) if parts else np.zeros(0)
        return out

    def code_length(self, data: bytes, context: bytes = b"") -> float:
        """Bits of ``data`` after ``context``: a short continuation is scored like a candidate
        (every covering tokenization, :meth:`code_lengths`); longer data (a file, not a
        continuation) by the teacher-forced cross-entropy of the codec's tokens."""
        data = bytes(data)
        if not data:
            return 0.0
        if len(data) <= self.prefix_scorer.tree_bytes:
            return float(self.code_lengths([data], context)[0])
        ctx_tokens = self.codec.encode(bytes(context)[-4 * self.window:]) if context else None
        return self.token_bits(self.codec.encode(data), ctx_tokens)

    def code_lengths(self, candidates: Sequence[bytes], context: bytes = b"") -> np.ndarray:
        """-log2 P(output after the context's tokens starts with the bytes c), every covering
        tokenization summed, all candidates from one prompt cache (see compgen.lm.prefix_scorer)."""
        return self.prefix_scorer.code_lengths(candidates, context)

    @property
    def prefix_scorer(self):
        if self._prefix_scorer is None:
            from .prefix_scorer import PrefixScorer

            self._prefix_scorer = PrefixScorer(self)
        return self._prefix_scorer

    def payload_coder(self):
        from .coder import TokenRangeCoder

        return TokenRangeCoder(self)


def score_windows(n: int, first: int, room: int, overlap: int) -> list[tuple[int, int, int]]:
    """(lo, hi, start) per window over a sequence of ``n`` tokens whose scored part begins at
    ``first``: the window holds seq[lo:hi] (at most ``room`` tokens), scores seq[start:hi] and
    sees ``overlap`` tokens before ``start`` (fewer at the beginning)."""
    spans, start = [], first
    while start < n:
        lo = max(0, start - overlap)
        hi = min(n, lo + room)
        spans.append((lo, hi, start))
        start = hi
    return spans
