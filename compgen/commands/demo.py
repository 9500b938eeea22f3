"""``compgen demo``: the main job on the embedded corpus, no download needed."""

from __future__ import annotations


def add_parser(sub):
    return sub.add_parser("demo", help="gzip as a model on CPython's pydoc topics (no download)")


def run(args) -> int:
    import time

    from rich.console import Console

    from ..corpus import default_corpus
    from ..model import as_compressor
    from ..registry import load

    console = Console()
    corpus = default_corpus()
    gz = load("gzip:level=9")
    console.print(f"[bold]corpus[/bold]: pydoc_data.topics, {len(corpus):,} bytes")
    ctx = corpus[:20000]
    t = time.perf_counter()
    p = gz.next_byte_probs(ctx)
    dt = time.perf_counter() - t
    top = sorted(range(256), key=lambda b: -p[b])[:8]
    console.print(f"gzip p(next byte | 20 KB context) in {dt * 1000:.0f} ms; top: "
                  + ", ".join(f"{bytes([b])!r}:{p[b]:.3f}" for b in top))
    sample = corpus[20000:20400]
    comp = as_compressor(gz)
    t = time.perf_counter()
    blob = comp.compress(sample)
    assert comp.decompress(blob) == sample
    console.print(f"range-coded {len(sample)} bytes with the gzip model: {len(blob)} bytes "
                  f"({8 * len(blob) / len(sample):.2f} bits/byte incl. container), round trip ok, "
                  f"{time.perf_counter() - t:.1f} s")
    return 0
