"""Few-shot tasks with known answers, generated from seeds.

Every item is a prompt (``shots`` demonstrations, then a query), a list of candidate
answers and the index of the right one. Design rules, so that a model with no
in-context ability lands exactly on chance:

- candidates of one item have the same byte length (a length-only model ties them all);
- distractors are built like the answer (same letters, same words, another shift...),
  so surface statistics do not single out the right answer;
- classification items cycle through the classes, so any input-blind choice scores 1/K;
- items are nested over shots: for a given (task, seed, index) the query and the
  candidates stay fixed and the k-shot prompt extends the (k-1)-shot one, so accuracy
  differences between shot counts are not sampling noise of new queries.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
import string
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..errors import CompgenError, UsageError

LOWER = string.ascii_lowercase
N_CHOICES = 4


# ------------------------------------------------------------------ prompt format
@dataclass(frozen=True)
class PromptFormat:
    """``"{input} -> {output}\\n"``: a demonstration; the query stops before ``{output}``."""

    template: str = "{input} -> {output}\n"

    def __post_init__(self):
        t = self.template
        if t.count("{input}") != 1 or t.count("{output}") != 1:
            raise UsageError("prompt format needs exactly one {input} and one {output}")
        if t.index("{input}") > t.index("{output}"):
            raise UsageError("prompt format must put {input} before {output}")

    @classmethod
    def parse(cls, text: str) -> "PromptFormat":
        """CLI form: backslash escapes (``\\n``, ``\\t``) are decoded."""
        try:
            text = text.encode("latin-1", "backslashreplace").decode("unicode_escape")
        except UnicodeDecodeError as exc:
            raise UsageError(f"bad prompt format: {exc}") from None
        return cls(text)

    @property
    def _parts(self) -> tuple[bytes, bytes, bytes]:
        head, _, rest = self.template.partition("{input}")
        mid, _, tail = rest.partition("{output}")
        return head.encode(), mid.encode(), tail.encode()

    def query(self, inp: bytes) -> bytes:
        """The prompt's last line, without the spaces before ``{output}`` (see :attr:`lead`)."""
        head, mid, _ = self._parts
        return head + inp + mid[: len(mid) - len(self.lead)]

    @property
    def lead(self) -> bytes:
        """Spaces right before ``{output}``: they start every candidate instead of ending the
        prompt, so a token LM sees " ABC" as it would in running text (the same bytes, so
        codecs are unaffected)."""
        mid = self._parts[1]
        return mid[len(mid.rstrip(b" ")):]

    @property
    def suffix(self) -> bytes:
        return self._parts[2]

    def answer(self, out: bytes) -> bytes:
        """A candidate: what follows the query in a demonstration."""
        return self.lead + out + self.suffix

    def demo(self, inp: bytes, out: bytes) -> bytes:
        return self.query(inp) + self.answer(out)


# ------------------------------------------------------------------ items
@dataclass
class Item:
    """One multiple-choice question (plus, optionally, a greedy exact-match check)."""

    task: str
    shots: int
    seed: int
    index: int
    prompt: bytes
    candidates: tuple
    answer: int
    target: bytes  # the right candidate without the format's suffix (for exact match)
    em: bool = False
    kind: str = field(default="mc", init=False)

    def key(self) -> str:
        blob = json.dumps({"p": self.prompt.hex(), "c": [c.hex() for c in self.candidates],
                           "a": self.answer, "t": self.target.hex(), "em": self.em})
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    @property
    def chance(self) -> float:
        return 1.0 / len(self.candidates)

    def run(self, model) -> dict:
        from .scoring import greedy_exact_match, score_choice

        out = score_choice(model, self.prompt, self.candidates, self.answer)
        out["em"] = None
        if self.em:
            t = time.perf_counter()
            out["em"] = greedy_exact_match(model, self.prompt, self.target)
            out["em_seconds"] = time.perf_counter() - t
        return out


# ------------------------------------------------------------------ helpers
def _letters(rng: random.Random, n: int) -> str:
    """n distinct lowercase letters (distinct so shuffles give distinct strings)."""
    return "".join(rng.sample(LOWER, n))


def _rand(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(LOWER) for _ in range(n))


def _fresh(rng: random.Random, make, avoid: set, count: int) -> list:
    out: list = []
    for _ in range(1000):
        if len(out) == count:
            break
        x = make()
        if x not in avoid and x not in out:
            out.append(x)
    if len(out) < count:
        raise RuntimeError("could not draw distinct distractors")
    return out


def _shuffles(rng: random.Random, s: str, avoid: set, count: int) -> list:
    def make():
        chars = list(s)
        rng.shuffle(chars)
        return "".join(chars)
    return _fresh(rng, make, avoid, count)


