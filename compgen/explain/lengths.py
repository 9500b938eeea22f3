"""Per-byte code lengths of any Model: where its bits go.

For every Model, byte ``i`` of ``x`` costs ``-log2 p(x_i | x_<i)``, and the per-byte
values add up to the Model's code length of ``x`` (what ``cgz score`` reports):

* codecs (the paper's definition, ``p(x) = 2^-len_bits(C(x))``): byte ``i`` costs
  ``8 * (|C(x[:i+1])| - |C(x[:i])|)`` bits, the growth of the compressed size of the
  prefix. It telescopes to ``8 * (|C(x)| - |C(empty)|)``, the codec Model's code length.
  Byte-granular: most bytes cost 0 or 8 bits, and a byte can even cost negative bits
  (deflate re-plans its last block). Fast exact routes: deflate continues a copy of one
  compressor per prefix (``compressobj.copy()``), PPMd (variant H) reads the range coder's
  emitted bytes while it streams (:func:`ppmd_prefix_sizes`); other codecs compress the
  prefixes at a stride chosen from a time budget, and each stride's bits are spread evenly
  over its bytes (``resolution`` says how many bytes share one value);
* token LMs: :mod:`compgen.explain.tokens` (teacher-forced token bits, split over each
  token's bytes by the model's own next-token distribution);
* ``7bit:`` LMs: the high 7 bits under the LM plus the low bit under the adaptive model
  the coder picks;
* any other Model: its predictive code length, byte by byte.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..errors import CompgenError
from ..model import Model
from .byte_lengths import ByteLengths

#: seconds of codec work a strided prefix route may spend on one input (all its pieces)
DEFAULT_BUDGET = 20.0


def spread(cuts: list[int], sizes: list[int]) -> np.ndarray:
    """Bits per byte from compressed sizes (bytes) of the prefixes ending at ``cuts``:
    each step's ``8 * growth`` shared evenly by the bytes of that step."""
    n = cuts[-1]
    out = np.zeros(n, dtype=np.float64)
    for j in range(len(cuts) - 1):
        a, b = cuts[j], cuts[j + 1]
        if b > a:
            out[a:b] = 8.0 * (sizes[j + 1] - sizes[j]) / (b - a)
    return out


