"""Run a study: work units through :mod:`compgen.executors`, one result file per unit.

Phases: (1) one training unit per size (all its checkpoints); (2) per checkpoint and
modality a teacher-forced evaluation unit, per checkpoint an ICL unit, per size a coding
unit (last checkpoint, range coded and decoded); (3) the tokenization study when asked.
Each result is written atomically to ``OUT/units/<kind>-<key>.json`` as it arrives; the
key hashes every setting that determines the result, so a rerun after a kill skips what
is done and redoes the rest. Results then go through :mod:`.report`, which sees only
deterministic numbers: the same study gives the same ``scaling.json`` on every executor
and after any number of interruptions.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

from ..errors import CompgenError, UsageError
from .plan import Study, digest, file_id

MODALITIES = ("text", "image", "audio")


def run_unit(kind: str, unit: dict) -> dict:
    """Worker entry point (top-level, JSON in, JSON out)."""
    if kind == "train":
        from .train_units import train_unit

        return train_unit(unit)
    if kind == "eval":
        from .evaluate import eval_unit

        return eval_unit(unit)
    if kind == "code":
        from .evaluate import code_unit

        return code_unit(unit)
    if kind == "icl":
        from .evaluate import icl_unit

        return icl_unit(unit)
    if kind == "tok":
        from .tokenize import tok_unit

        return tok_unit(unit)
    raise ValueError(kind)


class Store:
    """``OUT/units/<kind>-<key>.json``: one finished unit each, written atomically."""

    def __init__(self, out: Path):
        self.dir = Path(out) / "units"
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, kind: str, key: str) -> Path:
        return self.dir / f"{kind}-{key}.json"

    def get(self, kind: str, key: str):
        p = self.path(kind, key)
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text())["result"]
        except (ValueError, KeyError):
            return None  # cannot happen with atomic writes, but never trust a half file

    def put(self, kind: str, key: str, unit: dict, result: dict) -> None:
        from ..fileio import write_atomic

        blob = json.dumps({"kind": kind, "key": key, "unit": unit, "result": result}, indent=1) + "\n"
        write_atomic(self.path(kind, key), blob.encode(), force=True)


def modality_of(spec: str) -> str:
    from ..data.sources import parse_data_spec

    m = parse_data_spec(spec).modality
    return "text" if m == "bytes" else m


def prepare_eval(study: Study, out: Path) -> dict:
    """Write each modality's evaluation chunks (whole ``chunk``-byte pieces, a seeded sample
    of ``eval_bytes``) to OUT/eval/<modality>.bin; returns {modality: info}."""
    from ..data.sources import Options, load_units, parse_data_spec
    from .evaluate import write_chunks

    info = {}
    (out / "eval").mkdir(parents=True, exist_ok=True)
    for spec in study.evals:
        modality = modality_of(spec)
        if modality in info:
            raise UsageError(f"two --eval specs for {modality}: give one folder or file per modality")
        ds = parse_data_spec(spec)
        if not Path(ds.path).exists():
            raise CompgenError(f"{ds.path}: no such file or directory")
        pieces = load_units([ds], "chunked", Options(chunk=study.chunk), study.eval_bytes or None, study.seed)
        chunks = [p.data for p in pieces if len(p.data) == study.chunk]
        if not chunks:
            raise CompgenError(f"{spec}: no whole {study.chunk}-byte chunk to evaluate on")
        path = out / "eval" / f"{modality}.bin"
        write_chunks(path, chunks)
        info[modality] = {"spec": spec, "chunks": len(chunks), "path": str(path),
                          "crc32": zlib.crc32(b"".join(chunks)), "files": sorted({p.file for p in pieces})}
    return info


def plan_units(study: Study, out: Path, evals: dict) -> dict:
    """{"train": [...], "eval": [...], "code": [...], "icl": [...]}: (key, unit, weight) triples."""
    from ..lm.train import count_params
    from .train_units import checkpoint_dir

    corpus = file_id(study.corpus)
    budgets = study.budgets()
    units: dict[str, list] = {"train": [], "eval": [], "code": [], "icl": []}
    base = {"corpus_id": corpus, "seed": study.seed, "batch_size": study.batch_size, "warmup": study.warmup,
            "heldout": study.heldout, "heldout_eval_bytes": study.heldout_eval_bytes, "threads": study.threads}
    for size, shape in study.shapes():
        n = count_params(shape)
        shape_d = {"layers": shape.layers, "width": shape.width, "heads": shape.heads, "ffn": shape.ffn,
                   "context": shape.context}
        train = dict(base, shape=shape_d, steps=study.steps(), budgets=budgets, lr=study.lr(shape), size=size)
        tkey = digest(train)
        units["train"].append((tkey, dict(train, corpus=str(Path(study.corpus).resolve()), out=str(out.resolve())),
                               max(1, study.steps() * study.tokens_per_step() * (n + 60_000) // 10**9)))
        for b in budgets:
            d = str(checkpoint_dir(out.resolve(), size, b))
            for modality, ev in evals.items():
                u = {"train": tkey, "tokens": b, "modality": modality, "chunk": study.chunk, "crc32": ev["crc32"],
                     "threads": study.threads}
                units["eval"].append((digest(u), dict(u, dir=d, chunks=str(Path(ev["path"]).resolve()), size=size),
                                      max(1, ev["chunks"] * study.chunk * (n + 60_000) // 3 // 10**9)))
                if b == budgets[-1] and study.verify_chunks:
                    cu = dict(u, indices=list(range(min(study.verify_chunks, ev["chunks"]))))
                    units["code"].append((digest(cu), dict(cu, dir=d, chunks=str(Path(ev["path"]).resolve()), size=size),
                                          max(1, len(cu["indices"]) * study.chunk * (n + 200_000) // 10**8)))
            if study.icl_items:
                iu = {"train": tkey, "tokens": b, "items": study.icl_items, "shots": study.icl_shots,
                      "threads": study.threads}
                units["icl"].append((digest(iu), dict(iu, dir=d, size=size), max(1, study.icl_items * (n + 60_000) // 10**6)))
    return units


def _map(backend, store: Store, kind: str, todo: list, desc: str, limit: list) -> None:
    from ..executors import map_units

    if limit[0] is not None:
        todo = todo[: max(0, limit[0])]
        limit[0] -= len(todo)
    if not todo:
        return
    map_units(backend, run_unit, [(kind, u) for _, u, _ in todo],
              labels=[f"{kind} {u.get('size', '')} t{u.get('tokens', '')} {u.get('modality', '')}".strip() for _, u, _ in todo],
              weights=[w for _, _, w in todo], batch=1, desc=desc, unit="units",
              on_result=lambda i, res: store.put(kind, todo[i][0], todo[i][1], res))


def run_study(study: Study, out: str | os.PathLike, executor=None, workers: int | None = None,
              ship_data: bool = False, limit: int | None = None, note=None, plots: bool = True) -> dict | None:
    """Run (or resume) ``study`` into ``out``; returns the report dict, or None when ``limit``
    (new units to run in this call, for tests and partial runs) stopped it early."""
    from ..executors import open_backend

    study.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.json").write_text(json.dumps(study.to_json(), indent=2) + "\n")
    evals = prepare_eval(study, out)
    units = plan_units(study, out, evals)
    store = Store(out)
    lim = [limit]
    say = note or (lambda s: None)
    with open_backend(executor, workers, ship_data) as backend:
        todo = [t for t in units["train"] if store.get("train", t[0]) is None]
        say(f"{len(units['train']) - len(todo)} of {len(units['train'])} training runs already done")
        _map(backend, store, "train", todo, "train", lim)
        if lim[0] is not None and lim[0] <= 0:
            return None
        rest = []
        for kind in ("eval", "icl", "code"):
            rest += [(kind, t) for t in units[kind] if store.get(kind, t[0]) is None]
        done = sum(len(units[k]) for k in ("eval", "icl", "code")) - len(rest)
        say(f"{done} of {done + len(rest)} evaluation units already done")
        for kind in ("eval", "icl", "code"):
            _map(backend, store, kind, [t for k, t in rest if k == kind], kind, lim)
        if lim[0] is not None and lim[0] <= 0 and any(store.get(k, t[0]) is None for k, t in rest):
            return None
        if [t for t in study.tokenizers if t != "bytes"]:
            from .tokenize import plan_tok_units

            tok_units = plan_tok_units(study, out, evals)
            _map(backend, store, "tok", [t for t in tok_units if store.get("tok", t[0]) is None], "tokenizers", lim)
            units["tok"] = tok_units
    from .report import build_report

    results = {kind: [(t[1], store.get(kind, t[0])) for t in lst] for kind, lst in units.items()}
    return build_report(study, out, evals, results, plots=plots)