def _scrambles(rng: random.Random, s: str, avoid: set, count: int) -> list:
    """Shuffles of ``s`` that keep no adjacent pair of ``s`` in order (like a reversal), so a
    model that merely prefers copied fragments gains nothing over the right answer."""
    def make():
        while True:
            order = rng.sample(range(len(s)), len(s))
            if _no_adjacent_pairs(order):
                return "".join(s[i] for i in order)
    return _fresh(rng, make, avoid, count)


def _shift(s: str, k: int) -> str:
    return "".join(LOWER[(LOWER.index(c) + k) % 26] for c in s)


WORDS = ("apple river stone cloud green music paper table light storm horse bread "
         "glass chair field honey sugar north south plant tiger money dream flame "
         "ocean piano queen robot salad train video water zebra lemon mouse").split()


def _no_adjacent_pairs(order: Sequence[int]) -> bool:
    """True when no two originally adjacent items stay adjacent in the same order."""
    return all(order[i + 1] != order[i] + 1 for i in range(len(order) - 1))


# ------------------------------------------------------------------ tasks
class Task:
    """A task draws an episode (shared state), demonstrations and a query."""

    name = "task"
    description = ""
    #: what a model needs: "copy" (a string from the context), "rule" (a rule to infer)...
    needs = ""

    def episode(self, rng: random.Random, ctx: "TaskContext"):
        return None

    def demo(self, state, rng: random.Random) -> tuple[str, str]:
        raise NotImplementedError

    def query(self, state, rng: random.Random, demos: list, index: int) -> tuple[str, str, list]:
        """(input, right output, distractor outputs)."""
        raise NotImplementedError


class Copy(Task):
    name = "copy"
    description = "x -> x for a random 6-letter x; distractors: other random strings"
    needs = "copy the input (present in the prompt)"

    def demo(self, state, rng):
        x = _rand(rng, 6)
        return x, x

    def query(self, state, rng, demos, index):
        x = _rand(rng, 6)
        return x, x, _fresh(rng, lambda: _rand(rng, 6), {x}, N_CHOICES - 1)


class Induction(Task):
    name = "induction"
    description = "4 random key->value pairs; demos drawn from them; query one key (seen with prob 1-(3/4)^k)"
    needs = "recall a pair seen before: rises with shots"

    def episode(self, rng, ctx):
        keys = _fresh(rng, lambda: _rand(rng, 4), set(), N_CHOICES)
        vals = _fresh(rng, lambda: _rand(rng, 4), set(keys), N_CHOICES)
        return list(zip(keys, vals))

    def demo(self, pool, rng):
        return rng.choice(pool)

    def query(self, pool, rng, demos, index):
        k, v = rng.choice(pool)
        return k, v, [pv for _, pv in pool if pv != v]


class KeyValue(Task):
    name = "kv_recall"
    description = "demos are a dictionary of k fresh key->value pairs; query one of them; distractors: other values in the prompt"
    needs = "associate key and value (0 shots: nothing to recall)"

    def demo(self, state, rng):
        return _rand(rng, 4), _rand(rng, 4)

    def query(self, state, rng, demos, index):
        keys = {k for k, _ in demos}
        unique = [d for d in demos if sum(dk == d[0] for dk, _ in demos) == 1]
        if unique:
            k, v = rng.choice(unique)
        else:
            k, v = _rand(rng, 4), _rand(rng, 4)
        others = [dv for dk, dv in demos if dv != v]
        rng.shuffle(others)
        others = list(dict.fromkeys(others))[: N_CHOICES - 1]
        others += _fresh(rng, lambda: _rand(rng, 4), {v, *others, *keys}, N_CHOICES - 1 - len(others))
        return k, v, others


class Uppercase(Task):
    name = "uppercase"
    description = "abcdef -> ABCDEF; distractors: uppercase shuffles of the same letters"
    needs = "the case mapping"

    def demo(self, state, rng):
        x = _letters(rng, 6)
        return x, x.upper()

    def query(self, state, rng, demos, index):
        x = _letters(rng, 6)
        return x, x.upper(), [s.upper() for s in _shuffles(rng, x, {x}, N_CHOICES - 1)]


class Reverse(Task):
    name = "reverse"
    description = "abcdef -> fedcba; distractors: shuffles that keep no neighbour pair of the input"
    needs = "the reversal rule"

    def demo(self, state, rng):
        x = _letters(rng, 6)
        return x, x[::-1]

    def query(self, state, rng, demos, index):
        x = _letters(rng, 6)
        return x, x[::-1], _scrambles(rng, x, {x[::-1]}, N_CHOICES - 1)


