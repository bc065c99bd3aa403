"""The F_BERT loss (method.md §4): exact against bert_score, differentiable, none of the
original code's defects."""
from __future__ import annotations

import pytest
import torch

from bertune_cli.core.lm.model import LoadedLM, resolve_lm
from bertune_cli.core.loops.losses import fbert_loss, fbert_scores, label_smoothed_nll_loss

MODES = ("dense", "sparsemax", "gumbel")
# Equal WordPiece lengths per pair (teacher forcing); pair 2 is one WordPiece each (the original
# code gave such sentences F = 0 and no gradient).
HYPS = ["the cat sat on the mat .", "hello", "a quick brown fox jumps over it .",
        "ich bin ein berliner"]
REFS = ["a dog sat on the rug !", "world", "the slow brown fox runs over them .",
        "i am a berliner"]


def _batch(tokenizer, hyps, refs, margin=1e4):
    """Reference ids (B, T+1) and logits (B, T, V) whose argmax is the hypothesis, by ``margin``."""
    H = [tokenizer(t)["input_ids"] for t in hyps]
    R = [tokenizer(t)["input_ids"] for t in refs]
    assert [len(h) for h in H] == [len(r) for r in R], "test pairs must tokenize to equal lengths"
    width = max(len(r) for r in R)
    ref = torch.zeros(len(R), width, dtype=torch.long)
    logits = torch.zeros(len(H), width - 1, len(tokenizer))
    for i, (h, r) in enumerate(zip(H, R)):
        ref[i, :len(r)] = torch.tensor(r)
        logits[i, torch.arange(len(h) - 1), torch.tensor(h[1:])] = margin
    return ref, logits


@pytest.fixture(scope="module")
def bert_score_f1():
    """bert_score 0.3.13's F1 on the texts (bundled MiniLM, layer 5, idf off, no rescale)."""
    from bert_score import score

    _, _, F = score(HYPS, REFS, model_type=resolve_lm("minilm"), num_layers=5, idf=False,
                    batch_size=8)
    return F.double()


@pytest.mark.parametrize("mode", MODES)
def test_one_hot_fbert_equals_bert_score(minilm, bert_score_f1, mode):
    """Exactness (method.md §4): one-hot p through the loss path (soft_embedding of logits with
    a 1e4 margin, exactly one-hot in fp32, Gumbel with noise) gives bert_score's F1 to 1e-5."""
    ref, logits = _batch(minilm.tokenizer, HYPS, REFS)
    _, _, F, _ = fbert_scores(logits, ref, minilm, soft=mode, training=True, seed=3)
    assert F.shape == (len(HYPS),)
    assert torch.allclose(F.double(), bert_score_f1, atol=1e-5, rtol=0), (F, bert_score_f1)
    assert F[1] > 0  # one WordPiece: a real score


def test_shortlist_rows_give_the_same_score(minilm, bert_score_f1):
    """A shortlist model predicts over V' rows of E; its one-hot F is the full-vocabulary one."""
    ref, logits = _batch(minilm.tokenizer, HYPS, REFS)
    keep = torch.unique(torch.cat([ref.flatten(), logits.argmax(-1).flatten(),
                                   torch.tensor([0, minilm.cls_id, minilm.sep_id])]))
    _, _, F, _ = fbert_scores(logits[..., keep], ref, minilm, minilm.embeddings[keep],
                              soft="dense")
    assert torch.allclose(F.double(), bert_score_f1, atol=1e-5, rtol=0)


def test_loss_is_minus_mean_f_and_token_reduction_weights_by_length(minilm, bert_score_f1):
    ref, logits = _batch(minilm.tokenizer, HYPS, REFS)
    loss, logs = fbert_loss(logits, ref, minilm, soft="dense")
    assert logs["sample_size"] == len(HYPS)
    assert loss.item() / logs["sample_size"] == pytest.approx(-bert_score_f1.mean().item(),
                                                              abs=1e-5)
    n = (ref != 0).sum(1).double() - 2                       # real tokens per sentence
    loss_t, logs_t = fbert_loss(logits, ref, minilm, soft="dense", reduction="token")
    assert logs_t["sample_size"] == n.sum().item()
    assert loss_t.item() / logs_t["sample_size"] == pytest.approx(
        -(n * bert_score_f1).sum().item() / n.sum().item(), abs=1e-5)


# ----------------------------------------------------------------------------- tiny LM


