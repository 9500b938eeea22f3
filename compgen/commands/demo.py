"""``cgz demo``: sample text from gzip, primed with the embedded corpus (no download)."""

from __future__ import annotations

DEMO_PROMPT = "The "


def add_parser(sub):
    p = sub.add_parser("demo", help="sample text from gzip primed with CPython's pydoc topics (no download)",
                       description="Generate text with gzip as the language model: the embedded pydoc corpus "
                                   "fills gzip's 32 KB window, candidate words are scored by their exact "
                                   "compressed length, and a sampler picks among them.")
    p.add_argument("-m", "--model", default="gzip", help="model spec (default: gzip)")
    p.add_argument("-n", "--bytes", dest="n", type=int, default=300, help="bytes to generate (default 300)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--prompt", default=DEMO_PROMPT, help=f"text to continue (default {DEMO_PROMPT!r})")
    return p


def run(args) -> int:
    import sys

    from rich.console import Console

    from ..data.corpus import default_corpus
    from ..errors import UsageError
    from ..registry import load
    from ..samplers import TopP
    from ..sampling import generate

    if args.n < 0:
        raise UsageError(f"-n must be >= 0 (got {args.n})")
    console = Console(stderr=True)
    corpus = default_corpus()
    model = load(args.model)
    console.print(f"[bold]{model.spec}[/bold] as a language model, primed with pydoc_data.topics "
                  f"({len(corpus):,} bytes); sampling {args.n} bytes, seed {args.seed}:", highlight=False)
    out = sys.stdout.buffer
    prompt = args.prompt.encode()
    out.write(prompt)
    out.flush()

    def on_text(piece: bytes) -> None:
        out.write(piece)
        out.flush()

    result = generate(model, prompt, corpus, args.n, TopP(0.9, temperature=0.7), args.seed, on_text=on_text)
    out.write(b"\n")
    out.flush()
    s = result.stats
    console.print(f"[dim]{s['bytes']} bytes in {s['seconds']:.2f} s = {s['bytes_per_s'] or 0:.0f} bytes/s; "
                  f"{s['scored']:,} candidates scored by exact compressed length "
                  f"({result.settings['route']}, {result.settings['window']:,}-byte window). "
                  f"Try: cgz sample -m zstd --prime FILE --prompt TEXT[/dim]", highlight=False)
    return 0
