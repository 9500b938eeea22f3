"""Incremental decoding of many streams at once: the hot loop of the LM coder.

A stepper holds the KV cache of ``streams`` sequences that advance together. ``prime``
starts every stream afresh from a block of ids; ``step`` appends one id per stream.
Both return the float32 logits at the last position, one row per stream.

:class:`LlamaStepper` runs Llama-family weights (SmolLM2, the byte LMs ``cgz train``
writes) with fused projections and a preallocated ring cache: transformers' dynamic
cache copies itself on every step (``torch.cat`` per layer) and its attention repeats
the grouped key/value heads, while here a step writes one slot per layer and reads a
bounded window. :class:`GenericStepper` wraps any other transformers causal LM.
Either way the floats depend on the exact sequence of calls, which is why encoder and
decoder of :mod:`compgen.lm.coder` drive the same stepper through the same loop.
"""

from __future__ import annotations

import weakref

import numpy as np


def make_stepper(model, streams: int, window: int, positions: int, bf16: bool = False, full_ring: bool = False):
    """The fastest stepper that runs ``model.net``: attends to the last ``window`` positions
    and runs up to ``positions`` positions before it must be primed again (``horizon``).
    ``bf16``: matrix products and the KV cache in bfloat16 (Llama stepper only).
    ``full_ring``: while the ring fills, attend over all of it with the empty slots masked."""
    if LlamaStepper.supports(model.net):
        return LlamaStepper(model.net, streams, window, positions, bf16=bf16, full_ring=full_ring)
    from .gemma import GemmaStepper

    if GemmaStepper.supports(model.net):
        return GemmaStepper(model.net, streams, window, positions, bf16=bf16, threads=model.threads,
                            full_ring=full_ring)
    if bf16 or full_ring:
        raise ValueError("bf16 and full-ring stepping need a Llama-family or Gemma 3 float model")
    return GenericStepper(model, window)


def has_own_stepper(net) -> bool:
    """A stepper of compgen's own runs this net (Llama family, Gemma 3): ring cache, batch
    that finished streams can leave, bf16 products."""
    from .gemma import GemmaStepper

    return LlamaStepper.supports(net) or GemmaStepper.supports(net)


def supports_bf16(net) -> bool:
    """bf16 stepping is defined for float32 Llama and Gemma 3 nets without int8 layers."""
    import torch

    from .int8 import RowInt8Linear

    return (has_own_stepper(net) and all(p.dtype == torch.float32 for p in net.parameters())
            and not any(isinstance(mod, RowInt8Linear) for mod in net.modules()))


class GenericStepper:
    """Any transformers causal LM through its own cache (``DynamicCache``)."""

    def __init__(self, model, window: int):
        self.model = model
        self.horizon = window  # its cache only grows: prime again when it holds a window
        self.cache = None
        self.length = 0

    def prime(self, ids: np.ndarray) -> np.ndarray:
        logits, self.cache = self.model.forward(ids)
        self.length = ids.shape[1]
        return logits

    def step(self, ids: np.ndarray) -> np.ndarray:
        logits, self.cache = self.model.forward(np.asarray(ids)[:, None], self.cache)
        self.length += 1
        return logits


class FusedLlama:
    """A Llama net's weights laid out for stepping: q|k|v and gate|up fused per layer.

    Built once per net (``fused``) and shared by every stepper over it: fusing copies
    ~400 MB for SmolLM2, and int8 layers quantise again, which a file coded in many chunks
    would otherwise pay per chunk.
    """

    def __init__(self, net, bf16: bool = False):
        import functools

        import torch
        import torch.nn.functional as F

        from .int8 import RowInt8Linear

        base = net.model
        int8 = isinstance(base.layers[0].self_attn.q_proj, RowInt8Linear)
        half = torch.bfloat16

        def bf16_linear(weight):
            """bf16 inputs and weights (float32 accumulation inside the kernel), float32 out."""
            w16 = weight.to(half)
            return lambda x: F.linear(x.to(half), w16).float()

        def linear(weight):
            """One fused projection; int8 rows are independent, so fusing changes no float."""
            if bf16:
                return bf16_linear(weight)
            return RowInt8Linear(weight) if int8 else functools.partial(F.linear, weight=weight)

        cfg = net.config
        self.heads = cfg.num_attention_heads
        self.kv_heads = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.heads
        self.eps = float(cfg.rms_norm_eps)
        self.rotary = base.rotary_emb
        self.dtype = base.embed_tokens.weight.dtype
        with torch.inference_mode():
            self.embed = base.embed_tokens.weight.detach()
            self.layers = []
            for layer in base.layers:
                a, f = layer.self_attn, layer.mlp
                self.layers.append((
                    layer.input_layernorm.weight.detach(),
                    linear(torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]).detach().contiguous()),
                    linear(a.o_proj.weight.detach()),
                    layer.post_attention_layernorm.weight.detach(),
                    linear(torch.cat([f.gate_proj.weight, f.up_proj.weight]).detach().contiguous()),
                    linear(f.down_proj.weight.detach()),
                ))
            self.norm = base.norm.weight.detach()
            out = net.get_output_embeddings()
            if bf16:
                self.head = bf16_linear(out.weight.detach())
            else:
                self.head = linear(out.weight.detach()) if isinstance(out, RowInt8Linear) else \
                    functools.partial(F.linear, weight=out.weight.detach())
        self.cache_dtype = half if bf16 else self.dtype


