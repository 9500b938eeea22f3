"""The adjusted-rate view (the paper's Fig. 2): compressed data plus the model itself.

For a data size D the model is the one trained on D bytes (one pass): its rate is measured
at the checkpoint whose token count is within a factor 1.5 of D, and taken from the
Chinchilla fit L(N, D) elsewhere (marked ``extrapolated``). Adjusted rate = bits/byte / 8 +
model bytes / D, with the model counted at float32, bfloat16 and int8 sizes.
"""

from __future__ import annotations

import math

from .fits import chinchilla_curve
from .plan import PRECISIONS

DATA_SIZES = (10**6, 10**7, 10**8, 10**9)
CODECS = ("gzip", "xz", "ppmd")


def rate_for(size: dict, d: float, chin: dict | None) -> tuple[float | None, str]:
    """(bits/byte, "measured" | "extrapolated" | "n/a") of ``size`` trained on ``d`` bytes."""
    near = [(abs(math.log(t / d)), t) for t in size["measured"]]
    if near:
        gap, t = min(near)
        if gap <= math.log(1.5):
            return size["measured"][t], "measured"
    if chin is None:
        return None, "n/a"
    return float(chinchilla_curve(chin, size["params"], d)), "extrapolated"


def adjusted_view(sizes: list[dict], chin: dict | None, codecs: dict) -> list[dict]:
    """``sizes``: dicts with size, params, measured {tokens: bits/byte}; ``codecs``: name ->
    {"rate": fraction, "at_bytes": n}. One row per data size."""
    rows = []
    for d in DATA_SIZES:
        models = []
        for s in sizes:
            bpb, source = rate_for(s, d, chin)
            if bpb is None:
                continue
            adj = {prec: bpb / 8 + s["params"] * nbytes / d for prec, nbytes in PRECISIONS.items()}
            models.append({"size": s["size"], "params": s["params"], "bits_per_byte": bpb, "source": source,
                           "raw_rate": bpb / 8, "adjusted_rate": adj})
        best = {}
        for prec in PRECISIONS:
            if models:
                m = min(models, key=lambda m: m["adjusted_rate"][prec])
                best[prec] = {"size": m["size"], "params": m["params"], "adjusted_rate": m["adjusted_rate"][prec],
                              "source": m["source"]}
        rows.append({"data_bytes": d, "models": models, "best": best,
                     "codecs": {k: {"rate": v["rate_1mb"] if d <= 10**6 else v["rate"],
                                    "at_bytes": min(d, v["at_bytes"]), "measured": v["at_bytes"] >= 0.9 * d}
                                for k, v in codecs.items()}})
    return rows


def codec_rates(data: bytes) -> dict:
    """Whole-file rates of gzip, xz and PPMd on the first 1 MB and on all of ``data``."""
    import compgen

    out = {}
    for name in CODECS:
        model = compgen.load(name)
        head = data[:10**6]
        out[name] = {"rate": len(model.compress(data)) / max(1, len(data)), "at_bytes": len(data),
                     "rate_1mb": len(model.compress(head)) / max(1, len(head))}
    return out
