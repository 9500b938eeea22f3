"""Pictures of where the bits go: heat maps over an image, bits along a waveform.

Colours match the page: bits per pixel/sample on a yellow-to-brown scale from 0 to
:data:`.html.MAX_BITS` (pale blue below 0); differences on a blue-white-red scale of
+/- :data:`.html.DIFF_BITS` (blue where model B spends fewer bits than model A).
"""

from __future__ import annotations

import base64
import io

import numpy as np

from .html import DIFF_BITS, MAX_BITS
from .report import Report

SEQ = np.array([[255, 255, 229], [255, 247, 188], [254, 227, 145], [254, 196, 79], [254, 153, 41], [236, 112, 20],
                [204, 76, 2], [153, 52, 4], [102, 37, 6]], dtype=np.float64)
DIV = np.array([[33, 102, 172], [103, 169, 207], [209, 229, 240], [247, 247, 247], [253, 219, 199], [239, 138, 98],
                [178, 24, 43]], dtype=np.float64)
NEGATIVE = np.array([198, 219, 239], dtype=np.float64)


def pyplot():
    """matplotlib's pyplot on the Agg backend, or a one-line MissingDependencyError."""
    try:
        import matplotlib
    except ImportError:
        from ..errors import MissingDependencyError

        raise MissingDependencyError("this view needs matplotlib (pip install 'compgen[explain]')") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def ramp(stops: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Linear interpolation over colour stops; t in [0, 1] -> uint8 RGB."""
    t = np.clip(np.asarray(t, dtype=np.float64), 0, 1) * (len(stops) - 1)
    i = np.minimum(np.floor(t).astype(int), len(stops) - 2)
    f = (t - i)[..., None]
    return np.rint(stops[i] + (stops[i + 1] - stops[i]) * f).astype(np.uint8)


def bits_rgb(bits: np.ndarray) -> np.ndarray:
    rgb = ramp(SEQ, np.asarray(bits) / MAX_BITS)
    rgb[np.asarray(bits) < 0] = NEGATIVE.astype(np.uint8)
    return rgb


def diff_rgb(d: np.ndarray) -> np.ndarray:
    return ramp(DIV, 0.5 + np.asarray(d) / (2 * DIFF_BITS))


def png_bytes(rgb: np.ndarray) -> bytes:
    try:
        from PIL import Image
    except ImportError:
        from ..errors import MissingDependencyError

        raise MissingDependencyError("image views need Pillow (pip install 'compgen[explain]')") from None

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


# ------------------------------------------------------------------ images
def smoothed_maps(report: Report) -> list[np.ndarray]:
    """Each model's bits per pixel, box-averaged over ``smooth`` x ``smooth`` pixels (display only)."""
    maps = [report.picture_bits(k) for k in range(len(report.models))]
    if report.smooth > 1:
        from scipy.ndimage import uniform_filter

        maps = [uniform_filter(m, size=report.smooth, mode="nearest") for m in maps]
    return maps


def image_pngs(report: Report) -> dict[str, bytes]:
    """PNG bytes: the picture, one heat map per model, the difference (if two models)."""
    out = {"picture": png_bytes(np.stack([report.picture] * 3, axis=-1))}
    maps = smoothed_maps(report)
    for k, m in enumerate(maps):
        out[f"model{k}"] = png_bytes(bits_rgb(m))
    if len(maps) > 1:
        a, b = report.diff
        out["diff"] = png_bytes(diff_rgb(maps[b] - maps[a]))
    return out


# ------------------------------------------------------------------ audio
def moving_average(x: np.ndarray, w: int) -> np.ndarray:
    if w <= 1 or len(x) < w:
        return np.asarray(x, dtype=np.float64)
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    out = (c[w:] - c[:-w]) / w
    pad = w // 2
    return np.concatenate([np.full(pad, out[0]), out, np.full(len(x) - len(out) - pad, out[-1])])


def audio_figure(report: Report, which: list, width: float = 11.0):
    """A matplotlib figure: waveform, spectrogram, then one row per entry of ``which``
    (a model index, or "diff")."""
    plt = pyplot()
    from scipy.signal import spectrogram

    x = (np.frombuffer(report.data, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    rate = report.rate
    t = np.arange(len(x)) / rate
    rows = 2 + len(which)
    fig, axes = plt.subplots(rows, 1, figsize=(width, 1.6 * rows + 0.6), sharex=True,
                             gridspec_kw={"height_ratios": [1, 1.4] + [1] * len(which)})
    ax = axes[0]
    step = max(1, len(x) // 4000)  # min/max envelope keeps the plot light
    if step > 1:
        m = len(x) // step * step
        env = x[:m].reshape(-1, step)
        tt = t[:m:step]
        ax.fill_between(tt, env.min(axis=1), env.max(axis=1), color="#555", lw=0)
    else:
        ax.plot(t, x, color="#555", lw=0.5)
    ax.set_ylabel("waveform")
    ax.set_ylim(-1, 1)
    f, tt, s = spectrogram(x, fs=rate, nperseg=512, noverlap=384)
    axes[1].pcolormesh(tt, f / 1000, 10 * np.log10(s + 1e-10), shading="auto", cmap="magma")
    axes[1].set_ylabel("kHz")
    w10, w100 = max(1, rate // 100), max(1, rate // 10)
    for ax, k in zip(axes[2:], which, strict=False):
        if k == "diff":
            a, b = report.diff
            d = report.models[b].bits - report.models[a].bits
            v = moving_average(d, w100)
            ax.fill_between(t, 0, v, where=v < 0, color="#2166ac", lw=0)
            ax.fill_between(t, 0, v, where=v >= 0, color="#b2182b", lw=0)
            ax.axhline(0, color="#888", lw=0.5)
            ax.set_ylabel(f"{report.models[b].name}\n− {report.models[a].name}", fontsize=8)
        else:
            bits = report.models[k].bits
            ax.plot(t, moving_average(bits, w10), color="#fe9929", lw=0.5, label="10 ms average")
            ax.plot(t, moving_average(bits, w100), color="#662506", lw=1.2, label="100 ms average")
            ax.set_ylim(0, max(8.5, float(np.percentile(moving_average(bits, w10), 99.5)) * 1.05))
            ax.set_ylabel(f"{report.models[k].name}\nbits/sample", fontsize=8)
            ax.text(0.995, 0.92, f"{report.models[k].bits_per_byte:.3f} bits/sample overall", transform=ax.transAxes,
                    ha="right", va="top", fontsize=8)
    axes[-1].set_xlabel("seconds")
    if len(which) and which[0] != "diff":
        axes[2].legend(loc="upper left", fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def figure_png(fig, dpi: int = 80) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def audio_pngs(report: Report) -> dict[str, bytes]:
    out = {f"model{k}": figure_png(audio_figure(report, [k])) for k in range(len(report.models))}
    if len(report.models) > 1:
        out["diff"] = figure_png(audio_figure(report, ["diff"]))
    return out


def page_images(report: Report) -> dict[str, str] | None:
    """data: URIs of the media pictures for the page (None for text)."""
    if report.modality == "image":
        pngs = image_pngs(report)
    elif report.modality == "audio":
        pngs = audio_pngs(report)
    else:
        return None
    return {k: data_uri(v) for k, v in pngs.items()}
