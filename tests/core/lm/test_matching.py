"""core/lm/matching.py: the greedy matching shared by the F_BERT loss and the metric.

Golden numbers: bert_score 0.3.13 (``bert_score.score``) on the bundled MiniLM, layer 5,
idf off, no rescaling — the setting bertune uses by default.
"""
from __future__ import annotations

import pytest
import torch

from bertune_cli.core.lm.matching import greedy_match, lm_hidden, special_token_weights
from bertune_cli.core.lm.model import resolve_lm

HYPS = ["A man in an orange hat is staring at something.", "dog",
        "Two children are playing in the sand.", "It's a well-known fact, isn't it?",
        "ok"]
REFS = ["A man wearing an orange hat looks at something.", "a dog runs",
        "Two young kids play on the beach.", "Everyone knows that.", "ok"]


def _pad(tokenizer, texts):
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"].bool()


@pytest.fixture(scope="module")
def bert_score_prf():
    from bert_score import score

    return score(HYPS, REFS, model_type=resolve_lm("minilm"), num_layers=5, idf=False,
                 batch_size=16)


def test_greedy_match_on_ids_equals_bert_score(minilm, bert_score_prf):
    hyp_ids, hyp_mask = _pad(minilm.tokenizer, HYPS)
    ref_ids, ref_mask = _pad(minilm.tokenizer, REFS)
    with torch.no_grad():
        h = lm_hidden(minilm, hyp_mask, input_ids=hyp_ids)
        r = lm_hidden(minilm, ref_mask, input_ids=ref_ids)
    P, R, F = greedy_match(h, r, hyp_mask, ref_mask)
    for mine, theirs in zip((P, R, F), bert_score_prf):
        assert torch.allclose(mine, theirs, atol=1e-5, rtol=0)


def test_one_hot_embeddings_equal_bert_score(minilm, bert_score_prf):
    """What the fine-tuning needs: inputs_embeds = E[ids] (one-hot p·E) gives bert_score F1."""
    hyp_ids, hyp_mask = _pad(minilm.tokenizer, HYPS)
    ref_ids, ref_mask = _pad(minilm.tokenizer, REFS)
    one_hot = torch.nn.functional.one_hot(hyp_ids, minilm.vocab_size).float()   # (B, T, V)
    with torch.no_grad():
        h = lm_hidden(minilm, hyp_mask, inputs_embeds=one_hot @ minilm.embeddings)
        r = lm_hidden(minilm, ref_mask, input_ids=ref_ids)
    _, _, F = greedy_match(h, r, hyp_mask, ref_mask)
    assert torch.allclose(F, bert_score_prf[2], atol=1e-5, rtol=0)


def test_inputs_embeds_equal_input_ids(minilm):
    ids, mask = _pad(minilm.tokenizer, HYPS)
    with torch.no_grad():
        a = lm_hidden(minilm, mask, input_ids=ids)
        b = lm_hidden(minilm, mask, inputs_embeds=minilm.embeddings[ids])
    assert torch.allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError):
        lm_hidden(minilm, mask)


def _random(b=3, t=6, s=5, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    hyp, ref = torch.randn(b, t, d, generator=g), torch.randn(b, s, d, generator=g)
    hm = torch.tensor([[1] * t, [1] * 4 + [0] * (t - 4), [1] * 3 + [0] * (t - 3)]).bool()
    rm = torch.tensor([[1] * s, [1] * 3 + [0] * (s - 3), [1] * s]).bool()
    return hyp, ref, hm, rm


def test_inputs_are_not_modified_and_gradients_flow():
    hyp, ref, hm, rm = _random()
    hyp.requires_grad_(True)
    before_h, before_r = hyp.detach().clone(), ref.clone()
    hw, rw = special_token_weights(hm), special_token_weights(rm)
    rw_before = rw.clone()
    P, R, F = greedy_match(hyp, ref, hm, rm, hw, rw)
    F.sum().backward()
    assert torch.equal(hyp.detach(), before_h) and torch.equal(ref, before_r)
    assert torch.equal(rw, rw_before)                       # weights normalised out of place
    assert hyp.grad is not None and torch.isfinite(hyp.grad).all()
    assert hyp.grad[1, 4:].abs().sum() == 0                 # padding gets no gradient


def test_matches_a_direct_reference_computation():
    hyp, ref, hm, rm = _random(seed=1)
    P, R, F = greedy_match(hyp, ref, hm, rm)
    for b in range(3):
        h = hyp[b, hm[b]] / hyp[b, hm[b]].norm(dim=-1, keepdim=True)
        r = ref[b, rm[b]] / ref[b, rm[b]].norm(dim=-1, keepdim=True)
        sim = h @ r.T
        p = sim.max(1).values[1:-1].mean()                  # [CLS]/[SEP] weigh 0
        rr = sim.max(0).values[1:-1].mean()
        assert torch.allclose(P[b], p, atol=1e-6) and torch.allclose(R[b], rr, atol=1e-6)
        assert torch.allclose(F[b], 2 * p * rr / (p + rr), atol=1e-6)


def test_single_wordpiece_sentence_is_ordinary_and_empty_gives_zero():
    """method.md §4: one WordPiece must not give F = 0; [CLS][SEP] only gives 0, no NaN."""
    g = torch.Generator().manual_seed(2)
    hyp, ref = torch.randn(2, 3, 8, generator=g), torch.randn(2, 3, 8, generator=g)
    hm = torch.tensor([[1, 1, 1], [1, 1, 0]]).bool()        # "[CLS] w [SEP]", "[CLS] [SEP]"
    rm = torch.tensor([[1, 1, 1], [1, 1, 1]]).bool()
    ref[0, 1] = hyp[0, 1]                                   # identical single word
    hyp.requires_grad_(True)
    P, R, F = greedy_match(hyp, ref, hm, rm)
    assert F[0] > 0.99 and F[1] == 0 and P[1] == 0 and R[1] == 0
    F.sum().backward()
    assert torch.isfinite(hyp.grad).all() and hyp.grad[0].abs().sum() > 0


def test_masked_positions_never_win_the_max():
    """All real similarities negative: the padded column must not contribute a 0."""
    hyp = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]])
    ref = torch.tensor([[[-1.0, 0.1], [-1.0, 0.2], [-1.0, 0.3], [5.0, 0.0]]])
    hm = torch.tensor([[1, 1, 1]]).bool()
    rm = torch.tensor([[1, 1, 1, 0]]).bool()
    P, _, _ = greedy_match(hyp, ref, hm, rm)
    assert P[0] < 0
