"""Token-based batching: bounded padded tokens, deterministic per (seed, epoch), DDP shards."""
from __future__ import annotations

import numpy as np

from bertune_cli.core.data.batching import EpochBatches, collate, length_batches
from bertune_cli.core.data.store import Ragged, Split

RNG = np.random.default_rng(0)
SRC = RNG.integers(1, 40, 500)
TGT = np.maximum(1, SRC + RNG.integers(-3, 4, 500))  # correlated, as in real pairs


def _padded(batch):
    return len(batch) * max(max(SRC[batch]), max(TGT[batch]))


def test_batches_cover_every_pair_once_within_the_token_budget():
    batches = length_batches(SRC, TGT, 256, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(500))
    assert all(_padded(b) <= 256 for b in batches)
    # length-bucketed: little padding
    waste = sum(_padded(b) - np.maximum(SRC[b], TGT[b]).sum() for b in batches)
    assert waste < 0.1 * np.maximum(SRC, TGT).sum()


def test_a_pair_longer_than_the_budget_gets_its_own_batch():
    batches = length_batches(np.array([3, 100, 4]), np.array([3, 90, 4]), 50)
    assert [b.tolist() for b in batches] == [[0, 2], [1]]


def test_epochs_are_deterministic_and_differ_between_epochs():
    a, b = EpochBatches(SRC, TGT, 256, seed=7), EpochBatches(SRC, TGT, 256, seed=7)
    e1, e1_again, e2 = a.batches(1), b.batches(1), a.batches(2)
    assert all(np.array_equal(x, y) for x, y in zip(e1, e1_again)) and len(e1) == len(e1_again)
    assert [x.tolist() for x in e1] != [x.tolist() for x in e2]
    assert [x.tolist() for x in e1] != [x.tolist() for x in EpochBatches(SRC, TGT, 256, 8).batches(1)]


def test_ddp_ranks_take_interleaved_disjoint_shards_of_the_same_global_list():
    full = EpochBatches(SRC, TGT, 256, seed=3).batches(4)
    shards = [EpochBatches(SRC, TGT, 256, seed=3, rank=r, world_size=3).batches(4) for r in range(3)]
    usable = len(full) - len(full) % 3
    assert all(len(s) == usable // 3 for s in shards)
    for step in range(usable // 3):
        for r in range(3):
            assert np.array_equal(shards[r][step], full[3 * step + r])


def test_collate_pads_and_shifts_targets():
    split = Split("train", Ragged.from_lists([[5, 6, 2], [7, 2]]),
                  Ragged.from_lists([[101, 11, 12, 102], [101, 13, 102]]), [], [])
    batch = collate(split, np.array([1, 0]), lambda ids: ids, pad=0)
    assert batch.src.tolist() == [[7, 2, 0], [5, 6, 2]]
    assert batch.src_mask.tolist() == [[1, 1, 0], [1, 1, 1]]
    assert batch.tgt_in.tolist() == [[101, 13, 102], [101, 11, 12]]
    assert batch.tgt_out.tolist() == [[13, 102, 0], [11, 12, 102]]
    assert batch.ntokens == 5 and batch.nsentences == 2


def test_length_groups_cap_tokens_items_and_padding():
    from bertune_cli.core.data.batching import length_groups

    # tokens: the largest size times the count stays within the budget
    assert length_groups([2, 3, 3, 4, 10], 12) == [(0, 3), (3, 4), (4, 5)]
    # items: at most max_items per group (0: no limit)
    assert length_groups([1] * 5, 100, max_items=2) == [(0, 2), (2, 4), (4, 5)]
    assert length_groups([1] * 5, 100) == [(0, 5)]
    # slack: widening a group that would pad its earlier items by more than `slack` tokens
    # starts a new one (3 items padded by 2 each = 6 > 5)
    assert length_groups([4, 4, 4, 6, 6], 100, slack=5) == [(0, 3), (3, 5)]
    assert length_groups([4, 4, 4, 6, 6], 100, slack=6) == [(0, 5)]
    # an item over the budget stands alone; nothing is lost for empty input
    assert length_groups([50, 1], 10) == [(0, 1), (1, 2)] and length_groups([], 10) == []
