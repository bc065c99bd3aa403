"""Entropy of teacher-forced soft predictions (paper Fig. 1) on a tiny model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bertune_cli.core.report.sparsity import model_sparsity, prediction_entropy


@pytest.fixture(scope="module")
def tiny(runs_tree):
    from bertune_cli.core.data.store import DataDir
    from bertune_cli.core.model.checkpoint import load_checkpoint

    loaded = load_checkpoint(runs_tree / "baseline")
    return loaded, DataDir(runs_tree / "data").split("valid")


def _per_sentence_logits(model, vocab, split, n):
    """Logits of each sentence alone (no batching, no padding): the oracle's input."""
    from bertune_cli.core.data.batching import collate

    out = []
    with torch.no_grad():
        for i in range(n):
            b = collate(split, np.array([i]), vocab.from_lm)
            out.append(model(input_ids=b.src, attention_mask=b.src_mask,
                             decoder_input_ids=b.tgt_in).logits[0].double())   # (T, V)
    return torch.cat(out)


def _sort_sparsemax_support(z: np.ndarray) -> np.ndarray:
    """Support sizes by the textbook sort-based sparsemax (Martins & Astudillo 2016)."""
    s = -np.sort(-z, axis=1)
    k = np.arange(1, z.shape[1] + 1)
    return ((1 + k * s) > np.cumsum(s, axis=1)).sum(1)


def test_entropies_match_an_unbatched_oracle_and_respect_the_bounds(tiny):
    (loaded, split), n = tiny, 12
    ent, support, used = prediction_entropy(loaded.model, loaded.vocab, split, tau=0.1,
                                            max_sentences=n, max_tokens=64)
    assert used == n
    positions = int((split.tgt.lengths()[:n] - 1).sum())     # y_1 .. y_n [SEP] per sentence
    assert all(len(v) == positions for v in ent.values()) and len(support) == positions
    z = _per_sentence_logits(loaded.model, loaded.vocab, split, n)
    dense = torch.distributions.Categorical(logits=z).entropy().numpy()
    # batches are length-sorted: compare as multisets
    np.testing.assert_allclose(np.sort(ent["dense"]), np.sort(dense), atol=2e-5)
    assert sorted(support.tolist()) == sorted(_sort_sparsemax_support(z.numpy()).tolist())
    v = len(loaded.vocab)
    assert (ent["dense"] <= np.log(v) + 1e-6).all() and (ent["dense"] > 0).all()
    assert (ent["sparsemax"] <= np.log(support) + 1e-5).all()
    assert (ent["sparsemax"][support == 1] == 0).all()
    assert (ent["gumbel"] >= 0).all()
    # the paper's ordering: dense is far flatter than the other two modes' vectors
    assert ent["dense"].mean() > 2 * max(ent["sparsemax"].mean(), ent["gumbel"].mean())


def test_gumbel_noise_is_seeded_and_max_sentences_caps_the_work(tiny, runs_tree):
    loaded, split = tiny
    a = prediction_entropy(loaded.model, loaded.vocab, split, max_sentences=5, seed=3)
    b = prediction_entropy(loaded.model, loaded.vocab, split, max_sentences=5, seed=3)
    c = prediction_entropy(loaded.model, loaded.vocab, split, max_sentences=5, seed=4)
    np.testing.assert_array_equal(a[0]["gumbel"], b[0]["gumbel"])
    assert not np.array_equal(a[0]["gumbel"], c[0]["gumbel"])
    np.testing.assert_array_equal(a[0]["dense"], c[0]["dense"])     # no noise there
    assert a[2] == 5 and len(a[1]) == int((split.tgt.lengths()[:5] - 1).sum())
    # a sharper temperature lowers the Gumbel entropy
    sharp = prediction_entropy(loaded.model, loaded.vocab, split, max_sentences=5, seed=3,
                               tau=0.01)
    assert sharp[0]["gumbel"].mean() < a[0]["gumbel"].mean()
    m = model_sparsity("baseline", "baseline", runs_tree / "baseline", split, max_sentences=5)
    s = m.summary()
    assert s["positions"] == len(a[1]) and s["sentences"] == 5
    assert s["entropy_nats"]["dense"]["mean"] == pytest.approx(a[0]["dense"].mean(), rel=1e-6)
    assert s["sparsemax_support"]["mean"] == pytest.approx(a[1].mean())
