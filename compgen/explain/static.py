"""``--png``: a static picture of the page's view, for READMEs and papers (matplotlib).

Text: the first lines of the input as coloured cells, one panel per model and one for
the difference; images: the picture, a heat map per model and the difference; audio:
waveform, spectrogram and bits per sample of every model.
"""

from __future__ import annotations

import numpy as np

from .html import DIFF_BITS, MAX_BITS, glyphs
from .media import audio_figure, bits_rgb, diff_rgb, figure_png, pyplot, smoothed_maps
from .report import Report

COLUMNS = 96
LINES = 14


def _layout(data: bytes, columns: int, lines: int, offset: int = 0) -> list[tuple[int, int, int, str]]:
    """(row, col, byte index, glyph) of the bytes from the line holding ``offset`` on that
    fit ``lines`` rows of ``columns``."""
    g, breaks = glyphs(data)
    brk = set(breaks)
    start = max([b + 1 for b in breaks if b < offset] + [0]) if offset > 0 else 0
    out, row, col = [], 0, 0
    for i, ch in enumerate(g):
        if i < start:
            continue
        if row >= lines:
            break
        if ch == "" and out:  # a UTF-8 continuation byte shares its character's cell
            continue
        out.append((row, col, i, ch))
        col += 1
        if i in brk or col >= columns:
            row, col = row + 1, 0
    return out


def _smooth(bits: np.ndarray, w: int) -> np.ndarray:
    from .media import moving_average

    return moving_average(bits, w) if w > 1 else bits


def text_figure(report: Report, columns: int = COLUMNS, lines: int = LINES, offset: int = 0):
    plt = pyplot()

    cells = _layout(report.data, columns, lines, offset)
    panels = list(range(len(report.models))) + (["diff"] if len(report.models) > 1 else [])
    fig, axes = plt.subplots(len(panels), 1, figsize=(columns * 0.105, len(panels) * (lines * 0.2 + 0.45)))
    axes = np.atleast_1d(axes)
    a, b = report.diff
    for ax, k in zip(axes, panels, strict=False):
        grid = np.full((lines, columns, 3), 255, dtype=np.uint8)
        if k == "diff":
            vals = _smooth(report.models[b].bits, report.smooth) - _smooth(report.models[a].bits, report.smooth)
            rgb = diff_rgb(vals)
            title = (f"difference: bits under {report.models[b].name} − bits under {report.models[a].name} "
                     f"(blue: {report.models[b].name} cheaper, red: {report.models[a].name} cheaper, ±{DIFF_BITS:g} bits)")
        else:
            m = report.models[k]
            rgb = bits_rgb(_smooth(m.bits, report.smooth))
            title = f"{m.name}: {m.bits_per_byte:.3f} bits/byte ({m.total:,.0f} bits), colour 0..{MAX_BITS:g}+ bits per byte"
        for row, col, i, _ in cells:
            grid[row, col] = rgb[i]
        ax.imshow(grid, aspect="auto", interpolation="nearest", extent=(0, columns, lines, 0))
        for row, col, _, ch in cells:
            if ch.strip():
                ax.text(col + 0.5, row + 0.55, ch, ha="center", va="center", fontsize=6.5, family="monospace")
        ax.set_axis_off()
        ax.set_title(title, fontsize=8, loc="left")
    note = f"colours averaged over {report.smooth} bytes; " if report.smooth > 1 else ""
    fig.suptitle(f"Where the bits go: {report.source} ({note}first {len(cells)} of {len(report.data):,} bytes shown)",
                 fontsize=9, x=0.01, ha="left")
    fig.tight_layout()
    return fig


def image_figure(report: Report):
    plt = pyplot()

    maps = smoothed_maps(report)
    panels = [("picture", None)] + [(f"{m.name}: {m.bits_per_byte:.3f} bits/pixel", k) for k, m in enumerate(report.models)]
    if len(maps) > 1:
        a, b = report.diff
        panels.append((f"{report.models[b].name} − {report.models[a].name} (blue: {report.models[b].name} cheaper)",
                       "diff"))
    h, w = report.picture.shape
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2 * h / w + 0.5))
    for ax, (title, k) in zip(np.atleast_1d(axes), panels, strict=False):
        if k is None:
            ax.imshow(report.picture, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        elif k == "diff":
            a, b = report.diff
            ax.imshow(diff_rgb(maps[b] - maps[a]), interpolation="nearest")
        else:
            ax.imshow(bits_rgb(maps[k]), interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    avg = f", averaged over {report.smooth}x{report.smooth} pixels" if report.smooth > 1 else ""
    fig.suptitle(f"Where the bits go: {report.source} (0..{MAX_BITS:g}+ bits per pixel{avg})", fontsize=9)
    fig.tight_layout()
    return fig


def render_png(report: Report, dpi: int = 110, offset: int = 0) -> bytes:
    if report.modality == "image":
        fig = image_figure(report)
    elif report.modality == "audio":
        fig = audio_figure(report, list(range(len(report.models))) + (["diff"] if len(report.models) > 1 else []))
    else:
        fig = text_figure(report, offset=offset)
    return figure_png(fig, dpi=dpi)
