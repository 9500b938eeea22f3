"""Benchmark results -> rich table, markdown, CSV, JSON and PNG plots."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..fileio import write_atomic

SUMMARY_FIELDS = ["modality", "mode", "label", "measure", "spec", "route", "units", "input_bytes", "output_bytes", "payload_bytes",
                  "model_size_bytes", "n_params", "raw_rate", "raw_rate_header_once", "header_bytes", "adjusted_rate", "bits_per_byte",
                  "payload_bits_per_byte", "xent_bits_per_byte", "xent_rate", "compress_Bps", "decompress_Bps",
                  "verified", "verify_failed", "load_s", "model_spec"]
PER_FILE_FIELDS = ["modality", "mode", "label", "measure", "file", "route", "input_bytes", "output_bytes", "payload_bytes",
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


def lm_column(r: dict) -> str:
    """What an LM row measures: 'LM cross-entropy (N chunks)' or 'coded, verified (N chunks)'."""
    from .unit import is_codec_spec

    if is_codec_spec(r["spec"]) or r.get("route") not in ("xent", "model"):
        return ""
    n, what = r.get("units", 0), ("chunks" if r.get("mode") == "chunked" else "files")
    if r["route"] == "xent":
        return f"LM cross-entropy ({n} {what})"
    return f"coded{', verified' if r.get('verified') else ''} ({n} {what})"


def add_labels(rows: list[dict]) -> list[dict]:
    for r in rows:
        r["label"] = short_label(r["spec"], r.get("route", "native"))
        r["measure"] = lm_column(r) or "coded" + (", verified" if r.get("verified") else "")
        if lm_column(r):
            r["label"] += f" [{lm_column(r)}]"
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


COLUMNS = ["data", "mode", "model", "input", "raw rate %", "header once %", "adjusted rate %", "bits/byte", "payload b/B",
           "xent b/B", "compress", "decompress", "model size", "verified"]


def table_cells(r: dict) -> list[str]:
    verified = "-" if not (r["verified"] or r["verify_failed"]) else (
        f"{r['verified']}/{r['units']}" + (" FAIL" if r["verify_failed"] else ""))
    once = r.get("raw_rate_header_once")
    return [r.get("modality", "bytes"), r["mode"], r["label"], fmt_bytes(r["input_bytes"]), fmt_rate(r["raw_rate"]),
            fmt_rate(once) if r.get("header_bytes") else "=", fmt_rate(r["adjusted_rate"]),
            fmt_bpb(r["bits_per_byte"]), fmt_bpb(r["payload_bits_per_byte"]), fmt_bpb(r["xent_bits_per_byte"]),
            fmt_speed(r["compress_Bps"]), fmt_speed(r["decompress_Bps"]), fmt_bytes(r["model_size_bytes"]), verified]


def rich_table(rows: list[dict], title: str):
    from rich.table import Table

    table = Table(title=title)
    for col in COLUMNS:
        table.add_column(col, justify="left" if col in ("data", "mode", "model") else "right")
    prev = None
    for r in rows:
        if prev is not None and (r.get("modality"), r["mode"]) != prev:
            table.add_section()
        prev = (r.get("modality"), r["mode"])
        table.add_row(*table_cells(r))
    return table


def markdown_table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" if i < 3 else "---:" for i in range(len(COLUMNS))) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(table_cells(r)) + " |")
    return "\n".join(lines) + "\n"


#: Delétang et al. (ICLR 2024), Table 1, raw rate % (chunked 2048 B; "whole" = the whole
#: enwik9 file): text = enwik9, image = ImageNet patches, audio = LibriSpeech.
PAPER = {
    "gzip": {("text", "chunked"): 48.1, ("text", "whole"): 32.3},
    "xz": {("text", "chunked"): 50.0, ("text", "whole"): 23.0},
    "png": {("image", "chunked"): 58.5},
    "flac": {("audio", "chunked"): 30.9},
    "Chinchilla 70B": {("text", "chunked"): 8.3, ("image", "chunked"): 48.0, ("audio", "chunked"): 21.0},
}
TABLE1_MODALITIES = ("text", "image", "audio", "bytes")


def model_family(row: dict) -> str:
    """Row label without the per-modality wrapper, so one model is one line of Table 1."""
    spec = row["spec"]
    if spec.lower().startswith("7bit:"):
        label = short_label(spec[5:], row.get("route", "native"))
        return label + (f" [{lm_column(row)}]" if lm_column(row) else "")
    return row["label"]


def table1(rows: list[dict]) -> dict:
    """{family: {(modality, mode): row}} plus the ordered modalities present."""
    out: dict[str, dict] = {}
    for r in rows:
        if r.get("route") == "model" and r["label"].endswith("(range-coded)"):
            continue
        out.setdefault(model_family(r), {})[(r.get("modality", "bytes"), r["mode"])] = r
    mods = [m for m in TABLE1_MODALITIES if any(m == k[0] for v in out.values() for k in v)]
    return {"models": out, "modalities": mods}


def table1_markdown(rows: list[dict]) -> str:
    """Table 1 of the paper on our data: raw % (header once) / adjusted % per modality, chunked and whole."""
    t = table1(rows)
    mods = t["modalities"]
    head = ["model"]
    for m in mods:
        head += [f"{m} chunked raw %", f"{m} chunked adj. %", f"{m} whole raw %"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]

    def cell(r, key="raw_rate"):
        if r is not None and key == "raw_rate" and r.get("route") == "xent":
            key = "xent_rate"  # an LM's teacher-forced cross-entropy, as a rate
        if r is None or r.get(key) is None:
            return "-"
        txt = fmt_rate(r[key])
        if key == "raw_rate" and r.get("header_bytes"):
            txt += f" ({fmt_rate(r['raw_rate_header_once'])})"
        if key == "raw_rate" and r["label"].startswith("7bit:"):
            txt += " ⁷"
        return txt + ("" if not r.get("verify_failed") else " FAIL")

    for fam, by in t["models"].items():
        cells = [fam]
        for m in mods:
            c, w = by.get((m, "chunked")), by.get((m, "whole"))
            adj = "-" if c is None or c["adjusted_rate"] is None else (
                fmt_rate(c["adjusted_rate"]) if c["adjusted_rate"] < 100 else f"{100 * c['adjusted_rate']:.3g}")
            cells += [cell(c), adj, cell(w)]
        lines.append("| " + " | ".join(cells) + " |")
    for fam, figs in PAPER.items():
        cells = [f"paper: {fam}"]
        for m in mods:
            cells += [f"{figs[(m, 'chunked')]:.1f}" if (m, "chunked") in figs else "", "",
                      f"{figs[(m, 'whole')]:.1f}" if (m, "whole") in figs else ""]
        lines.append("| " + " | ".join(cells) + " |")
    notes = ["", "Raw rate = compressed bytes / input bytes, every unit a real round trip. In brackets: the "
             "codec's header (PNG framing, FLAC metadata, zpaq block/segment headers and model description, "
             "WebP RIFF/VP8L framing, JPEG XL signature; docs/media.md) counted once across all chunks, as the "
             "paper does. "
             "⁷ = token LM through the exact 7-bit scheme (`7bit:`). LM rows come twice: "
             "[LM cross-entropy (N chunks)] = teacher-forced cross-entropy / 8 over every chunk the codecs "
             "see (the ideal code length, nothing coded), and [coded, verified (N chunks)] = real range-coded "
             "files, decoded and compared, over the --lm-max-bytes subset. Adjusted adds the model's weights (bytes) "
             "to the output. Paper rows: Delétang et al. 2024, Table 1 (enwik9, ImageNet, LibriSpeech)."]
    return "\n".join(lines + notes) + "\n"


def plot_table1(rows: list[dict], path: Path) -> None:
    """Grouped bars: raw rate % per model, one group per modality (chunked), paper figures as markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = table1([r for r in rows if r["mode"] == "chunked"])
    mods, fams = t["modalities"], list(t["models"])
    fig, axes = plt.subplots(1, len(mods), figsize=(4.5 * len(mods), 0.4 * max(4, len(fams)) + 1.8), squeeze=False)
    for ax, m in zip(axes[0], mods):
        names, vals, once = [], [], []
        for f in fams:
            r = t["models"][f].get((m, "chunked"))
            rate = None if r is None else (r.get("raw_rate") if r.get("raw_rate") is not None else r.get("xent_rate"))
            if rate is not None:
                names.append(f)
                vals.append(100 * rate)
                o = r.get("raw_rate_header_once") if r.get("header_bytes") else None
                once.append(100 * o if o is not None else 100 * rate)
        ax.barh(range(len(vals)), vals, color="tab:blue", alpha=0.45, label="every chunk pays its header")
        ax.barh(range(len(once)), once, color="tab:blue", label="header counted once (paper)")
        for i, v in enumerate(vals):
            ax.text(v, i, f" {v:.1f}", va="center", fontsize=8)
        paper = [(k, fig[(m, "chunked")]) for k, fig in PAPER.items() if (m, "chunked") in fig]
        for k, v in paper:
            ax.axvline(v, color="tab:red", lw=0.8, ls="--")
            ax.text(v, len(vals) - 0.4, f"paper {k} {v}", color="tab:red", fontsize=7, rotation=90, va="top")
        ax.set_yticks(range(len(vals)), names)
        ax.invert_yaxis()
        ax.set_xlim(0, max(vals + [60]) * 1.25)
        ax.set_title(f"{m}, chunks")
    axes[0][-1].legend(loc="center right", fontsize=7)
    fig.suptitle("raw rate % (lower is better); LM cross-entropy rows: ideal rate", fontsize=10)
    fig.tight_layout()
    from .scaling import _save

    _save(fig, path)


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

    modes = list(dict.fromkeys((r.get("modality", "bytes"), r["mode"]) for r in rows))
    fig, axes = plt.subplots(1, len(modes), figsize=(6 * len(modes), 0.45 * max(4, len(rows) / len(modes)) + 1.5),
                             squeeze=False)
    for ax, mode in zip(axes[0], modes):
        rs = [r for r in rows if (r.get("modality", "bytes"), r["mode"]) == mode and r["raw_rate"] is not None]
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
        ax.set_title(f"{mode[0]}, {mode[1]}" if mode[0] != "bytes" else mode[1])
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

    md = ["# cgz bench\n", f"Machine: {result.get('machine_line', '?')}\n",
          f"Config: `{json.dumps(result['config'])}`\n", "## Table 1 (raw / adjusted rate %)\n",
          table1_markdown(result["summary"]), "\n## All rows\n", markdown_table(result["summary"])]
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
        p = out_dir / f"{stem}_table1.png"
        plot_table1(result["summary"], p)
        written.append(p)
    return written
