"""PNG figures of generated media: an image grid and stacked spectrograms (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, dpi: int = 110) -> None:
    import io

    from ..fileio import write_atomic

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    _plt().close(fig)
    write_atomic(path, buf.getvalue(), force=True)


def save_image_grid(panels: list[tuple[str, np.ndarray]], path: Path, split_col: int, title: str) -> None:
    """Original beside each completion; a red line marks where generation starts in each row."""
    plt = _plt()
    n = len(panels)
    per_row = min(n, 4)
    lines = -(-n // per_row)
    h, w = panels[0][1].shape
    fig, axes = plt.subplots(lines, per_row, figsize=(3.2 * per_row, 3.2 * lines * h / w + 0.9), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, pic) in zip(axes.flat, panels):
        ax.imshow(pic, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.axvline(split_col - 0.5, color="red", lw=0.6)
        ax.set_title(name, fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def save_spectrograms(tracks: list[tuple[str, bytes]], path: Path, split_s: float, rate: int) -> None:
    """One spectrogram per track (8-bit samples), a line where the continuation starts."""
    plt = _plt()
    fig, axes = plt.subplots(len(tracks), 1, figsize=(8, 1.5 * len(tracks) + 0.5), squeeze=False, sharex=True)
    for ax, (name, data) in zip(axes[:, 0], tracks):
        x = np.frombuffer(data, dtype=np.uint8).astype(np.float64) - 128.0
        ax.specgram(x, NFFT=512, Fs=rate, noverlap=384, cmap="magma")
        ax.axvline(split_s, color="cyan", lw=0.8)
        ax.set_ylabel("Hz", fontsize=7)
        ax.set_title(name, fontsize=8)
    axes[-1, 0].set_xlabel("seconds (continuation right of the cyan line)")
    fig.tight_layout()
    _save(fig, path, dpi=72)  # noise-like pixels: PNG size grows with the pixel count
