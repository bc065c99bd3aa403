"""Sufficient statistics equal sacrebleu 2.6's, corpus scores equal its ``corpus_score`` on the
texts, and scores of summed rows are bit-identical to sacrebleu's own per-row functions
(float32 bootstrap rows and int64 randomization rows)."""
from __future__ import annotations

import random

import numpy as np
import pytest
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from bertune_cli.core.metrics.protocol import MeanMetric
from bertune_cli.core.metrics.sacre import make_metric
from bertune_cli.core.metrics.stats import SacreMetric, _fast_13a

EXTRA = ["", "Ünïcødé — 中文 ok!", "a", "3.5,-2 x-1 &quot;hi&amp;&lt;&gt; <skipped>", "  x  "]


def _texts(sample):
    hyps = sample["sys_c"] + EXTRA                  # an empty line, unicode, 1 char, entities
    refs = sample["ref"] + ["nothing", "Unicode 中文 OK", "", "3.5, -2", "x"]
    refs2 = sample["ref2"] + ["", "unicode", "a", "x-1", "y"]
    return hyps, refs, refs2


CASES = [("bleu", {}), ("bleu", {"lowercase": True}), ("bleu", {"tokenize": "intl"}),
         ("bleu", {"tokenize": "char"}), ("chrf", {}), ("chrf", {"whitespace": True}),
         ("chrf", {"lowercase": True}), ("chrf++", {}), ("ter", {})]


@pytest.mark.parametrize("name,options", CASES)
@pytest.mark.parametrize("nrefs", [1, 2])
def test_statistics_and_corpus_score_equal_sacrebleu(sample, name, options, nrefs):
    hyps, refs, refs2 = _texts(sample)
    streams = [refs, refs2][:nrefs]
    stat = SacreMetric(name, streams, **options)
    mine = stat.extract(hyps)
    metric = make_metric(name, **options)
    theirs = metric._extract_corpus_statistics(hyps, streams)
    np.testing.assert_array_equal(mine, np.array(theirs))
    # the score of the summed statistics is the one sacrebleu's public API gives on the texts
    assert stat.corpus_score(mine) == make_metric(name, **options).corpus_score(hyps, streams).score
    assert stat.signature == metric.get_signature().format()


def test_fast_13a_tokenizer_equals_sacrebleu(sample):
    rnd = random.Random(0)
    chars = "".join(chr(c) for c in range(32, 127)) + "é中\u00a0\n"
    lines = [ln for col in sample.values() for ln in col] + EXTRA
    lines += ["".join(rnd.choice(chars) for _ in range(rnd.randint(0, 40))) for _ in range(3000)]
    tok = Tokenizer13a()
    assert [_fast_13a(s) for s in lines] == [tok(s) for s in lines]


def _rows(kind, k, rng, n=400):
    """Summed-statistics rows with the edge cases: zero matches, zero counts, short lengths."""
    rows = rng.integers(0, 60, size=(n, k)).astype(np.int64)
    if kind == "bleu":
        rows[:, 2:6] = np.minimum(rows[:, 2:6], rows[:, 6:10])   # matches <= totals
        rows[::7, 2:6] = 0                                       # no match at all
        rows[::5, 5] = 0                                         # no 4-gram match
        rows[::11, 9] = 0                                        # no 4-gram at all
        rows[::13, 0] = 0
    else:
        rows[:, 2::3] = np.minimum(rows[:, 2::3], np.minimum(rows[:, 0::3], rows[:, 1::3]))
    return rows


@pytest.mark.parametrize("name,options,k", [
    ("bleu", {}, 10), ("bleu", {"smooth_method": "floor"}, 10), ("bleu", {"smooth_method": "none"}, 10),
    ("bleu", {"smooth_method": "add-k"}, 10), ("bleu", {"effective_order": True}, 10),
    ("chrf", {}, 18), ("chrf", {"eps_smoothing": True}, 18), ("chrf++", {}, 24), ("ter", {}, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_vectorized_scores_are_bit_identical(sample, name, options, k, dtype):
    stat = SacreMetric(name, [sample["ref"]], **options)
    rng = np.random.default_rng(1)
    rows = _rows(name, k, rng).astype(dtype)
    if name == "chrf":                       # mostly the usual branch, then also a rare one
        rows = rows[(rows[:, 0::3] > 0).all(1) & (rows[:, 1::3] > 0).all(1)]
    mine = stat.scores(rows.copy())
    theirs = np.array([stat.metric._compute_score_from_stats(r.copy()).score for r in rows])
    assert mine.dtype == theirs.dtype
    np.testing.assert_array_equal(mine, theirs)
    rare = rows.copy()
    rare[0] = 0
    np.testing.assert_array_equal(
        stat.scores(rare.copy()),
        np.array([stat.metric._compute_score_from_stats(r.copy()).score for r in rare]))


def test_mean_statistic():
    stat = MeanMetric("F_BERT", "sig")
    stats = MeanMetric.stats_of([0.5, 0.7, 0.9])
    assert stat.corpus_score(stats) == pytest.approx(70.0)
    np.testing.assert_allclose(stat.scores(np.array([[1.5, 3.0], [2.7, 3.0]])), [50.0, 90.0])
    assert stat.test_signature("bs", 1000, 12345) == "sig|bs:1000|seed:12345"
