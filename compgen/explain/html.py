"""One self-contained HTML page: no network, inline CSS and JS, the data as embedded JSON.

Text: every byte is a ``<span class="b" data-i="...">`` cell in one pane per model and
one difference pane, coloured by its bits; hovering a cell shows the byte, its bits
under each model and, for token LMs, the token and its top predictions. Images and
audio: heat-map / waveform PNGs as ``data:`` URIs (:mod:`.media`). Totals sit in
elements with ``data-total`` holding the exact float.
"""

from __future__ import annotations

import base64
import html
import json

import numpy as np

from .report import Report

MAX_BITS = 16.0  # top of the colour scale (bits per byte)
DIFF_BITS = 8.0  # +/- ends of the difference scale


def glyphs(data: bytes) -> tuple[list[str], list[int]]:
    """Display text per byte (a UTF-8 character in its first byte's cell, '' in the rest,
    '·' for control bytes, '↵' for a newline) and the indices after which a line breaks."""
    out, breaks = [], []
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        width = 1 if b < 0xC0 else 2 if b < 0xE0 else 3 if b < 0xF0 else 4
        if b >= 0x80 and width > 1 and i + width <= n:
            try:
                ch = data[i:i + width].decode("utf-8")
            except UnicodeDecodeError:
                ch = None
            if ch is not None:
                out += [ch] + [""] * (width - 1)
                i += width
                continue
        if b == 10:
            out.append("↵")
            breaks.append(i)
        elif b == 9:
            out.append("→")
        elif b == 32:
            out.append(" ")
        elif 32 < b < 127:
            out.append(chr(b))
        else:
            out.append("·")
        i += 1
    return out, breaks


#: media bits travel as int16 in 1/64 bit (hover values; the totals are exact floats)
QUANTUM = 64


def _b64(a: np.ndarray) -> str:
    q = np.clip(np.rint(np.asarray(a, dtype=np.float64) * QUANTUM), -32768, 32767).astype("<i2")
    return base64.b64encode(q.tobytes()).decode()


def payload(report: Report, images: dict | None = None) -> dict:
    models = []
    for m in report.models:
        entry = {"spec": m.spec, "label": m.label or m.spec, "total": float(m.total), "bpb": m.bits_per_byte, "method": m.method,
                 "resolution": m.resolution, "seconds": round(m.seconds, 3)}
        if report.modality in ("image", "audio"):
            entry["bits64"] = _b64(m.bits)  # int16 little endian, 1/QUANTUM bits
        else:
            entry["bits"] = [round(float(v), 4) for v in m.bits]
        if m.tokens and report.modality not in ("image", "audio"):
            entry["tokens"] = [[a, b, round(tb, 4), text, [[t, round(p, 5)] for t, p in preds]]
                               for a, b, tb, text, preds in m.tokens]
        models.append(entry)
    out = {"source": report.source, "modality": report.modality, "n": len(report.data), "cut": report.cut,
           "original": report.original_bytes, "models": models, "diff": list(report.diff), "smooth": report.smooth,
           "max_bits": MAX_BITS, "diff_bits": DIFF_BITS, "notes": report.notes, "pieces": report.pieces,
           "quantum": QUANTUM}
    if report.modality in ("image", "audio"):
        out["bytes64"] = base64.b64encode(report.data).decode()
    else:
        g, breaks = glyphs(report.data)
        out["glyphs"], out["breaks"] = g, breaks
        out["bytes64"] = base64.b64encode(report.data).decode()
    if report.modality == "image":
        out["patch"], out["grid"] = list(report.patch), list(report.grid)
        out["width"], out["height"] = int(report.picture.shape[1]), int(report.picture.shape[0])
    if report.modality == "audio":
        out["rate"] = report.rate
    if images:
        out["images"] = images
    return out


def render(report: Report, images: dict | None = None) -> str:
    """The whole page as a string."""
    data = json.dumps(payload(report, images), ensure_ascii=False, separators=(",", ":"))
    data = data.replace("</", "<\\/").replace("<!--", "<\\!--")
    title = f"Where the bits go: {report.source}"
    return (PAGE.replace("%TITLE%", html.escape(title))
            .replace("%DATA%", data))


PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%TITLE%</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:18px 24px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 4px} .sub{color:#555;margin:0 0 10px}
table.tot{border-collapse:collapse;margin:8px 0 10px} .tot td,.tot th{border-bottom:1px solid #ddd;padding:3px 10px;text-align:left}
.tot td.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin:8px 0}
.bar button{border:1px solid #bbb;background:#f6f6f6;padding:4px 10px;border-radius:4px;cursor:pointer;font:inherit}
.bar button.on{background:#333;color:#fff;border-color:#333}
.legend{display:flex;align-items:center;gap:8px;margin:4px 0 8px;color:#444;font-size:12px}
.ramp{width:260px;height:12px;border:1px solid #ccc}
.pane{font:13px/1.55 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all;
 border:1px solid #ddd;padding:10px;max-width:1100px;max-height:72vh;overflow-y:auto}
.pane .b{border-radius:2px}
.hidden{display:none}
#tip{position:fixed;pointer-events:none;background:#fffffb;border:1px solid #999;box-shadow:0 2px 6px rgba(0,0,0,.2);
 padding:6px 9px;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;display:none;z-index:9;max-width:460px;white-space:pre}
.note{color:#666;font-size:12px;max-width:1100px}
.media img{image-rendering:pixelated;border:1px solid #ccc;margin:4px 8px 4px 0}
.media figure{display:inline-block;margin:0 10px 10px 0;vertical-align:top} .media figcaption{font-size:12px;color:#444}
</style></head><body>
<h1 id="title"></h1>
<p class="sub" id="sub"></p>
<table class="tot" id="totals"><thead><tr><th>model</th><th>total bits</th><th id="unit">bits/byte</th><th>how</th><th>seconds</th></tr></thead><tbody></tbody></table>
<div class="note" id="meaning"></div>
<div class="bar" id="tabs"></div>
<div class="bar" id="controls"></div>
<div class="legend" id="legend"></div>
<div id="views"></div>
<div id="tip"></div>
<script id="data" type="application/json">%DATA%</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const M = D.models, N = D.n;
const bytes = Uint8Array.from(atob(D.bytes64), c => c.charCodeAt(0));
function i16(b64){const s=atob(b64);const u=new Uint8Array(s.length);for(let i=0;i<s.length;i++)u[i]=s.charCodeAt(i);
  const q=new Int16Array(u.buffer), out=new Float64Array(q.length); for(let i=0;i<q.length;i++) out[i]=q[i]/D.quantum; return out;}
M.forEach(m => { if (m.bits64) m.bits = i16(m.bits64); });
const el = (tag, attrs, text) => { const e = document.createElement(tag); for (const k in (attrs||{})) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; return e; };
// colour scales: sequential (bits) and diverging (difference)
const SEQ = [[255,255,229],[255,247,188],[254,227,145],[254,196,79],[254,153,41],[236,112,20],[204,76,2],[153,52,4],[102,37,6]];
const DIV = [[33,102,172],[103,169,207],[209,229,240],[247,247,247],[253,219,199],[239,138,98],[178,24,43]];
function ramp(stops, t){ t=Math.max(0,Math.min(1,t)); const x=t*(stops.length-1), i=Math.min(stops.length-2,Math.floor(x)), f=x-i;
  const a=stops[i], b=stops[i+1]; return `rgb(${Math.round(a[0]+(b[0]-a[0])*f)},${Math.round(a[1]+(b[1]-a[1])*f)},${Math.round(a[2]+(b[2]-a[2])*f)})`; }
const bitsColour = v => v < 0 ? "rgb(198,219,239)" : ramp(SEQ, v / D.max_bits);
const diffColour = d => ramp(DIV, 0.5 + d / (2 * D.diff_bits));
function smoothed(arr, w){ if (w <= 1) return arr; const out = new Float64Array(arr.length); let s = 0; const h = Math.floor(w/2);
  const pre = new Float64Array(arr.length + 1); for (let i=0;i<arr.length;i++) pre[i+1] = pre[i] + arr[i];
  for (let i=0;i<arr.length;i++){ const a=Math.max(0,i-h), b=Math.min(arr.length,i-h+w); out[i]=(pre[b]-pre[a])/(b-a);} return out; }
const fmt = (v, d=2) => (v === undefined || v === null) ? "-" : Number(v).toFixed(d);
// ---------------------------------------------------------------- header and totals
document.getElementById("title").textContent = "Where the bits go: " + D.source;
const what = {text:"bytes of text", bytes:"bytes", image:"pixels (8-bit grayscale)", audio:"samples (16 kHz, 8-bit)"}[D.modality] || "bytes";
document.getElementById("sub").textContent = `${N.toLocaleString()} ${what}` + (D.pieces > 1 ? `, coded as ${D.pieces} pieces, each on its own (as cgz score does)` : "")
  + (D.cut ? ` — ${D.cut}` : "");
const tb = document.querySelector("#totals tbody");
M.forEach((m, k) => { const tr = el("tr"); tr.appendChild(el("td", {title: m.spec}, m.label));
  tr.appendChild(el("td", {"class":"num total", "data-model": String(k), "data-spec": m.spec, "data-total": String(m.total)}, m.total.toLocaleString(undefined, {maximumFractionDigits: 3})));
  tr.appendChild(el("td", {"class":"num bpb", "data-model": String(k), "data-bpb": String(m.bpb)}, fmt(m.bpb, 4)));
  tr.appendChild(el("td", {}, m.method)); tr.appendChild(el("td", {"class":"num"}, fmt(m.seconds, 2))); tb.appendChild(tr); });
const unit = D.modality === "image" ? "pixel" : D.modality === "audio" ? "sample" : "byte";
document.getElementById("unit").textContent = "bits/" + unit;
document.getElementById("meaning").innerHTML =
  (unit === "byte" ? "Each cell is one byte" : `Each ${unit} is one byte`) + ", coloured by its code length −log<sub>2</sub> p(byte | everything before it) under the model; the cells of a model add up to its total, " +
  "which is the Model's code length of the input (what <code>cgz score</code> reports). For a codec this is the paper's definition p(x) = 2<sup>−8·|C(x)|</sup>: " +
  "a byte costs 8 × (|C(prefix + byte)| − |C(prefix)|) bits, the growth of the compressed prefix, so most codec bytes cost 0 or 8 bits (and a byte that lets the codec re-plan can cost less than 0). " +
  "For a token LM, a token's teacher-forced bits are split over its bytes by the model's own probabilities of the token prefixes." +
  (D.notes.length ? "<br>" + D.notes.map(s => s.replace(/&/g,"&amp;").replace(/</g,"&lt;")).join("<br>") : "");
// ---------------------------------------------------------------- views
const tabs = document.getElementById("tabs"), views = document.getElementById("views"), legend = document.getElementById("legend");
const panes = [];
let diffA = D.diff[0], diffB = D.diff[1], smooth = D.smooth || 1;
function legendFor(kind){
  legend.innerHTML = "";
  const c = el("canvas", {"class":"ramp", width:"260", height:"12"}); const g = c.getContext("2d");
  for (let x = 0; x < 260; x++){ g.fillStyle = kind === "diff" ? diffColour((x/259*2-1)*D.diff_bits) : bitsColour(x/259*D.max_bits); g.fillRect(x,0,1,12); }
  if (kind === "diff"){ legend.append(el("span", {}, `${M[diffB].label} cheaper by ${D.diff_bits}+ bits`), c, el("span", {}, `${M[diffA].label} cheaper by ${D.diff_bits}+ bits`));
    legend.append(el("span", {}, ` (blue: ${M[diffB].label} beats ${M[diffA].label}; red: ${M[diffA].label} beats ${M[diffB].label}; colour = bits under ${M[diffB].label} − bits under ${M[diffA].label})`)); }
  else { legend.append(el("span", {}, "0 bits"), c, el("span", {}, `${D.max_bits}+ bits per ${D.modality === "audio" ? "sample" : D.modality === "image" ? "pixel" : "byte"}`), el("span", {}, " (pale blue: < 0)")); }
}
function show(k){ panes.forEach((p, i) => p.classList.toggle("hidden", i !== k)); [...tabs.children].forEach((b, i) => b.classList.toggle("on", i === k));
  legendFor(k === M.length ? "diff" : "bits"); }
function addTab(label, k){ const b = el("button", {type:"button"}, label); b.onclick = () => show(k); tabs.appendChild(b); }
M.forEach((m, k) => addTab(m.label, k));
if (M.length > 1) addTab("difference", M.length);
const controls = document.getElementById("controls");
// ---------------------------------------------------------------- text
const tokenOf = M.map(m => { if (!m.tokens) return null; const t = new Int32Array(N).fill(-1); m.tokens.forEach((tk, j) => { for (let i = tk[0]; i < tk[1]; i++) t[i] = j; }); return t; });
function buildText(){
  for (let k = 0; k <= M.length; k++){
    if (k === M.length && M.length < 2) break;
    const pane = el("div", {"class":"pane", "data-model": k < M.length ? String(k) : "diff", "data-spec": k < M.length ? M[k].spec : "difference"});
    const frag = document.createDocumentFragment(); const brk = new Set(D.breaks);
    for (let i = 0; i < N; i++){ const s = el("span", {"class":"b", "data-i": String(i)}, D.glyphs[i]); frag.appendChild(s); if (brk.has(i)) frag.appendChild(document.createElement("br")); }
    pane.appendChild(frag); views.appendChild(pane); panes.push(pane);
  }
  colourText();
}
function colourText(){
  M.forEach((m, k) => { const v = smoothed(m.bits, smooth); const cells = panes[k].children; let i = 0;
    for (const c of cells){ if (c.tagName === "SPAN"){ c.style.background = bitsColour(v[i]); i++; } } });
  if (M.length > 1){ const a = smoothed(M[diffA].bits, smooth), b = smoothed(M[diffB].bits, smooth); let i = 0;
    for (const c of panes[M.length].children){ if (c.tagName === "SPAN"){ c.style.background = diffColour(b[i] - a[i]); i++; } } }
}
function byteLabel(b){ if (b === 10) return "\\n"; if (b === 9) return "\\t"; if (b === 13) return "\\r"; if (b >= 32 && b < 127) return JSON.stringify(String.fromCharCode(b));
  return "0x" + b.toString(16).padStart(2, "0"); }
const tip = document.getElementById("tip");
function tipText(i){
  const lines = [`byte ${i}: ${byteLabel(bytes[i])} (0x${bytes[i].toString(16).padStart(2,"0")})`];
  M.forEach((m, k) => lines.push(`${m.label.padEnd(14)} ${fmt(m.bits[i], 3).padStart(8)} bits`));
  if (M.length > 1) lines.push(`${M[diffB].label} − ${M[diffA].label}: ${fmt(M[diffB].bits[i] - M[diffA].bits[i], 3)} bits`);
  M.forEach((m, k) => { const t = tokenOf[k]; if (!t || t[i] < 0) return; const tk = m.tokens[t[i]];
    lines.push("", `${m.label}: token ${JSON.stringify(tk[3])} (bytes ${tk[0]}..${tk[1]-1}), ${fmt(tk[2], 3)} bits`, "  predicted next:");
    tk[4].forEach(p => lines.push(`    ${(JSON.stringify(p[0])).padEnd(20)} ${(100 * p[1]).toFixed(2)} %`)); });
  return lines.join("\n");
}
function place(ev){ tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8) + "px";
  tip.style.top = Math.min(ev.clientY + 14, window.innerHeight - tip.offsetHeight - 8) + "px"; }
views.addEventListener("mouseover", ev => { const c = ev.target.closest ? ev.target.closest(".b") : null; if (!c) return;
  tip.textContent = tipText(+c.dataset.i); tip.style.display = "block"; place(ev); });
views.addEventListener("mousemove", ev => { if (tip.style.display === "block") place(ev); });
views.addEventListener("mouseout", ev => { if (!ev.relatedTarget || !ev.relatedTarget.closest || !ev.relatedTarget.closest(".b")) tip.style.display = "none"; });
// ---------------------------------------------------------------- image and audio
function buildMedia(){
  const imgs = D.images || {};
  for (let k = 0; k <= M.length; k++){
    if (k === M.length && M.length < 2) break;
    const pane = el("div", {"class":"media", "data-model": k < M.length ? String(k) : "diff"});
    const key = k < M.length ? "model" + k : "diff";
    if (D.modality === "image"){
      const f1 = el("figure"); f1.append(el("img", {src: imgs.picture, width: String(D.width), alt: "picture"}), el("figcaption", {}, "the picture (grayscale, as coded)"));
      const f2 = el("figure"); const im = el("img", {src: imgs[key], width: String(D.width), alt: key, "class":"heat", "data-model": String(k)});
      const avg = D.smooth > 1 ? ` (colours averaged over ${D.smooth}x${D.smooth} pixels)` : "";
      f2.append(im, el("figcaption", {}, (k < M.length ? `bits per pixel under ${M[k].label}` : `difference: ${M[diffB].label} − ${M[diffA].label}`) + avg));
      pane.append(f1, f2);
      im.addEventListener("mousemove", ev => { const r = im.getBoundingClientRect(); const x = Math.floor((ev.clientX - r.left) / r.width * D.width), y = Math.floor((ev.clientY - r.top) / r.height * D.height);
        const [pr, pc] = D.patch, nc = D.grid[1]; const i = (Math.floor(y / pr) * nc + Math.floor(x / pc)) * pr * pc + (y % pr) * pc + (x % pc);
        if (i < 0 || i >= N) return; const lines = [`pixel (${x}, ${y}) value ${bytes[i]}`]; M.forEach(m => lines.push(`${m.label.padEnd(14)} ${fmt(m.bits[i], 3).padStart(8)} bits`));
        tip.textContent = lines.join("\n"); tip.style.display = "block"; place(ev); });
      im.addEventListener("mouseleave", () => { tip.style.display = "none"; });
    } else {
      const f = el("figure"); f.append(el("img", {src: imgs[key], alt: key, style: "max-width:1100px;width:100%"}),
        el("figcaption", {}, k < M.length ? `waveform, spectrogram and bits per sample under ${M[k].label}` : `difference per sample: ${M[diffB].label} − ${M[diffA].label}`));
      pane.append(f);
    }
    views.appendChild(pane); panes.push(pane);
  }
}
if (D.modality === "image" || D.modality === "audio") buildMedia(); else {
  buildText();
  const sel = (label, val, fn, opts) => { const s = el("select"); opts.forEach(([v, t]) => { const o = el("option", {value: String(v)}, t); if (v === val) o.selected = true; s.appendChild(o); });
    s.onchange = () => fn(+s.value); controls.append(el("span", {}, label), s); };
  sel("colour average over", smooth, v => { smooth = v; colourText(); }, [[1,"1 byte (exact)"],[4,"4 bytes"],[8,"8 bytes"],[16,"16 bytes"],[32,"32 bytes"]]);
  if (M.length > 1){ const opts = M.map((m, k) => [k, m.label]);
    sel(" difference: A =", diffA, v => { diffA = v; colourText(); if (!panes[M.length].classList.contains("hidden")) legendFor("diff"); }, opts);
    sel(" B =", diffB, v => { diffB = v; colourText(); if (!panes[M.length].classList.contains("hidden")) legendFor("diff"); }, opts); }
}
// the first view from the address: #view=K (0-based) or #view=diff, #a=K&b=K (text: the difference's models), #smooth=N, #at=BYTE (scrolls the text there), #tip=BYTE (shows that byte's hover box)
const hash = new URLSearchParams(location.hash.slice(1));
if (hash.get("smooth") && !(D.modality === "image" || D.modality === "audio")) { smooth = Math.max(1, +hash.get("smooth") || 1); colourText();
  const s0 = controls.querySelector("select"); if (s0) s0.value = String(smooth); }
const v0 = hash.get("view"), at = hash.get("at");
if (M.length > 1 && hash.get("a") !== null && hash.get("b") !== null && !(D.modality === "image" || D.modality === "audio")){
  diffA = Math.min(M.length - 1, +hash.get("a") || 0); diffB = Math.min(M.length - 1, +hash.get("b") || 0); colourText();
  const sels = controls.querySelectorAll("select"); if (sels.length === 3){ sels[1].value = String(diffA); sels[2].value = String(diffB); } }
show(v0 === "diff" && M.length > 1 ? M.length : Math.min(M.length - 1, Math.max(0, +v0 || 0)));
if (at !== null){ const pane = panes.find(p => !p.classList.contains("hidden")), cell = pane && pane.querySelector(`[data-i="${+at}"]`);
  if (cell) pane.scrollTop = cell.offsetTop - pane.offsetTop - 8; }
if (hash.get("tip") !== null && !(D.modality === "image" || D.modality === "audio")){  // #tip=BYTE: its hover box, pinned
  const i = Math.min(N - 1, Math.max(0, +hash.get("tip") || 0)); tip.textContent = tipText(i); tip.style.display = "block";
  tip.style.right = "16px"; tip.style.top = "16px"; tip.dataset.i = String(i); }
document.body.dataset.ready = "1";
</script></body></html>
"""