# ------------------------------------------------------------------ deflate
def deflate_prefix_sizes(model, data: bytes, advance=lambda n: None) -> list[int]:
    """``|C(data[:i])|`` for every i (0..n) under a gzip/zlib/deflate Model, exactly.

    One compressor is fed the data byte by byte; after each byte a copy of it is finished.
    Both halves of the input run on their own thread (zlib releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    n = len(data)
    empty = model.compressed_size(b"")

    def part(lo: int, hi: int) -> list[int]:
        co = model._compressobj()
        head = len(co.compress(data[:lo])) if lo else 0
        out = []
        for i in range(lo, hi):
            head += len(co.compress(data[i:i + 1]))
            out.append(head + len(co.copy().flush()))
            if (i - lo) % 256 == 255:
                advance(256)
        advance((hi - lo) % 256)
        return out

    if n < 4096 or model.threads < 2:
        return [empty] + part(0, n)
    mid = n // 2  # a copy and a finish cost the same anywhere in the input
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.submit(part, 0, mid), pool.submit(part, mid, n)
        return [empty] + a.result() + b.result()


# ------------------------------------------------------------------ PPMd
def ppmd_prefix_sizes(model, data: bytes, advance=lambda n: None) -> list[int] | None:
    """``|C(data[:i])|`` for every i under a PPMd variant H Model, exactly; None if the
    stream does not follow the rule below (the caller then compresses every prefix).

    PPMd H codes with 7-Zip's range coder: after i bytes it has emitted ``E_i`` bytes and
    holds ``c_i`` pending ones (a cache byte, then 0xFF bytes waiting for a carry); its
    flush writes them and 4 more, so ``|C(x[:i])| = E_i + c_i + 4``. ``c_i > 1`` only
    when the output byte after the cache byte is 0x00 or 0xFF, so every other prefix is
    ``E_i + 5`` and only those few are compressed for real (in the Model's workers)."""
    import pyppmd

    if getattr(model, "variant", "H") != "H":
        return None
    enc = pyppmd.Ppmd7Encoder(model.order, model.mem)
    emitted = np.zeros(len(data) + 1, dtype=np.int64)
    chunks = []
    total = 0
    for i in range(len(data)):
        out = enc.encode(data[i:i + 1])
        if out:
            chunks.append(out)
            total += len(out)
        emitted[i + 1] = total
        if i % 4096 == 4095:
            advance(4096)
    chunks.append(enc.flush())
    stream = b"".join(chunks)
    advance(len(data) % 4096)
    sizes = emitted + 5
    unsure = [i for i in range(len(data) + 1) if emitted[i] + 1 < len(stream) and stream[emitted[i] + 1] in (0, 255)]
    if unsure:
        exact = model.workers().sizes(b"", [bytes(data[:i]) for i in unsure])
        sizes[unsure] = exact
    sizes[len(data)] = len(stream)
    if sizes[0] != model.compressed_size(b"") or len(stream) != model.compressed_size(bytes(data)):
        return None
    return [int(s) for s in sizes]


# ------------------------------------------------------------------ any codec
def strided_prefix_sizes(model, data: bytes, stride: int | None, budget: float, unit: int = 1,
                         size_fn=None, advance=lambda n: None) -> tuple[list[int], list[int], int]:
    """(cuts, sizes, stride): compressed sizes of the prefixes ending every ``stride``
    bytes (a multiple of ``unit``), the first and last exactly as the Model's code length
    computes them. Without ``stride``, the densest stride whose estimated cost fits ``budget``."""
    n = len(data)
    size_fn = size_fn or model.compressed_size
    t = time.perf_counter()
    last = model.compressed_size(bytes(data))
    one = max(time.perf_counter() - t, 1e-5)
    if stride is None:
        calls = max(1.0, budget / (0.5 * one + 2e-5))
        stride = max(1, math.ceil(n / calls))
    stride = max(unit, int(math.ceil(stride / unit) * unit))
    cuts = list(range(0, n, stride)) + [n]
    sizes = [model.compressed_size(b"")]
    for j in range(1, len(cuts) - 1):
        sizes.append(size_fn(bytes(data[:cuts[j]])))
        advance(cuts[j] - cuts[j - 1])
    sizes.append(last)
    advance(n - cuts[-2])
    return cuts, sizes, stride


def codec_lengths(model, data: bytes, *, stride: int | None = None, budget: float = DEFAULT_BUDGET,
                  meta: dict | None = None, advance=lambda n: None) -> ByteLengths:
    from ..compressors.deflate import DeflateModel
    from ..compressors.png import PngModel
    from ..compressors.ppmd import PpmdModel

    data = bytes(data)
    n = len(data)
    cuts = list(range(n + 1))
    sizes = None
    method, resolution = "", 1
    if stride in (None, 1) and isinstance(model, DeflateModel):
        sizes = deflate_prefix_sizes(model, data, advance)
        method = "8 x growth of the compressed prefix, every byte (zlib state copy)"
    elif stride in (None, 1) and isinstance(model, PpmdModel):
        sizes = ppmd_prefix_sizes(model, data, advance)
        method = "8 x growth of the compressed prefix, every byte (PPMd range coder stream)"
    if sizes is None:
        unit, size_fn = 1, None
        shape = (meta or {}).get("shape")
        if isinstance(model, PngModel) and shape and int(shape[0]) * int(shape[1]) == n:
            cols = int(shape[1])  # a picture grows by whole rows: PNG of the first r rows
            unit = cols

            def size_fn(prefix: bytes, cols=cols) -> int:
                return len(model.encode_shape(prefix, (len(prefix) // cols, cols)))
        cuts, sizes, resolution = strided_prefix_sizes(model, data, stride, budget, unit, size_fn, advance)
        method = ("8 x growth of the compressed prefix" + (", every byte" if resolution == 1 else
                                                           f", every {resolution} bytes (spread evenly)"))
    bits = spread(cuts, sizes)
    total = 8.0 * (sizes[-1] - sizes[0])
    return ByteLengths(model.spec, bits, float(total), method, resolution)


# ------------------------------------------------------------------ other Models
def predictive_lengths(model: Model, data: bytes, advance=lambda n: None) -> ByteLengths:
    """``-log2 p(x_i | x_<i)`` from ``next_byte_probs``, in the order the Model's own
    predictive code length sums them (so the total is the same float)."""
    ctx = bytearray()
    out = np.zeros(len(data), dtype=np.float64)
    total = 0.0
    for i, b in enumerate(bytes(data)):
        p = model.next_byte_probs(bytes(ctx))
        v = -float(np.log2(p[b]))
        out[i] = v
        total -= float(np.log2(p[b]))
        ctx.append(b)
        advance(1)
    return ByteLengths(model.spec, out, total, "-log2 p(byte | prefix) from the Model's next-byte distribution")


def prefix_code_lengths(model: Model, data: bytes, stride: int | None, budget: float,
                        advance=lambda n: None) -> ByteLengths:
    """A Model with its own ``code_length``: growth of the prefix's code length."""
    n = len(data)
    t = time.perf_counter()
    last = float(model.code_length(bytes(data)))
    one = max(time.perf_counter() - t, 1e-5)
    if stride is None:
        stride = max(1, math.ceil(n / max(1.0, budget / (0.5 * one))))
    cuts = list(range(0, n, stride)) + [n]
    lengths = [0.0] + [float(model.code_length(bytes(data[:c]))) for c in cuts[1:-1]] + [last]
    advance(n)
    bits = np.zeros(n)
    for j in range(len(cuts) - 1):
        a, b = cuts[j], cuts[j + 1]
        bits[a:b] = (lengths[j + 1] - lengths[j]) / (b - a)
    return ByteLengths(model.spec, bits, last, "growth of the Model's code length of the prefix", stride)


def byte_lengths(model: Model, data: bytes, *, stride: int | None = None, budget: float = DEFAULT_BUDGET,
                 meta: dict | None = None, top: int = 5, advance=lambda n: None) -> ByteLengths:
    """Per-byte code lengths of ``data`` under ``model`` on the fastest exact route it has."""
    from ..compressors.base import CompressorModel

    data = bytes(data)
    if not data:
        raise CompgenError("nothing to explain: the input is empty")
    t = time.perf_counter()
    if isinstance(model, CompressorModel):
        out = codec_lengths(model, data, stride=stride, budget=budget, meta=meta, advance=advance)
    elif type(model).__name__ == "SevenBitModel":
        from .tokens import seven_bit_lengths

        out = seven_bit_lengths(model, data, top=top, advance=advance)
    elif hasattr(model, "codec") and hasattr(model, "windows_logprobs"):
        from .tokens import lm_lengths

        out = lm_lengths(model, data, top=top, advance=advance)
    elif type(model).code_length is Model.code_length:
        out = predictive_lengths(model, data, advance)
    else:
        out = prefix_code_lengths(model, data, stride, budget, advance)
    out.seconds = time.perf_counter() - t
    return out
