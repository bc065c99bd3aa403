"""The reference-state cache: F_BERT and its gradients are the uncached path's, bit for bit."""
from __future__ import annotations

import pytest
import torch

from bertune_cli.core.lm.matching import lm_hidden
from bertune_cli.core.lm.refcache import ReferenceCache, reference_hidden
from bertune_cli.core.loops.losses import fbert_loss, fbert_scores

SENTENCES = [
    "a man in a blue shirt is standing on a ladder .",
    "two dogs play in the snow .",
    "a group of people stand in front of an igloo .",
    "a little girl climbs into a wooden playhouse .",
    "the boy jumps .",
    "a woman is playing the violin on a busy street corner at night .",
    "people are sitting at tables outside a cafe .",
]


def _ids(tokenizer, picks, extra_pad=0):
    """(B, W) LM ids of SENTENCES[picks], left-aligned, padded with 0 (+ extra_pad columns)."""
    rows = [tokenizer(SENTENCES[i])["input_ids"] for i in picks]
    out = torch.zeros(len(rows), max(map(len, rows)) + extra_pad, dtype=torch.long)
    for r, ids in enumerate(rows):
        out[r, :len(ids)] = torch.tensor(ids)
    return out


def _objective(minilm, ref, cache, soft, seed=11):
    """P, R, F and d(−ΣF)/d logits for fixed logits over 300 rows of E (Gumbel: fixed noise)."""
    g = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn(ref.size(0), ref.size(1) - 1, 300, generator=g)).requires_grad_()
    rows = minilm.embeddings[:300]
    P, R, F, _ = fbert_scores(logits, ref, minilm, rows, soft=soft, seed=5, ref_cache=cache)
    (grad,) = torch.autograd.grad(-F.sum(), logits)
    return P.detach(), R.detach(), F.detach(), grad


@pytest.mark.parametrize("soft", ["dense", "gumbel"])
def test_cached_states_give_the_uncached_fbert_and_gradients_exactly(minilm, soft):
    """The batch scored here mixes lengths and is padded one column further than needed; the
    cache was filled from batches of other sizes, compositions and paddings (partly: some of
    this batch's sentences are hits, some misses), then from this batch itself (all hits)."""
    batch = _ids(minilm.tokenizer, [0, 1, 2, 4, 5], extra_pad=1)
    want = _objective(minilm, batch, None, soft)
    cache = ReferenceCache(minilm)
    reference_hidden(minilm, _ids(minilm.tokenizer, [2, 3, 0]), cache)          # 0, 2 stored
    reference_hidden(minilm, _ids(minilm.tokenizer, [6, 4], extra_pad=3), cache)  # 4 stored
    assert len(cache) == 5 and cache.misses == 5
    partly = _objective(minilm, batch, cache, soft)
    assert (cache.hits, cache.misses) == (3, 7)             # 0, 2, 4 hit; 1 and 5 computed
    warm = _objective(minilm, batch, cache, soft)
    assert (cache.hits, cache.misses) == (8, 7)             # all five hit
    for got in (partly, warm):
        for a, b in zip(got, want):
            assert torch.equal(a, b)


def test_the_states_are_the_lms_padded_batch_states(minilm):
    """What F_BERT computes is unchanged: per-length groups equal the padded, masked batch
    forward (the previous path) to float32 rounding, and padding comes back as zeros."""
    ids = _ids(minilm.tokenizer, [0, 1, 4, 5])
    mask = ids.ne(minilm.pad_id)
    with torch.no_grad():
        padded = lm_hidden(minilm, mask, input_ids=ids)
    got = reference_hidden(minilm, ids)
    assert torch.allclose(got[mask], padded[mask], atol=2e-5, rtol=0)
    assert got[~mask].abs().sum() == 0


def test_the_cache_stays_within_its_bound_and_recomputes_the_rest(minilm):
    ids = _ids(minilm.tokenizer, [0, 1, 4])                 # 13, 9 and 6 pieces with [CLS]/[SEP]
    one = 9 * minilm.embeddings.size(1) * 4                 # bytes of the 9-piece sentence
    cache = ReferenceCache(minilm, max_mb=(one + 100) / 2 ** 20)
    want = reference_hidden(minilm, ids)
    for _ in range(3):
        assert torch.equal(reference_hidden(minilm, ids, cache), want)
    assert cache.nbytes <= cache.max_bytes and len(cache) == 1
    assert cache.stats()["hits"] == 2 and cache.stats()["misses"] == 7
    off = ReferenceCache(minilm, max_mb=0)
    assert torch.equal(reference_hidden(minilm, ids, off), want) and len(off) == 0
    with pytest.raises(ValueError):
        ReferenceCache(minilm, max_mb=-1)


