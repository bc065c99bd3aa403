"""Cleaning with Moses clean-corpus-n semantics, and fairseq's every-23rd-line valid split."""
from __future__ import annotations

import pytest

from bertune_cli.core.data.cleaning import clean_pairs, drop_empty, every_nth


def w(n: int) -> str:
    return " ".join(["w"] * n)


def test_each_rule_with_moses_boundaries():
    src = [w(3), "", w(175), w(176), w(3), w(4), w(2), w(1)]
    tgt = [w(2), w(2), w(175), w(1), w(2), w(2), w(3), w(2)]
    keep, stats = clean_pairs(src, tgt, max_len=175, max_ratio=1.5)
    # 3/2 = 1.5 is kept (Moses drops only ratios strictly above); 4/2 = 2 and 2/1 = 2 are dropped;
    # a 176-token side is too long, 175 is not; the short side's length is never the issue
    assert keep == [0, 2, 4, 6]
    assert stats.dropped == {"empty": 1, "too_long": 1, "ratio": 2}
    assert stats.read == 8 and stats.kept == 4
    assert [s["pairs"] for s in stats.steps()] == [8, 7, 6, 4]


def test_zero_disables_length_and_ratio_limits():
    keep, _ = clean_pairs([w(500), w(1)], [w(1), w(9)], max_len=0, max_ratio=0)
    assert keep == [0, 1]


def test_empty_is_checked_before_length_and_ratio():
    keep, stats = clean_pairs(["   ", w(400)], [w(400), ""], max_len=175, max_ratio=1.5)
    assert keep == [] and stats.dropped["empty"] == 2


def test_duplicates_are_reported_and_removed_only_with_dedup():
    src = ["a b", "c d", "a b", "a b"]
    tgt = ["x y", "z z", "x y", "other one"]
    keep, stats = clean_pairs(src, tgt)
    assert keep == [0, 1, 2, 3] and stats.duplicates_kept == 1 and "duplicate" not in stats.dropped
    keep, stats = clean_pairs(src, tgt, dedup=True)
    assert keep == [0, 1, 3] and stats.dropped["duplicate"] == 1  # first occurrence kept
    assert stats.to_dict()["steps"][-1] == {"step": "duplicate", "dropped": 1, "pairs": 3}


def test_duplicates_compare_the_untokenized_text():
    keep, _ = clean_pairs(["a , b", "a , b"], ["x y z", "x y z"], dedup=True,
                          texts=(["a, b", "a ,b"], ["x y z", "x y z"]))
    assert keep == [0, 1]


def test_drop_empty_keeps_everything_else():
    keep, stats = drop_empty([w(300), "", w(1)], [w(1), w(3), " "])
    assert keep == [0] and stats.to_dict()["steps"] == [
        {"step": "read", "pairs": 3}, {"step": "empty", "dropped": 2, "pairs": 1}]


def test_every_nth_is_awks_nr_mod_23():
    lines = list(range(100))
    rest, valid = every_nth(lines, 23)
    # awk '{if (NR%23 == 0) print}' with NR counted from 1: lines 23, 46, 69, 92
    assert valid == [22, 45, 68, 91]
    assert rest == [x for x in lines if x not in valid]
    with pytest.raises(ValueError):
        every_nth(lines, 1)