class Caesar(Task):
    name = "caesar"
    description = "letters shifted by a per-episode secret k in 1..25; distractors: other shifts"
    needs = "infer the shift from demos (0 shots: unknowable)"

    def episode(self, rng, ctx):
        return rng.randint(1, 25)

    def demo(self, k, rng):
        x = _letters(rng, 5)
        return x, _shift(x, k)

    def query(self, k, rng, demos, index):
        x = _letters(rng, 5)
        others = rng.sample([s for s in range(1, 26) if s != k], N_CHOICES - 1)
        return x, _shift(x, k), [_shift(x, s) for s in others]


class WordOrder(Task):
    name = "word_order"
    description = "4 words -> same words in reverse order; distractors: orders that keep no original neighbour pair"
    needs = "the reordering rule"

    _orders = [p for p in itertools.permutations(range(4)) if _no_adjacent_pairs(p) and p != (3, 2, 1, 0)]

    def _pair(self, rng):
        words = rng.sample(WORDS, 4)
        return words, " ".join(words), " ".join(reversed(words))

    def demo(self, state, rng):
        _, x, y = self._pair(rng)
        return x, y

    def query(self, state, rng, demos, index):
        words, x, y = self._pair(rng)
        orders = rng.sample(self._orders, N_CHOICES - 1)
        return x, y, [" ".join(words[i] for i in o) for o in orders]


class Arithmetic(Task):
    name = "arithmetic"
    description = "a, a+d, a+2d, a+3d -> a+4d (two-digit); distractors: answer +-1..3"
    needs = "add the step"

    def _seq(self, rng):
        a, d = rng.randint(10, 40), rng.randint(2, 9)
        terms = [a + i * d for i in range(5)]
        return terms

    def demo(self, state, rng):
        t = self._seq(rng)
        return ", ".join(map(str, t[:4])), str(t[4])

    def query(self, state, rng, demos, index):
        t = self._seq(rng)
        ans = t[4]
        near = [ans + j for j in (-3, -2, -1, 1, 2, 3) if ans + j not in t[:4]]
        return ", ".join(map(str, t[:4])), str(ans), [str(n) for n in rng.sample(near, N_CHOICES - 1)]


class Periodic(Task):
    name = "periodic"
    description = "a periodic letter sequence -> its next 3 items; distractors: the other phases"
    needs = "continue the period (all candidates occur in the input)"

    def _case(self, rng):
        p = rng.choice((4, 5))
        pattern = _letters(rng, p)
        n = rng.randint(9, 13)
        seq = [pattern[i % p] for i in range(n + 3)]
        return pattern, n, " ".join(seq[:n]), " ".join(seq[n:])

    def demo(self, state, rng):
        _, _, x, y = self._case(rng)
        return x, y

    def query(self, state, rng, demos, index):
        pattern, n, x, y = self._case(rng)
        p = len(pattern)
        phases = [" ".join(pattern[(ph + i) % p] for i in range(3)) for ph in range(p) if ph != n % p]
        return x, y, rng.sample(phases, N_CHOICES - 1)


class Classify(Task):
    name = "classify"
    description = "text snippet -> its source label (--class-data DIR, else built-in code/text/data)"
    needs = "tell sources apart from labelled demos"

    def episode(self, rng, ctx):
        return ctx.sources()

    def demo(self, sources, rng):
        label, text = rng.choice(sources)
        return _snippet(rng, text, 0.0, 0.5), label

    def query(self, sources, rng, demos, index):
        label, text = sources[index % len(sources)]
        return _snippet(rng, text, 0.5, 1.0), label, [l for l, _ in sources if l != label]


SNIPPET = 48


def _snippet(rng: random.Random, text: str, lo: float, hi: float) -> str:
    """A SNIPPET-char slice from the [lo, hi) part: demos and queries never overlap."""
    a, b = int(len(text) * lo), int(len(text) * hi) - SNIPPET
    start = rng.randint(a, max(a, b))
    return text[start:start + SNIPPET]


TASKS: dict[str, Task] = {t.name: t for t in (Copy(), Induction(), KeyValue(), Uppercase(), Reverse(),
                                              Caesar(), WordOrder(), Arithmetic(), Periodic(), Classify())}


# ------------------------------------------------------------------ classification sources
_WS = re.compile(r"\s+")


