"""TargetVocab: model ids <-> LM ids (full = identity, shortlist = sorted LM ids)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bertune_cli.core.errors import DataError
from bertune_cli.core.model.vocab import LMSpecials, TargetVocab

SPECIALS = LMSpecials(vocab_size=30522, pad=0, cls=101, sep=102, unk=100)
SHORT = np.array([0, 100, 101, 102, 103, 1996, 2003, 4937, 29000])


def test_full_is_the_identity_over_the_lm_vocabulary():
    v = TargetVocab.full(SPECIALS)
    assert len(v) == 30522 and (v.pad_id, v.bos_id, v.eos_id, v.unk_id) == (0, 101, 102, 100)
    ids = np.array([5, 101, 30000])
    assert v.to_lm(ids) is ids and v.from_lm(ids) is ids


def test_shortlist_keeps_lm_order_and_pad_zero():
    v = TargetVocab.shortlist(SHORT[::-1], SPECIALS)  # any order in, sorted inside
    assert v.lm_ids.tolist() == sorted(SHORT.tolist())
    assert (v.pad_id, v.unk_id, v.bos_id, v.eos_id) == (0, 1, 2, 3)
    model_ids = np.arange(len(v))
    assert v.to_lm(model_ids).tolist() == SHORT.tolist()
    assert v.from_lm(SHORT).tolist() == model_ids.tolist()


def test_shortlist_maps_torch_tensors_both_ways_keeping_shape():
    v = TargetVocab.shortlist(SHORT, SPECIALS)
    model_ids = torch.tensor([[0, 5, 8], [3, 2, 1]])
    lm = v.to_lm(model_ids)
    assert isinstance(lm, torch.Tensor) and lm.shape == (2, 3)
    assert lm.tolist() == [[0, 1996, 29000], [102, 101, 100]]
    assert torch.equal(v.from_lm(lm), model_ids)


def test_out_of_shortlist_lm_ids_become_unk_or_raise_when_strict():
    v = TargetVocab.shortlist(SHORT, SPECIALS)
    assert v.from_lm(np.array([1996, 7592])).tolist() == [5, v.unk_id]
    assert v.from_lm(torch.tensor([7592])).tolist() == [v.unk_id]
    with pytest.raises(DataError):
        v.from_lm(np.array([7592]), strict=True)


def test_round_trip_through_json_form():
    for v in (TargetVocab.full(SPECIALS), TargetVocab.shortlist(SHORT, SPECIALS)):
        d = v.to_dict()
        back = TargetVocab.from_dict(d)
        assert back.kind == v.kind and np.array_equal(back.lm_ids, v.lm_ids)
    assert TargetVocab.full(SPECIALS).to_dict()["lm_ids"] is None  # not 30522 numbers


def test_a_shortlist_without_the_specials_or_outside_the_lm_is_refused():
    with pytest.raises(DataError, match="special"):
        TargetVocab.shortlist(np.array([0, 1996]), SPECIALS)
    with pytest.raises(DataError, match="another LM"):
        TargetVocab.shortlist(np.append(SHORT, 40000), SPECIALS)
