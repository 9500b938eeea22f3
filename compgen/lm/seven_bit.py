"""Token LMs on non-text bytes, exactly: high 7 bits as ASCII to the LM, low bit adaptive.

Delétang et al. (2024) feed image and audio bytes to Chinchilla as 7-bit ASCII by
dropping each byte's low bit, and rescale the rate: lossy. :class:`SevenBitModel` keeps
the idea and makes it lossless. Byte ``b`` is split into ``b >> 1`` (an ASCII byte, coded
by the wrapped LM through its own coder, so text-like statistics apply) and ``b & 1``
(coded by a small adaptive binary model). The low-bit model is picked per input from
four candidates by their exact code length, recorded in the coder settings: raw bits,
one adaptive (Krichevsky-Trofimov) counter, counters by the previous low bit, counters
by the byte's own high 7 bits (which nearly determine it around silence in 8-bit
audio: 127 = 63|1, 128 = 64|0). So the low bit never costs more than 1 bit/byte plus a
few bytes of coder flush.

The spec is ``7bit:<LM spec>``; ``lossy_bits`` gives the paper's 7-bit figure.
"""

from __future__ import annotations

import struct

import numpy as np

from ..coding.format import CoderFormat, coder_format, format_by_id
from ..errors import RefusedError, UsageError
from ..model import Model

NAME = "lm-7bit-v1"
LOW_MODELS = ("raw", "kt", "prev", "high")


def _pack_settings(settings: dict) -> bytes:
    """low-bit model index, then the wrapped LM coder's own id and packed settings (~20 bytes)."""
    inner = settings.get("lm") or {}
    fmt = coder_format(str(inner.get("coder")))
    return bytes([LOW_MODELS.index(settings["low"]), fmt.id]) + fmt.pack(inner)


def _unpack_settings(raw: bytes) -> dict:
    if len(raw) < 2 or raw[0] >= len(LOW_MODELS) or raw[1] == 11:
        raise ValueError("bad 7-bit settings")
    return {"coder": NAME, "low": LOW_MODELS[raw[0]], "lm": format_by_id(raw[1]).unpack(raw[2:])}


FORMATS = (CoderFormat(11, NAME, _pack_settings, _unpack_settings),)


def split(data: bytes) -> tuple[bytes, np.ndarray]:
    """bytes -> (ASCII string of the high 7 bits, uint8 array of low bits)."""
    a = np.frombuffer(bytes(data), dtype=np.uint8)
    return (a >> 1).astype(np.uint8).tobytes(), (a & 1).astype(np.uint8)


def join(high: bytes, low: np.ndarray) -> bytes:
    h = np.frombuffer(bytes(high), dtype=np.uint8)
    if len(h) != len(low) or (len(h) and h.max() > 127):
        raise RefusedError("corrupt compgen file (7-bit parts do not fit together)")
    return ((h.astype(np.uint8) << 1) | low.astype(np.uint8)).tobytes()


def _contexts(kind: str, high: bytes, low: np.ndarray) -> np.ndarray | None:
    """Context id of every low bit (None for raw); only past low bits and the known high bits."""
    n = len(low)
    if kind == "raw":
        return None
    if kind == "kt":
        return np.zeros(n, dtype=np.int64)
    if kind == "prev":
        return np.concatenate([[2], low[:-1]]).astype(np.int64) if n else np.zeros(0, np.int64)
    return np.frombuffer(bytes(high), dtype=np.uint8).astype(np.int64)


def _kt_probs(ctx: np.ndarray, bits: np.ndarray | None, decode_fn=None):
    """Sequential KT probabilities [p0, p1] per position; encode (bits given) or decode."""
    counts = np.full((int(ctx.max()) + 1 if len(ctx) else 1, 2), 0.5)
    out = np.zeros(len(ctx), dtype=np.uint8)
    rows = np.zeros((len(ctx), 2))
    for i, c in enumerate(ctx.tolist()):
        p = counts[c] / counts[c].sum()
        rows[i] = p
        b = int(bits[i]) if bits is not None else decode_fn(p)
        out[i] = b
        counts[c, b] += 1.0
    return rows, out


