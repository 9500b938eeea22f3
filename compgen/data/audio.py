"""Audio -> mono 16 kHz -> unsigned 8-bit samples, as in Delétang et al. (2024).

Exact transform (documented in docs/media.md):

* decode with soundfile (libsndfile: WAV, FLAC, OGG/Vorbis, AIFF, ...) as int16;
* mono: the integer mean of the channels, ``floor(sum / channels)``;
* 16 kHz: files at another rate are resampled with ``scipy.signal.resample_poly``
  (polyphase, up/down = 16000/rate reduced by their gcd), rounded and clipped to int16;
* 8 bits: ``(x >> 8) + 128`` (arithmetic shift), one byte per sample, 0..255.

:func:`to_int16` is the inverse of the last step (up to the dropped low byte) and
:func:`wav_bytes` writes the samples back as a 16-bit WAV you can listen to.
"""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np

from ..errors import CompgenError, MissingDependencyError

RATE = 16000


def _sf():
    try:
        import soundfile
    except (ImportError, OSError):
        raise MissingDependencyError("audio data needs soundfile (pip install 'compgen[media]')") from None
    return soundfile


def audio_extensions() -> set[str]:
    """Lower-case suffixes of the containers libsndfile reads."""
    names = {f".{k.lower()}" for k in _sf().available_formats()}
    return names | {".aif", ".aiff", ".oga", ".opus"} if ".aiff" in names else names


def to_u8(samples: np.ndarray) -> bytes:
    """int16 samples -> the paper's unsigned bytes ``(x >> 8) + 128``."""
    x = np.asarray(samples, dtype=np.int16)
    return ((x.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes()


def to_int16(data: bytes) -> np.ndarray:
    """Unsigned 8-bit bytes -> int16 samples ``(b - 128) << 8`` (inverse up to the low byte)."""
    return ((np.frombuffer(bytes(data), dtype=np.uint8).astype(np.int32) - 128) << 8).astype(np.int16)


def load_mono16k(path: str | Path, rate: int = RATE) -> tuple[np.ndarray, dict]:
    """int16 mono samples at ``rate`` and what the file was (rate, channels, frames)."""
    sf = _sf()
    try:
        x, sr = sf.read(str(path), dtype="int16", always_2d=True)
    except FileNotFoundError:
        raise CompgenError(f"{path}: no such file") from None
    except (RuntimeError, OSError, ValueError, TypeError) as exc:  # LibsndfileError is a RuntimeError
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CompgenError(f"{path}: not a readable audio file ({why})") from None
    info = {"source_rate": int(sr), "channels": int(x.shape[1]), "frames": int(x.shape[0])}
    mono = np.floor_divide(x.astype(np.int32).sum(axis=1), x.shape[1])
    if sr != rate and len(mono):
        from scipy.signal import resample_poly

        g = gcd(int(rate), int(sr))
        mono = np.rint(resample_poly(mono.astype(np.float64), rate // g, sr // g))
    return np.clip(mono, -32768, 32767).astype(np.int16), info


def load_u8(path: str | Path, rate: int = RATE) -> tuple[bytes, dict]:
    """The paper's byte stream of an audio file: mono, ``rate`` Hz, ``(x >> 8) + 128``."""
    samples, info = load_mono16k(path, rate)
    return to_u8(samples), info


def wav_bytes(data: bytes, rate: int = RATE) -> bytes:
    """Unsigned 8-bit samples as a 16-bit mono WAV file."""
    import io

    buf = io.BytesIO()
    _sf().write(buf, to_int16(data), int(rate), format="WAV", subtype="PCM_16")
    return buf.getvalue()
