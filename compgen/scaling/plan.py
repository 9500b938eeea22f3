"""What a study runs: model shapes for parameter counts, checkpoint budgets, presets.

A :class:`Study` is plain data (JSON round trip), and every work unit is keyed by a hash
of exactly the settings that determine its result, so a rerun reuses finished units and
redoes only what changed or never finished.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import UsageError
from ..lm.train import VOCAB_SIZE, Shape, count_params, default_lr, parse_count

#: bytes per parameter when the model's size is counted in the adjusted rate
PRECISIONS = {"float32": 4, "bfloat16": 2, "int8": 1}

#: the default study (see docs/scaling.md for its measured time)
DEFAULT_SIZES = "8k,25k,40k,85k,210k,470k,820k,1.6m"
DEFAULT_TOKENS = "4M"
DEFAULT_CHECKPOINTS = "0.25M,0.5M,1M,2M,4M"
QUICK_SIZES = "8k,25k,85k"
QUICK_TOKENS = "120k"
QUICK_CHECKPOINTS = "30k,60k,120k"


def ideal_layers(width: int) -> int:
    """Depth that grows slowly with width (1 layer at width 16, 3 at 64-128, 4 from 160)."""
    return max(1, min(6, round(width / 40)))


def shape_for_count(target: int, context: int) -> Shape:
    """The shape on a (layers 1..8, width 16..1024 step 16) grid closest to ``target``
    parameters, trading 8 % of parameter error for each layer away from :func:`ideal_layers`."""
    if target < 1000:
        raise UsageError(f"size {target} is too small: the smallest model has about 8k parameters")
    best = None
    for width in range(16, 1025, 16):
        heads = max(1, width // 32)
        while width % heads:
            heads -= 1
        for layers in range(1, 9):
            shape = Shape(layers, width, heads, 0, context)
            err = abs(math.log(count_params(shape) / target))
            key = (err + 0.08 * abs(layers - ideal_layers(width)), width)
            if best is None or key < best[0]:
                best = (key, shape)
    return best[1]


def non_embedding(shape: Shape) -> int:
    """Parameters outside the (tied) byte embedding."""
    return count_params(shape) - VOCAB_SIZE * shape.resolved().width


def parse_list(text: str, what: str) -> list[int]:
    out = []
    for item in str(text).split(","):
        if not item.strip():
            continue
        n = parse_count(item)
        if n is None or n <= 0:
            raise UsageError(f"bad {what} {item.strip()!r}: use counts like 25k, 1.6M or 250000")
        out.append(n)
    if not out:
        raise UsageError(f"no {what} given")
    return out


def label(n: int) -> str:
    """250000 -> '250k', 1600000 -> '1.6M' (file-name safe)."""
    if n >= 1_000_000_000:
        return f"{n / 1e9:.4g}G"
    if n >= 1_000_000:
        return f"{n / 1e6:.4g}M"
    if n >= 1000:
        return f"{n / 1e3:.4g}k"
    return str(n)


@dataclass
class Study:
    """Everything that determines a study's results (not where or how fast it runs)."""

    corpus: str
    evals: list  # data specs: text:PATH image:PATH audio:PATH
    sizes: list  # parameter counts asked for
    tokens: int
    checkpoints: list  # token budgets (the last one is ``tokens``)
    seed: int = 0
    batch_size: int = 8
    context: int = 257  # BOS + 256 bytes: a 2048-byte chunk is exactly 8 windows
    lr_scale: float = 1.0
    warmup: int = 100
    heldout: float = 0.05
    heldout_eval_bytes: int = 65536
    chunk: int = 2048
    eval_bytes: int = 262144  # per modality, a seeded sample of whole chunks; 0 = all
    verify_chunks: int = 1  # coded and decoded chunks per modality and size (last checkpoint)
    icl_items: int = 8  # per task
    icl_shots: int = 4
    tokenizers: list = field(default_factory=lambda: ["bytes"])
    threads: int = 1  # torch threads per unit: same on every executor, so results are identical
    bootstrap: int = 300
    quick: bool = False

    def shapes(self) -> list[tuple[str, Shape]]:
        out, seen = [], set()
        for n in self.sizes:
            s = shape_for_count(n, self.context).resolved()
            key = (s.layers, s.width)
            if key in seen:
                raise UsageError(f"sizes {label(n)} and another map to the same shape ({s.layers} layers, "
                                 f"width {s.width}): give sizes further apart")
            seen.add(key)
            out.append((label(n), s))
        return sorted(out, key=lambda t: count_params(t[1]))

    def tokens_per_step(self) -> int:
        return self.batch_size * (self.context - 1)

    def steps(self) -> int:
        return max(1, int(round(self.tokens / self.tokens_per_step())))

    def budgets(self) -> list[int]:
        """Checkpoint budgets rounded to whole steps (tokens actually seen there)."""
        tps = self.tokens_per_step()
        out = sorted({max(1, int(round(c / tps))) * tps for c in self.checkpoints})
        last = self.steps() * tps
        return [b for b in out if b < last] + [last]

    def lr(self, shape: Shape) -> float:
        return self.lr_scale * default_lr(shape.width)

    def to_json(self) -> dict:
        return asdict(self)

    def validate(self) -> None:
        if self.tokens < self.tokens_per_step():
            raise UsageError(f"--tokens {self.tokens} is less than one step ({self.tokens_per_step()} tokens)")
        if any(c > self.tokens for c in self.checkpoints):
            raise UsageError("every --checkpoints budget must be <= --tokens")
        if self.batch_size < 1 or self.threads < 1 or self.bootstrap < 20:
            raise UsageError("--batch-size and --threads must be >= 1, --bootstrap >= 20")
        if self.chunk % (self.context - 1):
            raise UsageError(f"--chunk {self.chunk} must be a multiple of the context minus BOS ({self.context - 1})")
        if len(self.sizes) < 1:
            raise UsageError("give at least one size")
        self.shapes()


def file_id(path: str) -> dict:
    """Name, size and crc32 of a file: what identifies a corpus in the unit keys."""
    import zlib

    data = Path(path).read_bytes()
    return {"name": Path(path).name, "bytes": len(data), "crc32": zlib.crc32(data)}


def digest(obj) -> str:
    """Short stable hash of a JSON-able object (the unit keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def default_data_dir() -> Path | None:
    """``shared/data`` beside the checkout or beside one of its parent folders (the project's
    corpora: ../shared/data from a clone, ../../shared/data from a worktree), when it is there."""
    here = Path(__file__).resolve().parents[2]
    for base in (here, *here.parents):
        cand = base.parent / "shared" / "data"
        if (cand / "enwik8_head.txt").exists():
            return cand
    return None
