"""``cgz sample --prime image:...|audio:...``: continue pictures and speech, score every sample.

Writes (``-o samples.png`` / ``-o continued.wav``): the image grid or one WAV per model
(``continued.wav`` for one model, ``continued-<model>-<mode>.wav`` for several, plus the
real continuation), a spectrogram PNG next to the WAVs, and a quality table as Markdown
and JSON (``<output>.md``, ``<output>.json``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

from ..errors import UsageError


def parse_crop(text: str | None, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """'16x64' or '16x64@200,224' -> (rows, cols, y, x); default 16x64 at the centre."""
    rows, cols, y, x = 16, 64, None, None
    if text:
        m = re.fullmatch(r"(\d+)x(\d+)(?:@(\d+),(\d+))?", text.strip())
        if not m:
            raise UsageError(f"bad --crop {text!r}: expected ROWSxCOLS or ROWSxCOLS@Y,X")
        rows, cols = int(m.group(1)), int(m.group(2))
        if m.group(3) is not None:
            y, x = int(m.group(3)), int(m.group(4))
    rows, cols = min(rows, shape[0]), min(cols, shape[1])
    if rows < 1 or cols < 2:
        raise UsageError("image too small for a crop of at least 1x2 pixels")
    y = (shape[0] - rows) // 2 if y is None else y
    x = (shape[1] - cols) // 2 if x is None else x
    if y + rows > shape[0] or x + cols > shape[1]:
        raise UsageError(f"--crop {rows}x{cols}@{y},{x} lies outside the {shape[0]}x{shape[1]} image")
    return rows, cols, y, x


def _model_specs(args) -> list[str]:
    from ..registry import split_specs

    specs = split_specs(args.model)
    if not specs:
        raise UsageError("-m: no model given")
    return specs


def _modes(args, modality: str) -> list[str]:
    if args.mode == "auto":
        return ["byte", "span"] if modality == "image" else ["span"]
    return [args.mode]


def _table(rows: list[dict], cols: list[tuple[str, str]]) -> str:
    lines = ["| " + " | ".join(c for c, _ in cols) + " |", "|---|---|" + "---:|" * (len(cols) - 2)]
    for r in rows:
        cells = []
        for _, key in cols:
            v = r.get(key)
            cells.append("-" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _write_report(out: Path, doc: dict, table: str, force: bool = True) -> list[Path]:
    from ..fileio import write_atomic

    md, js = out.with_suffix(".md"), out.with_suffix(".json")
    write_atomic(md, (f"# cgz sample: {doc['prime']}\n\n" + table).encode(), force=force)
    write_atomic(js, json.dumps(doc, indent=1, default=str).encode(), force=force)
    return [md, js]


def run_media(args, modality: str, path: str) -> int:
    from .. import progress
    from ..lm.seven_bit import spec_for_modality
    from ..registry import load, parse_spec
    from ..samplers import from_cli

    specs = _model_specs(args)
    for s in specs:
        parse_spec(s)
    out = Path(args.output or ("samples.png" if modality == "image" else "continued.wav"))
    if not out.parent.is_dir():
        raise UsageError(f"{out}: directory {out.parent} does not exist")
    want = ".png" if modality == "image" else ".wav"
    if out.suffix.lower() != want:
        raise UsageError(f"-o {out}: {modality} samples are written as {want}")
    sampler = from_cli(args)
    ref = load(args.ref)
    runner = _image if modality == "image" else _audio
    return runner(args, path, specs, out, sampler, ref, load, spec_for_modality, progress)


def _image(args, path, specs, out, sampler, ref, load, spec_for_modality, progress):
    from ..data.image import load_gray
    from ..sampling.media import image_rows, psnr, reference_bpb
    from .grid import save_image_grid

    gray = load_gray(path)
    rows, cols, y, x = parse_crop(args.crop, gray.shape)
    crop = gray[y:y + rows, x:x + cols].copy()
    half = cols // 2
    contexts = [crop[:r].tobytes() + crop[r, :half].tobytes() for r in range(rows)]
    real = [crop[r, half:].tobytes() for r in range(rows)]
    results = [{"model": "real continuation", "mode": "-", "ref_bpb": reference_bpb(ref, real, contexts),
                "psnr_db": float("inf"), "seconds": 0.0}]
    panels = [("original", crop)]
    modes = _modes(args, "image")
    with progress.progress_bar("sample image", len(specs) * len(modes), unit="runs") as advance:
        for spec in specs:
            model = load(spec_for_modality(spec, "image", args.byte_scheme))
            for mode in modes:
                s = image_rows(model, crop, sampler, args.seed, mode, span=args.span or 8,
                               commit=args.commit or 8, max_seconds=args.max_seconds)
                pic = np.frombuffer(s.data, dtype=np.uint8).reshape(crop.shape)
                results.append({"model": spec, "mode": mode, "ref_bpb": reference_bpb(ref, s.generated, contexts),
                                "psnr_db": psnr(pic[:, half:], crop[:, half:]), "seconds": round(s.seconds, 2),
                                "stopped": s.stats.get("stopped")})
                panels.append((f"{spec} ({mode})", pic))
                advance(1)
    save_image_grid(panels, out, half, f"{Path(path).name} rows {y}-{y + rows - 1}, cols {x}-{x + cols - 1}: "
                                       "right half of each row generated from the rows above and its left half")
    table = _table(results, [("model", "model"), ("mode", "mode"), (f"bits/byte under {ref.spec}", "ref_bpb"),
                             ("PSNR dB vs real", "psnr_db"), ("seconds", "seconds"), ("stopped", "stopped")])
    doc = {"prime": f"image:{path}", "crop": [rows, cols, y, x], "reference": ref.spec, "seed": args.seed,
           "sampler": sampler.settings(), "results": results}
    written = [out] + _write_report(out, doc, table)
    _print(table, written)
    return 0


def _audio(args, path, specs, out, sampler, ref, load, spec_for_modality, progress):
    from ..data.audio import RATE, load_u8, wav_bytes
    from ..fileio import write_atomic
    from ..sampling.media import audio_continue, reference_bpb, spectral_distance
    from .grid import save_spectrograms

    data, _ = load_u8(path)
    seconds = args.seconds if args.seconds is not None else 1.0
    if not seconds > 0:
        raise UsageError("--seconds must be > 0")
    n = int(round(seconds * RATE))
    prime_n = int(round(args.prime_seconds * RATE))
    if prime_n < 1 or prime_n > len(data):
        raise UsageError(f"{path}: {len(data) / RATE:.2f} s of audio, fewer than --prime-seconds {args.prime_seconds}")
    prime = data[:prime_n]
    real = data[prime_n:prime_n + n]
    results = []
    if real:
        results.append({"model": "real continuation", "mode": "-", "ref_bpb": reference_bpb(ref, [real], [prime]),
                        "spectral_db": 0.0, "seconds": 0.0, "wav": None})
    tracks = [("prime + real", prime + real)]
    modes = _modes(args, "audio")
    written = []
    many = len(specs) * len(modes) > 1
    with progress.progress_bar("sample audio", len(specs) * len(modes), unit="runs") as advance:
        for spec in specs:
            model = load(spec_for_modality(spec, "audio", args.byte_scheme))
            for mode in modes:
                s = audio_continue(model, prime, n, sampler, args.seed, mode, span=args.span or 32,
                                   commit=args.commit or 32, max_seconds=args.max_seconds)
                gen = s.generated[0]
                name = out if not many else out.with_name(f"{out.stem}-{_slug(spec)}-{mode}{out.suffix}")
                write_atomic(name, wav_bytes(s.data, RATE), force=True)
                written.append(name)
                results.append({"model": spec, "mode": mode, "ref_bpb": reference_bpb(ref, [gen], [prime]),
                                "spectral_db": spectral_distance(gen, real) if real else None,
                                "seconds": round(s.seconds, 2), "wav": str(name), "stopped": s.stats.get("stopped")})
                tracks.append((f"{spec} ({mode})", s.data))
                advance(1)
    if real:
        ref_wav = out.with_name(f"{out.stem}-real{out.suffix}")
        write_atomic(ref_wav, wav_bytes(prime + real, RATE), force=True)
        written.append(ref_wav)
    spec_png = out.with_name(f"{out.stem}-spectrogram.png")
    save_spectrograms(tracks, spec_png, prime_n / RATE, RATE)
    table = _table(results, [("model", "model"), ("mode", "mode"), (f"bits/byte under {ref.spec}", "ref_bpb"),
                             ("spectral distance dB vs real", "spectral_db"), ("seconds", "seconds"),
                             ("stopped", "stopped")])
    doc = {"prime": f"audio:{path}", "prime_seconds": args.prime_seconds, "seconds": seconds, "reference": ref.spec,
           "seed": args.seed, "sampler": sampler.settings(), "results": results}
    written += [spec_png] + _write_report(out, doc, table)
    _print(table, written)
    return 0


def _slug(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", spec)[:60]


def _print(table: str, written: list[Path]) -> None:
    sys.stdout.write(table)
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