def tiny_lm(dtype=torch.float64, vocab=11, seed=0) -> LoadedLM:
    """A randomly initialised 2-layer BertModel (hidden 8): ids 0 [PAD], 1 [CLS], 2 [SEP]."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=vocab, hidden_size=8, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=16, max_position_embeddings=16,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        attn_implementation="eager")
    model = BertModel(config, add_pooling_layer=False).to(dtype).eval().requires_grad_(False)
    return LoadedLM(name="tiny", path="", model=model, tokenizer=None, layer=2, num_layers=2,
                    vocab_size=vocab, pad_id=0, cls_id=1, sep_id=2, unk_id=3, do_lower_case=True)


def tiny_batch(dtype=torch.float64, vocab=11, seed=1):
    """(logits (2, 4, V), ref (2, 5)): sentence 0 has 3 pieces, sentence 1 a single piece."""
    g = torch.Generator().manual_seed(seed)
    ref = torch.tensor([[1, 5, 7, 4, 2], [1, 9, 2, 0, 0]])
    logits = torch.randn(2, 4, vocab, generator=g, dtype=dtype)
    return logits, ref


@pytest.mark.parametrize("mode,tau", [("dense", 0.1), ("sparsemax", 0.1), ("gumbel", 0.5),
                                      ("gumbel", 0.1)])
def test_gradient_matches_finite_differences(mode, tau):
    """∂F/∂logits (float64, tiny random BertModel) against central differences; Gumbel with a
    fixed seed (the same noise in every evaluation)."""
    lm = tiny_lm()
    logits, ref = tiny_batch()
    logits = (3 * logits).requires_grad_(True)  # sparsemax: a support of a few entries

    def f(z):
        return fbert_scores(z, ref, lm, soft=mode, tau=tau, training=True, seed=7,
                            impl="torch")[2]

    assert torch.autograd.gradcheck(f, (logits,), eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("mode", MODES)
def test_single_piece_sentence_has_a_score_and_a_gradient(mode):
    lm = tiny_lm()
    logits, ref = tiny_batch()
    logits.requires_grad_(True)
    _, _, F, _ = fbert_scores(logits, ref, lm, soft=mode, training=True, seed=0)
    assert F[1] > 0
    (grad,) = torch.autograd.grad(F[1], logits)
    assert grad[1, :2].abs().sum() > 0          # its piece and its [SEP] prediction
    assert grad[1, 2:].abs().sum() == 0 and grad[0].abs().sum() == 0   # padding, other rows


def test_empty_sentence_scores_zero_without_nan():
    lm = tiny_lm()
    logits, _ = tiny_batch()
    ref = torch.tensor([[1, 5, 7, 4, 2], [1, 2, 0, 0, 0]])  # sentence 1: [CLS] [SEP]
    logits.requires_grad_(True)
    loss, _ = fbert_loss(logits, ref, lm, soft="dense")
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    _, _, F, _ = fbert_scores(logits, ref, lm, soft="dense")
    assert F[1] == 0 and F[0] > 0


def test_a_nan_activation_is_not_masked_into_a_finite_loss():
    """Before: nan_to_num turned F into 0, so the loss stayed finite while its gradient was NaN
    and the trainer's finiteness check let the poisoned update through."""
    lm = tiny_lm()
    logits, ref = tiny_batch()
    logits[0, 1, 3] = float("nan")
    _, _, F, _ = fbert_scores(logits, ref, lm, soft="dense")
    assert torch.isnan(F[0]) and torch.isfinite(F[1:]).all()
    loss, _ = fbert_loss(logits, ref, lm, soft="dense")
    assert not torch.isfinite(loss)


def test_no_gumbel_noise_at_validation():
    lm = tiny_lm()
    logits, ref = tiny_batch()
    val = [fbert_loss(logits, ref, lm, soft="gumbel", training=False)[0] for _ in range(2)]
    assert torch.equal(val[0], val[1])
    train = [fbert_loss(logits, ref, lm, soft="gumbel", training=True)[0] for _ in range(2)]
    assert not torch.equal(train[0], train[1])  # fresh noise each training forward


def test_hard_gumbel_feeds_rows_of_e_and_backpropagates_the_soft_gradient():
    from bertune_cli.core.loops.losses import fbert_hypothesis

    lm = tiny_lm()
    logits, ref = tiny_batch()
    logits.requires_grad_(True)
    E = lm.embeddings
    attention = ref.ne(0)
    hyp = fbert_hypothesis(logits, E, E[1], attention, soft="gumbel", hard=True, seed=5)
    real = hyp[attention]                                        # (6 + 2 [CLS], D)
    distance = (real[:, None, :] - E[None]).abs().amax(-1)       # (rows, V)
    assert (distance.amin(1) < 1e-12).all()                      # every slot is exactly a row of E
    _, _, F, _ = fbert_scores(logits, ref, lm, soft="gumbel", hard=True, seed=5)
    (grad,) = torch.autograd.grad(F.sum(), logits)
    assert grad.abs().sum() > 0


def test_ce_weight_mixes_label_smoothed_ce_per_token():
    lm = tiny_lm()
    logits, ref = tiny_batch()
    labels = torch.tensor([[5, 7, 4, 2], [9, 2, 0, 0]])   # model ids (full vocabulary)
    base, logs = fbert_loss(logits, ref, lm, soft="dense", labels=labels)
    ce, nll = label_smoothed_nll_loss(logits, labels, 0.1)
    assert logs["nll"] == pytest.approx(nll.item())
    mixed, _ = fbert_loss(logits, ref, lm, soft="dense", labels=labels, ce_weight=0.25)
    per_unit = 0.75 * base.item() / 2 + 0.25 * ce.item() / 6
    assert mixed.item() / 2 == pytest.approx(per_unit)
    with pytest.raises(ValueError, match="labels"):
        fbert_loss(logits, ref, lm, soft="dense", ce_weight=0.5)


def test_free_logits_ascend_fbert():
    """A few Adam steps on free logits raise F (the objective is usable for training)."""
    lm = tiny_lm(torch.float32)
    logits, ref = tiny_batch(torch.float32)
    logits = torch.nn.Parameter(logits)
    opt = torch.optim.Adam([logits], lr=0.1)
    first = None
    for _ in range(15):
        loss, _ = fbert_loss(logits, ref, lm, soft="gumbel", tau=0.5, training=True)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = fbert_loss(logits, ref, lm, soft="gumbel", tau=0.5, training=False)[0].item()
    assert after < first