def low_bits_cost(kind: str, high: bytes, low: np.ndarray) -> float:
    """Ideal bits of the low bits under one candidate model."""
    ctx = _contexts(kind, high, low)
    if ctx is None:
        return float(len(low))
    rows, _ = _kt_probs(ctx, low)
    return float(-np.log2(rows[np.arange(len(low)), low]).sum()) if len(low) else 0.0


class SevenBitCoder:
    """Payload = u32 length of the LM payload, the LM payload, the low-bit payload."""

    name = NAME

    def __init__(self, model: "SevenBitModel"):
        self.model = model
        self.inner = model.lm.payload_coder()

    def encode(self, data: bytes, progress=None):
        from ..coding.range_coder import SymbolEncoder

        high, low = split(data)
        lm_payload, lm_settings, lm_bits = self.inner.encode(high, progress)
        costs = {k: low_bits_cost(k, high, low) for k in LOW_MODELS}
        kind = min(LOW_MODELS, key=lambda k: costs[k])
        if kind == "raw":
            low_payload = np.packbits(low).tobytes()
        else:
            enc = SymbolEncoder()
            rows, _ = _kt_probs(_contexts(kind, high, low), low)
            enc.encode_batch(low.astype(np.int64), rows)
            low_payload = enc.finish()
        settings = {"coder": NAME, "lm": lm_settings, "low": kind}
        return struct.pack("<I", len(lm_payload)) + lm_payload + low_payload, settings, lm_bits + costs[kind]

    def max_length(self, payload_len: int, settings: dict) -> int | None:
        """The wrapped coder's bound: one high byte per original byte."""
        bound = getattr(self.inner, "max_length", None)
        inner = settings.get("lm") if isinstance(settings.get("lm"), dict) else {}
        return None if bound is None else bound(max(0, payload_len - 4), inner)

    def decode(self, payload: bytes, length: int, settings: dict, progress=None) -> bytes:
        from ..coding.range_coder import SymbolDecoder

        if settings.get("coder") != NAME or settings.get("low") not in LOW_MODELS:
            raise RefusedError(f"file was written by coder {settings.get('coder')!r}; this model decodes {NAME!r}")
        if len(payload) < 4:
            raise RefusedError("corrupt compgen file (7-bit payload too short)")
        (n,) = struct.unpack_from("<I", payload)
        if 4 + n > len(payload):
            raise RefusedError("corrupt compgen file (7-bit payload cut off)")
        high = self.inner.decode(payload[4: 4 + n], length, settings.get("lm") or {}, progress)
        rest = payload[4 + n:]
        kind = settings["low"]
        if kind == "raw":
            low = np.unpackbits(np.frombuffer(rest, dtype=np.uint8))[:length]
            if len(low) != length:
                raise RefusedError("corrupt compgen file (low bits cut off)")
        else:
            dec = SymbolDecoder(rest)
            n_ctx = 3 if kind == "prev" else (128 if kind == "high" else 1)
            counts = np.full((n_ctx, 2), 0.5)
            hv = np.frombuffer(bytes(high), dtype=np.uint8)
            low = np.zeros(length, dtype=np.uint8)
            prev = 2
            for i in range(length):
                c = 0 if kind == "kt" else (prev if kind == "prev" else int(hv[i]) if i < len(hv) else 0)
                b = dec.decode(counts[c] / counts[c].sum())
                low[i] = b
                counts[c, b] += 1.0
                prev = b
        return join(high, low)


