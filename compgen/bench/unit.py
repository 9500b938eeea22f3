"""The unit of work: one (model spec, bytes, options) -> one result dict.

:func:`measure` is a pure top-level function of its arguments (plus a per-process
model cache), so every backend of :mod:`compgen.executors` (process pool, Dask) runs it
unchanged. Every size it reports is the length of a real compressed output; with ``verify`` the output is decompressed and
compared byte for byte.
"""

from __future__ import annotations

import time

#: spec names whose native output is measured directly (their CLI-equivalent bytes)
CODEC_NAMES = {"gzip", "zlib", "deflate", "zstd", "brotli", "xz", "lzma", "bz2", "bzip2", "ppmd", "png", "flac",
               "zpaq", "jxl", "jpegxl", "webp"}


def is_codec_spec(spec: str) -> bool:
    return spec.split(":", 1)[0].strip().lower() in CODEC_NAMES


def get_model(spec: str, fingerprint: str | None = None):
    """The model for ``spec``, built once per process (see :func:`compgen.executors.cached_model`).

    Returns (model, seconds spent loading now: 0.0 on a cache hit).
    """
    from ..executors import cached_model

    return cached_model(spec, fingerprint)


def _decompress_native(model, blob: bytes, length: int) -> bytes:
    """``model.decompress``; raw PPMd streams carry no length (7-Zip keeps it in the
    archive header), so PPMd is given the known length."""
    if getattr(model, "name", "") == "ppmd":
        return model.decompress(blob, length)
    return model.decompress(blob)


def _native(model, data: bytes, verify: bool, meta: dict | None = None) -> dict:
    t = time.perf_counter()
    blob = model.compress_media(data, meta) if meta else model.compress(data)
    t_c = time.perf_counter() - t
    out = {"output_bytes": len(blob), "payload_bytes": len(blob), "compress_s": t_c,
           "header_bytes": int(model.header_bytes(blob)), "xent_bits": float(model.code_length(data))}
    if verify:
        t = time.perf_counter()
        back = _decompress_native(model, blob, len(data))
        out["decompress_s"] = time.perf_counter() - t
        out["verified"] = back == data
    return out


def _range_coded(model, data: bytes, verify: bool) -> dict:
    from ..model import as_compressor

    comp = as_compressor(model)
    t = time.perf_counter()
    blob = comp.compress(data)
    t_c = time.perf_counter() - t
    stats = dict(comp.last_stats)
    payload_bits = stats.get("payload_bits")
    out = {"output_bytes": len(blob), "compress_s": t_c,
           "payload_bytes": int(payload_bits) // 8 if payload_bits is not None else None,
           "xent_bits": float(stats["ideal_bits"]) if stats.get("ideal_bits") is not None else None}
    if verify:
        t = time.perf_counter()
        back = comp.decompress(blob)
        out["decompress_s"] = time.perf_counter() - t
        out["verified"] = back == data
    return out


def measure(spec: str, data: bytes, options: dict | None = None) -> dict:
    """Compress ``data`` with model ``spec``; return sizes, timings and the model's size.

    options: ``route`` = "native" (codec's own output), "model" (range coded through
    ``compgen.as_compressor``; forced for non-codecs) or "xent" (the model's teacher-forced
    cross-entropy only), ``verify`` = decompress and compare.
    Failures are returned (``error``), not raised, so one bad unit cannot sink a run.
    """
    options = options or {}
    verify = bool(options.get("verify", False))
    route = options.get("route", "native")
    result = {"spec": spec, "input_bytes": len(data), "route": route, "modality": options.get("modality", "bytes"),
              "verified": None,
              "decompress_s": None, "load_s": 0.0, "error": None, "pieces": int(options.get("pieces", 1))}
    try:
        model, load_s = get_model(spec)
        result["load_s"] = load_s
        result["model_spec"] = model.spec
        result["model_size_bytes"] = int(getattr(model, "size_bytes", 0) or 0)
        n_params = getattr(model, "n_params", None)
        result["n_params"] = int(n_params) if n_params is not None else None
        from ..compressors.base import CompressorModel

        if route == "native" and not isinstance(model, CompressorModel):
            route = result["route"] = "model"
        if route == "xent":  # teacher-forced cross-entropy only (batched windows), nothing coded
            t = time.perf_counter()
            result.update(xent_bits=float(model.code_length(bytes(data))), output_bytes=None, payload_bytes=None,
                          compress_s=time.perf_counter() - t)
            return result
        if route == "native":
            result.update(_native(model, bytes(data), verify, options.get("meta")))
        else:
            result.update(_range_coded(model, bytes(data), verify))
        if verify and not result["verified"]:
            result["error"] = "round trip mismatch"
    except Exception as exc:  # reported per unit; the runner decides the exit code
        msg = str(exc).splitlines()[0] if str(exc) else ""
        result["error"] = f"{type(exc).__name__}: {msg}"[:300]
        if verify:
            result["verified"] = False
    return result
