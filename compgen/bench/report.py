"""Benchmark results -> rich table, markdown, CSV, JSON and PNG plots."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..fileio import write_atomic

SUMMARY_FIELDS = ["mode", "label", "spec", "route", "units", "input_bytes", "output_bytes", "payload_bytes",
                  "model_size_bytes", "n_params", "raw_rate", "adjusted_rate", "bits_per_byte",
                  "payload_bits_per_byte", "xent_bits_per_byte", "compress_Bps", "decompress_Bps",
                  "verified", "verify_failed", "load_s", "model_spec"]
PER_FILE_FIELDS = ["mode", "label", "file", "route", "input_bytes", "output_bytes", "payload_bytes",
                   "raw_rate", "bits_per_byte", "xent_bits_per_byte", "compress_Bps", "decompress_Bps"]


def short_label(spec: str, route: str = "native") -> str:
    """'byte-lm:/x/out/lm800k' -> 'byte-lm:lm800k'; range-coded codecs get a '(range-coded)' suffix."""
    from ..registry import parse_spec

    label = spec
    try:
        entry, kwargs = parse_spec(spec)
        if entry.positional and kwargs.get(entry.positional):
            label = f"{entry.name}:{Path(str(kwargs[entry.positional])).name or kwargs[entry.positional]}"
    except Exception:
        pass
    from .unit import is_codec_spec

    if route == "model" and is_codec_spec(spec):
        label += " (range-coded)"
    return label


def add_labels(rows: list[dict]) -> list[dict]:
    for r in rows:
        r["label"] = short_label(r["spec"], r.get("route", "native"))
    return rows


def fmt_rate(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def fmt_bpb(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def fmt_speed(bps) -> str:
    if not bps:
        return "-"
    for unit, div in (("MB/s", 1e6), ("kB/s", 1e3)):
        if bps >= div:
            return f"{bps / div:.1f} {unit}"
    return f"{bps:.0f} B/s"


def fmt_bytes(n) -> str:
    if not n:
        return "0"
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


COLUMNS = ["mode", "model", "input", "raw rate %", "adjusted rate %", "bits/byte", "payload b/B",
           "xent b/B", "compress", "decompress", "model size", "verified"]


def table_cells(r: dict) -> list[str]:
    verified = "-" if not (r["verified"] or r["verify_failed"]) else (
        f"{r['verified']}/{r['units']}" + (" FAIL" if r["verify_failed"] else ""))
    return [r["mode"], r["label"], fmt_bytes(r["input_bytes"]), fmt_rate(r["raw_rate"]), fmt_rate(r["adjusted_rate"]),
            fmt_bpb(r["bits_per_byte"]), fmt_bpb(r["payload_bits_per_byte"]), fmt_bpb(r["xent_bits_per_byte"]),
            fmt_speed(r["compress_Bps"]), fmt_speed(r["decompress_Bps"]), fmt_bytes(r["model_size_bytes"]), verified]


def rich_table(rows: list[dict], title: str):
    from rich.table import Table

    table = Table(title=title)
    for col in COLUMNS:
        table.add_column(col, justify="left" if col in ("mode", "model") else "right")
    prev = None
    for r in rows:
        if prev is not None and r["mode"] != prev:
            table.add_section()
        prev = r["mode"]
        table.add_row(*table_cells(r))
    return table


def markdown_table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" if i < 2 else "---:" for i in range(len(COLUMNS))) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(table_cells(r)) + " |")
    return "\n".join(lines) + "\n"


def csv_text(rows: list[dict], fields: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})
    return buf.getvalue()


def cli_markdown(rows: list[dict]) -> str:
    lines = ["| codec | file | input | library bytes | CLI | CLI bytes | diff | status |", "|---|---|---:|---:|---|---:|---:|---|"]
    for r in rows:
        diff = "-" if r["rel_diff"] is None else f"{100 * r['rel_diff']:+.3f}%"
        lines.append(f"| {r['spec']} | {r['file']} | {r['input_bytes']} | {r['library_bytes']} | "
                     f"`{r['cli'] or '-'}` | {r['cli_bytes'] if r['cli_bytes'] is not None else '-'} | {diff} | {r['status']} |")
    return "\n".join(lines) + "\n"


def plot_rates(rows: list[dict], path: Path, title: str = "compression rate (lower is better)") -> None:
    """One panel per mode: raw rate bars, adjusted rate as a marker when it differs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(dict.fromkeys(r["mode"] for r in rows))
    fig, axes = plt.subplots(1, len(modes), figsize=(6 * len(modes), 0.45 * max(4, len(rows) / len(modes)) + 1.5),
                             squeeze=False)
    for ax, mode in zip(axes[0], modes):
        rs = [r for r in rows if r["mode"] == mode and r["raw_rate"] is not None]
        labels = [r["label"] for r in rs]
        raw = [100 * r["raw_rate"] for r in rs]
        ax.barh(range(len(rs)), raw, color="tab:blue", label="raw rate (whole output)")
        pay = [100 * r["payload_bits_per_byte"] / 8 if r.get("payload_bits_per_byte") is not None else 0 for r in rs]
        pay = [p if p < x else 0 for p, x in zip(pay, raw)]
        if any(pay):
            ax.barh(range(len(rs)), pay, color="tab:green", label="payload only (no container header)")
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
        xmax = max(raw + [1]) * 1.35
        for i, r in enumerate(rs):
            adj = 100 * r["adjusted_rate"]
            if r["model_size_bytes"]:
                txt = f"adj {adj:.0f}%" if adj < 1e4 else f"adj {adj:.1e}%"
                ax.text(raw[i], i, f" {raw[i]:.1f}% | {txt}", va="center", fontsize=8, color="tab:red")
            else:
                ax.text(raw[i], i, f" {raw[i]:.1f}%", va="center", fontsize=8)
        ax.set_yticks(range(len(rs)), labels)
        ax.invert_yaxis()
        ax.set_xlim(0, xmax * 1.3)
        ax.set_xlabel("raw rate % (output / input)")
        ax.set_title(f"{mode}")
    fig.suptitle(title)
    fig.tight_layout()
    from .scaling import _save

    _save(fig, path)


