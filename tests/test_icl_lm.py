"""Shared-prefix scoring of token LMs (compgen.lm.prefix_scorer) against brute force.

Tiny random models with a tiny BPE vocabulary (multi-byte tokens, bytes missing) from
tests/test_lm.py's fixtures; every reference is computed by independent full forwards.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

import compgen  # noqa: E402
from compgen.lm.prefix_scorer import PrefixScorer  # noqa: E402

from test_lm import _save_token_lm  # noqa: E402

LN2 = np.log(2)


def _save_llama_token_lm(path):
    """The same tiny tokenizer on a Llama body (rotary positions, grouped KV heads: SmolLM2's shape)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    _save_token_lm(path)
    tok = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(7)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      bos_token_id=0, eos_token_id=0)
    LlamaForCausalLM(cfg).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def lm(request, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"icl-{request.param}")
    path = _save_token_lm(base) if request.param == "gpt2" else _save_llama_token_lm(base)
    return compgen.load(f"hf:{path}:threads=1")


def _full_logprobs(model, toks, natural=True):
    logits, _ = model.forward(np.array([[model.codec.bos_id, *toks]]))
    z = logits[0].astype(np.float64)
    if natural:
        z = np.where(np.array([t is not None and len(t) > 0 for t in model.codec.table]), z, -np.inf)
    z -= z.max()
    return z - np.log(np.exp(z).sum())


def brute_force_bits(model, ctx: bytes, c: bytes) -> float:
    """-log2 P(output after ctx's tokens starts with c): every covering token sequence, each
    path scored by its own full forward (exponential; short c only)."""
    table = model.codec.table
    ids = [i for i, t in enumerate(table) if t]
    ctx_toks = tuple(int(t) for t in model.codec.encode(ctx)) if ctx else ()
    lp = functools.lru_cache(None)(lambda toks: _full_logprobs(model, ctx_toks + toks))

    def cover(toks, pos):
        rest, total, logp = c[pos:], 0.0, lp(toks)
        for t in ids:
            b = table[t]
            if b.startswith(rest):
                total += np.exp(logp[t])
            elif rest.startswith(b):
                total += np.exp(logp[t]) * cover(toks + (t,), pos + len(b))
        return total

    return -np.log(cover((), 0)) / LN2


def old_bits(model, ctx: bytes, c: bytes) -> float:
    """The previous behaviour: c tokenised on its own, teacher-forced after ctx's tokens."""
    return model.token_bits(model.codec.encode(c), model.codec.encode(ctx) if ctx else None)


CTX = [b"the cat sat on", b"the cat sat on the mat. the quick", b"hello world,", b"the cat sat"]
CANDS = [b" the", b" mat", b" th", b" hello", b"at th"]


def test_tree_equals_brute_force_byte_probability(lm):
    scorer = PrefixScorer(lm, prune=0)
    for ctx in CTX:  # nested, extended, unrelated and cut prompts: the cache is reused and dropped
        got = scorer.code_lengths(CANDS, ctx)
        want = [brute_force_bits(lm, ctx, c) for c in CANDS]
        np.testing.assert_allclose(got, want, atol=1e-4)
    assert scorer.stats["reused_tokens"] > 0 and scorer.stats["tree_rounds"] > 0


def test_boundary_rule_differs_from_old_tokenise_on_its_own(lm):
    """' hello' has more than one covering tokenization: the byte probability is larger."""
    ctx, c = b"the cat sat on", b" hello"
    exact = PrefixScorer(lm, prune=0).code_lengths([c], ctx)[0]
    assert abs(exact - brute_force_bits(lm, ctx, c)) < 1e-4
    assert exact < old_bits(lm, ctx, c) - 1e-3  # the old number missed tokenizations
    # the default (pruned, one forward) sits between the exact number and the old one
    approx = lm.code_lengths([c], ctx)[0]
    assert exact - 1e-9 <= approx <= old_bits(lm, ctx, c) + 1e-4
    assert lm.prefix_scorer.settings()["prune"] > 0 and lm.prefix_scorer.settings()["max_rounds"] == 1
    # pruning alone (no forward budget) stays close to exact
    pruned = PrefixScorer(lm, max_rounds=None).code_lengths([c], ctx)[0]
    assert exact - 1e-9 <= pruned < exact + 0.05


def test_cache_reuse_matches_a_fresh_scorer(lm):
    warm = PrefixScorer(lm, prune=0)
    for ctx in CTX:
        warm.code_lengths(CANDS, ctx)
    for ctx in reversed(CTX):
        np.testing.assert_allclose(warm.code_lengths(CANDS, ctx), PrefixScorer(lm, prune=0).code_lengths(CANDS, ctx),
                                   atol=1e-4)


def test_uncovered_bytes_fall_back_to_canonical_tokens(lm):
    c = b" \x01z"  # bytes the tiny vocabulary lacks: escaped by the codec
    got = PrefixScorer(lm).code_lengths([c, b""], b"the cat")
    assert got[1] == 0.0
    full = [int(t) for t in lm.codec.encode(b"the cat")]
    ids = [int(t) for t in lm.codec.encode(c)]
    want = -sum(_full_logprobs(lm, full + ids[:i], natural=False)[t] for i, t in enumerate(ids)) / LN2
    np.testing.assert_allclose(got[0], want, atol=1e-4)


def test_byte_view_probabilities_unchanged_with_the_cache(lm):
    from compgen.lm.byte_view import ByteView

    view, ref = ByteView(lm), ByteView(lm)  # default pruning: the same decisions on both sides
    ref.logprobs = lambda toks: _full_logprobs(lm, list(ref.prefix) + list(toks))  # the old way: full forwards
    text = b"the cat sat on the mat. the quick brown"
    for i in [*range(8), 20, 39, 5, 30]:  # incremental steps, jumps, a reset to a shorter context
        np.testing.assert_allclose(view.next_byte_probs(text[:i]), ref.next_byte_probs(text[:i]), atol=1e-6)