class SevenBitModel(Model):
    """Wraps a token LM so that it codes any bytes exactly through 7-bit ASCII."""

    def __init__(self, lm: Model):
        if getattr(getattr(lm, "codec", None), "kind", None) != "tokens":
            raise UsageError("7bit: wraps a token LM (smollm2, hf:..., gguf:...)")
        self.lm = lm
        self.name = f"7bit-{lm.name}"

    @property
    def spec(self) -> str:
        return f"7bit:{self.lm.spec}"

    def fingerprint_data(self) -> dict:
        return {"kind": "7bit", "coder": NAME, "inner": self.lm.fingerprint_data()}

    @property
    def n_params(self):
        return getattr(self.lm, "n_params", None)

    @property
    def size_bytes(self):
        return getattr(self.lm, "size_bytes", 0)

    @property
    def max_context(self):
        return self.lm.max_context

    def next_byte_probs(self, context: bytes) -> np.ndarray:
        high, low = split(context)
        p_hi = np.asarray(self.lm.next_byte_probs(high), dtype=np.float64)[:128]
        p_hi = p_hi / p_hi.sum()
        p_lo = (float(low.sum()) + 0.5) / (len(low) + 1.0)  # sampling view: one KT counter
        out = np.empty(256)
        out[0::2] = p_hi * (1 - p_lo)
        out[1::2] = p_hi * p_lo
        return out

    def lossy_bits(self, data: bytes, context: bytes = b"") -> float:
        """The paper's lossy figure: LM bits of the 7-bit string alone (low bits dropped)."""
        return float(self.lm.code_length(split(data)[0], split(context)[0] if context else b""))

    def code_length(self, data: bytes, context: bytes = b"") -> float:
        high, low = split(data)
        return self.lossy_bits(data, context) + min(low_bits_cost(k, high, low) for k in LOW_MODELS)

    def payload_coder(self):
        return SevenBitCoder(self)

    def close(self):
        close = getattr(self.lm, "close", None)
        if callable(close):
            close()


def load(inner: str = "smollm2", **kw) -> SevenBitModel:
    """``7bit:SPEC[:KEY=VALUE...]``: the keys go to the wrapped LM's spec."""
    from ..registry import load as load_spec

    if str(inner).split(":", 1)[0].lower() == "7bit":
        raise UsageError("7bit: cannot wrap itself")
    return SevenBitModel(load_spec(str(inner), **kw))


#: what a token LM gets on image and audio bytes under ``scheme="auto"``: the exact 7-bit
#: scheme (benchmarks/results/media_lm.json: SmolLM2 on image patches and speech costs
#: several bits/byte less with it than through the token codec's escapes)
AUTO_SCHEME = "7bit"
CODEC_FAMILIES = {"gzip", "zlib", "deflate", "zstd", "brotli", "xz", "lzma", "bz2", "bzip2", "ppmd", "png", "flac",
                  "zpaq", "jxl", "jpegxl", "webp"}


def spec_for_modality(spec: str, modality: str, scheme: str = "auto") -> str:
    """The spec to run on ``modality`` bytes: token LMs on image/audio go through ``7bit:``
    unless ``scheme`` is "escape"; codecs, byte-level LMs and text are left alone."""
    if scheme not in ("auto", "7bit", "escape"):
        raise UsageError(f"unknown byte scheme {scheme!r}; use auto, 7bit or escape")
    name = spec.split(":", 1)[0].strip().lower()
    if modality not in ("image", "audio") or name in CODEC_FAMILIES | {"7bit", "byte-lm"}:
        return spec
    return f"7bit:{spec}" if (AUTO_SCHEME if scheme == "auto" else scheme) == "7bit" else spec


def bits_summary(model: SevenBitModel, data: bytes) -> dict:
    """exact and lossy bits/byte of ``data`` (one chunk), for reports."""
    n = len(data)
    lossy = model.lossy_bits(data)
    exact = model.code_length(data)
    return {"exact_bpb": exact / n, "lossy_bpb": lossy / n, "lossy_rescaled_bpb": lossy / n * 8 / 7,
            "low_bpb": (exact - lossy) / n} if n else {}