def write_json_and_markdown(out: Path, data: dict, md_lines: list[str]) -> Path:
    """``out`` (JSON) and ``out.with_suffix('.md')``, both written atomically; returns the .md path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, json.dumps(data, indent=1, default=str).encode(), force=True)
    md = out.with_suffix(".md")
    write_atomic(md, "\n".join(md_lines).encode(), force=True)
    return md


def write_outputs(result: dict, out_dir: Path, stem: str = "bench", plots: bool = True) -> list[Path]:
    """bench.json, bench.md, bench.csv, bench_files.csv and bench_rates.png under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    add_labels(result["summary"])
    add_labels(result["per_file"])
    written = []

    def put(name: str, data: bytes):
        p = out_dir / name
        write_atomic(p, data, force=True)
        written.append(p)

    md = ["# compgen bench\n", f"Machine: {result.get('machine_line', '?')}\n",
          f"Config: `{json.dumps(result['config'])}`\n", markdown_table(result["summary"])]
    if result.get("cli_check"):
        md += ["\n## Library vs CLI sizes (whole files)\n", cli_markdown(result["cli_check"])]
    put(f"{stem}.md", "\n".join(md).encode())
    put(f"{stem}.csv", csv_text(result["summary"], SUMMARY_FIELDS).encode())
    put(f"{stem}_files.csv", csv_text(result["per_file"], PER_FILE_FIELDS).encode())
    put(f"{stem}.json", json.dumps(result, indent=1, default=str).encode())
    if plots:
        p = out_dir / f"{stem}_rates.png"
        plot_rates(result["summary"], p)
        written.append(p)
    return written