_FUSED = (weakref.WeakKeyDictionary(), weakref.WeakKeyDictionary())


def fused(net, bf16: bool = False) -> FusedLlama:
    table = _FUSED[bool(bf16)]
    if net not in table:
        table[net] = FusedLlama(net, bf16)
    return table[net]


class LlamaStepper:
    """Llama decoder layers (RMSNorm, RoPE, grouped-query attention, SwiGLU) on a ring cache.

    The first ``SINKS`` positions keep their slots for good; position p >= SINKS writes its
    keys and values to ring slot ``SINKS + (p - SINKS) % (window - SINKS)``. Each step thus
    attends to the start of the segment plus the most recent positions, at a cost that
    does not grow with the segment. Dropping the first positions instead wrecks a model
    trained on full contexts (measured on SmolLM2 with a 512 ring: 1.33 against 1.15
    bits/byte on alice29, the "attention sink" of Xiao et al. 2023). Rotary embeddings
    depend only on distances, so the slot order does not change the math; it is fixed,
    so the floats are reproducible.

    While the ring fills, ``full_ring`` attends over all of its slots with the empty ones
    masked out: a slice of the filled slots has a batch stride the matrix kernels do not
    take, so each product copies it first (measured: 1.55 ms per layer at 511 of 512 slots
    against 0.39 ms for the whole ring, 32 streams, bf16). The two give different floats,
    hence the file flag.
    """

    SINKS = 4

    @staticmethod
    def supports(net) -> bool:
        import torch

        from .int8 import RowInt8Linear

        cfg = getattr(net, "config", None)
        plain = all(type(mod) in (torch.nn.Linear, RowInt8Linear)
                    for mod in net.modules() if "Linear" in type(mod).__name__)
        return (plain and getattr(cfg, "model_type", None) == "llama" and not getattr(cfg, "attention_bias", True)
                and not getattr(cfg, "mlp_bias", True) and getattr(cfg, "hidden_act", None) == "silu"
                and getattr(cfg, "pretraining_tp", 1) == 1
                and all(p.dtype.is_floating_point for p in net.parameters()))

    def __init__(self, net, streams: int, window: int, positions: int, bf16: bool = False, full_ring: bool = False):
        import torch

        self.bf16 = bool(bf16)
        self.full_ring = bool(full_ring)
        w = self.w = fused(net, bf16)
        self.group = w.heads // w.kv_heads
        self.scale = w.head_dim ** -0.5
        self.streams, self.window, self.horizon = int(streams), int(window), int(positions)
        with torch.inference_mode():
            # The model's own rotary module gives cos/sin for every position (any RoPE variant).
            pos = torch.arange(self.horizon)[None, :]
            cos, sin = w.rotary(torch.zeros(1, self.horizon, w.head_dim, dtype=w.dtype), pos)
            self.cos, self.sin = cos[0].to(w.dtype), sin[0].to(w.dtype)  # [positions, head_dim]
        shape = (len(w.layers), self.streams, w.kv_heads, self.window, w.head_dim)
        self.k_cache = torch.zeros(shape, dtype=w.cache_dtype)
        self.v_cache = torch.zeros(shape, dtype=w.cache_dtype)
        self.length = 0

    def slot(self, position: int) -> int:
        sinks = min(self.SINKS, self.window - 1)
        return position if position < sinks else sinks + (position - sinks) % (self.window - sinks)

    def _rms(self, x, w):
        import torch

        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.w.eps))

    def _rope(self, x, cos, sin):
        import torch

        half = self.w.head_dim // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rotated * sin

    def _forward(self, ids, start: int):
        """Run ids [S, T] at positions start..start+T-1 (T == 1 unless start == 0); last logits."""
        import torch
        import torch.nn.functional as F

        S, T = ids.shape
        end = start + T
        h = F.embedding(ids, self.w.embed)  # [S, T, D]
        cos = self.cos[start:end][None, None]  # [1, 1, T, hd]
        sin = self.sin[start:end][None, None]
        nq, nkv, hd = self.w.heads, self.w.kv_heads, self.w.head_dim
        for i, (ln1, wqkv, wo, ln2, wgu, wdown) in enumerate(self.w.layers):
            qkv = wqkv(self._rms(h, ln1))
            q = qkv[..., : nq * hd].view(S, T, nq, hd).transpose(1, 2)
            k = qkv[..., nq * hd: (nq + nkv) * hd].view(S, T, nkv, hd).transpose(1, 2)
            v = qkv[..., (nq + nkv) * hd:].view(S, T, nkv, hd).transpose(1, 2)
            q = self._rope(q, cos, sin)
            kc, vc = self.k_cache[i], self.v_cache[i]
            if T == 1:
                slot = self.slot(start)
                kc[:, :, slot: slot + 1] = self._rope(k, cos, sin)
                vc[:, :, slot: slot + 1] = v
                masked = self.full_ring and end < self.window
                # the whole ring once it is full (or, full_ring, while it fills: empty slots masked)
                keys, values = (kc, vc) if masked else (kc[:, :, :end], vc[:, :, :end])
                # Grouped heads as a batch of [group, hd] queries per kv head: no repeated keys.
                qg = q.reshape(S, nkv, self.group, hd)
                if self.bf16:  # bf16 scores (float32 accumulation), float32 softmax
                    scores = torch.matmul(qg.to(kc.dtype), keys.transpose(-1, -2)).float() * self.scale
                else:
                    scores = torch.matmul(qg, keys.transpose(-1, -2)) * self.scale
                if masked:
                    scores[..., end:] = float("-inf")
                att = torch.softmax(scores, dim=-1)
                if self.bf16:
                    out = torch.matmul(att.to(kc.dtype), values).reshape(S, 1, nq * hd).float()
                else:
                    out = torch.matmul(att, values).reshape(S, 1, nq * hd)
            else:
                keys, values = self._rope(k, cos, sin), v
                if self.bf16:
                    keys, values, q = keys.to(kc.dtype), values.to(kc.dtype), q.to(kc.dtype)
                kc[:, :, :T] = keys
                vc[:, :, :T] = values
                out = F.scaled_dot_product_attention(q, keys, values, is_causal=True, enable_gqa=True)
                out = out.transpose(1, 2).reshape(S, T, nq * hd)
                if self.bf16:
                    out = out.float()
            h = h + wo(out)
            gu = wgu(self._rms(h, ln2))
            gate, up = gu.chunk(2, dim=-1)
            h = h + wdown(F.silu(gate) * up)
        last = self._rms(h[:, -1], self.w.norm)
        return self.w.head(last).float().numpy()

    def prime(self, ids: np.ndarray) -> np.ndarray:
        import torch

        ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
        if ids.shape[0] != self.streams or not 0 < ids.shape[1] <= min(self.window, self.horizon):
            raise ValueError("prime: ids must be [streams, 1..window]")
        with torch.inference_mode():
            logits = self._forward(ids, 0)
        self.length = ids.shape[1]
        return logits

    def keep(self, rows: np.ndarray) -> None:
        """Only these rows (streams) stay in the batch: later steps and primes take and return
        ``len(rows)`` rows. Copies the cache once; every later step is cheaper."""
        import torch

        idx = torch.as_tensor(np.asarray(rows, dtype=np.int64))
        self.k_cache = self.k_cache.index_select(1, idx)
        self.v_cache = self.v_cache.index_select(1, idx)
        self.streams = len(idx)

    def step(self, ids: np.ndarray) -> np.ndarray:
        import torch

        if self.length >= self.horizon:
            raise ValueError("step: past the last position; prime again")
        ids = torch.as_tensor(np.asarray(ids, dtype=np.int64)).reshape(self.streams, 1)
        with torch.inference_mode():
            logits = self._forward(ids, self.length)
        self.length += 1
        return logits