def test_a_cache_serves_one_lm_only_and_never_an_lm_in_training_mode():
    from transformers import BertConfig, BertModel

    from bertune_cli.core.lm.model import LoadedLM

    def tiny(seed):
        torch.manual_seed(seed)
        config = BertConfig(vocab_size=11, hidden_size=8, num_hidden_layers=1,
                            num_attention_heads=2, intermediate_size=16,
                            max_position_embeddings=16, hidden_dropout_prob=0.5)
        model = BertModel(config, add_pooling_layer=False).eval().requires_grad_(False)
        return LoadedLM(name="tiny", path="", model=model, tokenizer=None, layer=1,
                        num_layers=1, vocab_size=11, pad_id=0, cls_id=1, sep_id=2, unk_id=3,
                        do_lower_case=True)

    lm, other = tiny(0), tiny(1)
    ids = torch.tensor([[1, 5, 7, 2], [1, 9, 2, 0]])
    cache = ReferenceCache(lm)
    with pytest.raises(ValueError, match="another LM"):
        reference_hidden(other, ids, cache)
    lm.model.train()                                        # dropout: states are random
    reference_hidden(lm, ids, cache)
    assert len(cache) == 0 and cache.hits == cache.misses == 0


def test_the_objective_reuses_states_across_calls_and_validation(minilm):
    """fbert_loss with a cache: a second epoch over the same batch is all hits, same loss."""
    ref = _ids(minilm.tokenizer, [1, 3, 5])
    logits = torch.randn(ref.size(0), ref.size(1) - 1, 300)
    rows = minilm.embeddings[:300]
    cache = ReferenceCache(minilm)
    first, _ = fbert_loss(logits, ref, minilm, rows, soft="dense", ref_cache=cache)
    again, _ = fbert_loss(logits, ref, minilm, rows, soft="dense", ref_cache=cache,
                          training=False)
    assert torch.equal(first, again) and cache.hits == 3 and cache.misses == 3


@pytest.mark.parametrize("soft", ["dense", "gumbel"])
def test_states_spilled_to_disk_give_the_uncached_fbert_and_gradients_exactly(minilm, tmp_path,
                                                                              soft):
    """Past the memory bound, states go to the spill file and come back bit for bit; the file
    has no name in the folder (the OS deletes it with the process) and goes on close()."""
    batch = _ids(minilm.tokenizer, [0, 1, 2, 4, 5], extra_pad=1)
    want = _objective(minilm, batch, None, soft)
    one = 9 * minilm.embeddings.size(1) * 4                 # the 9-piece sentence fits in memory
    cache = ReferenceCache(minilm, max_mb=(one + 100) / 2 ** 20, spill_mb=1, spill_dir=tmp_path)
    first = _objective(minilm, batch, cache, soft)          # all computed: 1 kept, 4 spilled
    stats = cache.stats()
    assert (stats["sentences"], stats["spilled_sentences"], stats["misses"]) == (1, 4, 5)
    again = _objective(minilm, batch, cache, soft)          # all hits, 4 of them from disk
    assert (cache.hits, cache.disk_hits, cache.misses) == (5, 4, 5)
    for got in (first, again):
        for a, b in zip(got, want):
            assert torch.equal(a, b)
    assert list(tmp_path.iterdir()) == []
    cache.close()
    assert len(cache) == 1 and cache.stats()["spill_mb"] == 0
    assert all(torch.equal(a, b) for a, b in zip(_objective(minilm, batch, cache, soft), want))


def test_the_spill_file_has_its_own_bound_and_needs_a_folder(minilm, tmp_path):
    ids = _ids(minilm.tokenizer, [0, 1, 4])                 # 13, 9 and 6 pieces
    six = 6 * minilm.embeddings.size(1) * 4
    cache = ReferenceCache(minilm, max_mb=0, spill_mb=(six + 100) / 2 ** 20, spill_dir=tmp_path)
    want = reference_hidden(minilm, ids)
    for _ in range(2):
        assert torch.equal(reference_hidden(minilm, ids, cache), want)
    assert cache.spilled <= cache.max_spill and cache.stats()["spilled_sentences"] == 1
    assert (cache.disk_hits, cache.misses) == (1, 5)
    nowhere = ReferenceCache(minilm, max_mb=0, spill_mb=100)  # no folder: no spilling
    assert torch.equal(reference_hidden(minilm, ids, nowhere), want) and len(nowhere) == 0
    with pytest.raises(ValueError, match="spill_mb"):
        ReferenceCache(minilm, spill_mb=-1, spill_dir=tmp_path)


def test_a_spill_file_that_cannot_be_written_means_recomputing(minilm, tmp_path, caplog):
    """Disk full, folder gone: the cache stops spilling, says so once, and the states are
    recomputed (the same values); a failed read later is a miss, not an error."""
    ids = _ids(minilm.tokenizer, [0, 1, 4])
    want = reference_hidden(minilm, ids)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("x")
    cache = ReferenceCache(minilm, max_mb=0, spill_mb=1, spill_dir=blocked)
    for _ in range(2):
        assert torch.equal(reference_hidden(minilm, ids, cache), want)
    assert len(cache) == 0 and cache.max_spill == 0 and "spill_error" in cache.stats()
    assert caplog.text.count("spilling to") == 1
    broken = ReferenceCache(minilm, max_mb=0, spill_mb=1, spill_dir=tmp_path)
    reference_hidden(minilm, ids, broken)
    broken._file.close()                                    # the file fails under it
    assert torch.equal(reference_hidden(minilm, ids, broken), want)
    assert broken.disk_hits == 0 and "spill_error" in broken.stats()