def _clean(raw: bytes) -> str | None:
    """Text with whitespace runs folded to one space; None for binary-looking data."""
    text = raw.decode("utf-8", errors="replace")
    bad = sum(1 for ch in text if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\t\n\r\f\v"))
    if not text or bad > 0.05 * len(text):
        return None
    return _WS.sub(" ", text).strip()


def builtin_sources() -> list[tuple[str, str]]:
    """Fallback classes that need no data: Python code, English docs, generated CSV."""
    import argparse
    import textwrap

    from ..data.corpus import default_corpus

    code = "".join(Path(m.__file__).read_text(encoding="utf-8") for m in (argparse, textwrap))
    rng = random.Random("compgen-icl-data")
    rows = [f"{rng.randint(1, 9999)},{rng.random():.4f},{rng.choice(['red', 'blue', 'green'])},"
            f"{rng.randint(1900, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" for _ in range(4000)]
    return [("code", _clean(code.encode())), ("text", _clean(default_corpus())),
            ("data", _clean("\n".join(rows).encode()))]


def load_sources(path: str | None, min_chars: int = 8 * SNIPPET) -> tuple[list[tuple[str, str]], list[str]]:
    """Classes from a directory: one class per sub-directory, else one per file.

    Returns (sources, notes); binary-looking or too-short inputs are skipped with a note.
    """
    if path is None:
        return builtin_sources(), []
    root = Path(path)
    if not root.is_dir():
        raise CompgenError(f"{path}: not a directory")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    groups: list[tuple[str, list[Path]]]
    if subdirs:
        groups = [(d.name, sorted(f for f in d.rglob("*") if f.is_file())) for d in subdirs]
    else:
        groups = [(f.name.split(".")[0] or f.name, [f]) for f in sorted(root.iterdir())
                  if f.is_file() and not f.name.startswith(".")]
    sources, notes, seen = [], [], set()
    for label, files in groups:
        text = _clean(b"".join(f.read_bytes() for f in files))
        label = _WS.sub("_", label)
        if text is None:
            notes.append(f"skipped {label}: binary")
        elif len(text) < min_chars:
            notes.append(f"skipped {label}: shorter than {min_chars} characters")
        elif label in seen:
            notes.append(f"skipped {label}: duplicate label")
        else:
            seen.add(label)
            sources.append((label, text))
    if len(sources) < 2:
        raise CompgenError(f"{path}: need at least 2 text classes, found {len(sources)}")
    return sources, notes


class TaskContext:
    """Data shared by the generators (classification sources, loaded once)."""

    def __init__(self, class_data: str | None = None):
        self.class_data = class_data
        self._sources = None
        self.notes: list[str] = []

    def sources(self):
        if self._sources is None:
            self._sources, self.notes = load_sources(self.class_data)
        return self._sources


# ------------------------------------------------------------------ item generation
def resolve_tasks(text: str) -> list[str]:
    if text.strip() in ("all", ""):
        return list(TASKS)
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in names if t not in TASKS]
    if unknown:
        raise UsageError(f"unknown task {unknown[0]!r}; `cgz icl --list-tasks` lists them")
    return names


def make_items(tasks: Sequence[str], shots: Sequence[int], seeds: int | Sequence[int], n_items: int,
               fmt: PromptFormat | None = None, em_items: int = 0, em_tasks: Sequence[str] | None = None,
               context: TaskContext | None = None) -> list[Item]:
    """All items for every (task, seed, index, shots).

    Greedy exact match (costly for codecs: 256 compressions per generated byte) is
    checked on the first ``em_items`` items of each (task, shots) of the first seed.
    """
    fmt = fmt or PromptFormat()
    context = context or TaskContext()
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    shots = sorted(set(int(k) for k in shots))
    if not shots or shots[0] < 0:
        raise UsageError("shots must be non-negative integers")
    items: list[Item] = []
    for name in tasks:
        task = TASKS[name]
        for seed in seed_list:
            for index in range(n_items):
                tag = f"{name}|{seed}|{index}"
                state = task.episode(random.Random(tag + "|episode"), context)
                drng = random.Random(tag + "|demos")
                demos = [task.demo(state, drng) for _ in range(shots[-1])]
                for k in shots:
                    inp, out, wrong = task.query(state, random.Random(tag + "|query"), demos[:k], index)
                    cands = [out, *wrong]
                    # answer position is drawn, so no position bias can help a model
                    order = random.Random(tag + "|order").sample(range(len(cands)), len(cands))
                    cands = [cands[i] for i in order]
                    answer = order.index(0)
                    if len(set(cands)) != len(cands):
                        raise RuntimeError(f"{name}: duplicate candidates")
                    prompt = b"".join(fmt.demo(i.encode(), o.encode()) for i, o in demos[:k]) + fmt.query(inp.encode())
                    items.append(Item(
                        task=name, shots=k, seed=seed, index=index, prompt=prompt,
                        candidates=tuple(fmt.answer(c.encode()) for c in cands), answer=answer,
                        target=fmt.lead + out.encode(),
                        em=seed == seed_list[0] and index < em_items and (em_tasks is None or name in em_tasks)))
    return items
