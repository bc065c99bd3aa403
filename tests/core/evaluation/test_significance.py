"""Paired bootstrap and approximate randomization equal sacrebleu 2.6's ``PairedTest`` (same
seed): scores, p-values, means and 95% CIs, bit for bit, on the test texts below; several
systems against the first; JSON-safe output; the paired t-test."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sacrebleu.significance import PairedTest

from bertune_cli.core.errors import DataError, UsageError
from bertune_cli.core.evaluation.significance import default_seed, paired_t_test, paired_test
from bertune_cli.core.metrics.protocol import MeanMetric
from bertune_cli.core.metrics.sacre import make_metric
from bertune_cli.core.metrics.stats import SacreMetric

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "evaluation_sample.tsv"
SYSTEMS = ("sys_a", "sys_b", "sys_c")


@pytest.fixture(scope="module")
def sample():
    rows = [line.split("\t") for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    return {name: [r[i] for r in rows[1:]] for i, name in enumerate(rows[0])}


def _sacrebleu(sample, refs, names, test, n, seed, ar_confidence=-1, monkeypatch=None):
    monkeypatch.setenv("SACREBLEU_SEED", str(seed))
    metrics = {n_: make_metric(n_, references=refs) for n_ in names}
    sigs, scores = PairedTest([(s, sample[s]) for s in SYSTEMS], metrics, None, test, n,
                              n_ar_confidence=ar_confidence)()
    return {k: str(v) for k, v in sigs.items()}, scores


def _bertune(sample, refs, names, test, n, seed, ar_confidence=-1):
    stats_metrics = [SacreMetric(n_, refs) for n_ in names]
    stats = [[m.extract(sample[s]) for m in stats_metrics] for s in SYSTEMS]
    return paired_test(stats_metrics, stats, list(SYSTEMS), test, n, seed,
                       ar_confidence=ar_confidence, strict_count=True)   # sacrebleu's AR count


def _same(a, b):
    return (a is None and b is None) or (a is not None and b is not None and float(a) == float(b))


@pytest.mark.parametrize("test,n,seed,nrefs,ar_conf", [
    ("bs", 1000, 12345, 1, -1), ("bs", 200, 7, 2, -1), ("ar", 2000, 12345, 1, -1),
    ("ar", 500, 3, 2, 100)])
def test_equals_sacrebleu_paired_test(sample, monkeypatch, test, n, seed, nrefs, ar_conf):
    refs = [sample["ref"], sample["ref2"]][:nrefs]
    names = ["bleu", "chrf", "ter"]
    sigs, theirs = _sacrebleu(sample, refs, names, test, n, seed, ar_conf, monkeypatch)
    mine = _bertune(sample, refs, names, test, n, seed, ar_conf)
    assert mine.signatures == sigs
    for metric in mine.metrics:
        for i, res in enumerate(theirs[metric]):
            got = mine.results[i][metric]
            assert _same(res.score, got.score) and _same(res.p_value, got.p_value)
            assert _same(res.mean, got.mean) and _same(res.ci, got.ci), (metric, i, res, got)
    json.dumps(mine.to_dict(alpha=0.05))             # sacrebleu 2.6 + numpy 2 cannot


def test_sentence_mean_metric_and_paired_t(sample):
    rng = np.random.default_rng(0)
    base = rng.uniform(0.6, 0.9, 48)
    values = [base, base + 0.02, base + rng.normal(0, 0.01, 48)]
    metric = MeanMetric("F_BERT", "minilm_L5_no-idf")
    report = paired_test([metric], [[MeanMetric.stats_of(v)] for v in values],
                         ["a", "b", "c"], "bs", 1000, 12345, paired_t=True)
    b = report.results[1]["F_BERT"]
    assert b.score == pytest.approx(100 * values[1].mean())
    assert b.p_value < 0.01 and b.t_p_value < 1e-10
    assert report.results[2]["F_BERT"].p_value > 0.01
    assert report.signatures["F_BERT"] == "minilm_L5_no-idf|bs:1000|seed:12345|count:ge"
    ar = paired_test([metric], [[MeanMetric.stats_of(v)] for v in values], ["a", "b", "c"],
                     "ar", 1000, 1)
    assert ar.results[1]["F_BERT"].p_value < 0.01


def test_paired_t_test_known_values():
    # t = 2.228 with 10 degrees of freedom is the two-sided 5% point of Student's t
    d = np.array([1.0] * 6 + [-1.0] * 5)
    t = d.mean() / (d.std(ddof=1) / np.sqrt(len(d)))
    shift = 2.228 - t
    d = d + shift * d.std(ddof=1) / np.sqrt(len(d))
    assert paired_t_test(d, np.zeros_like(d)) == pytest.approx(0.05, abs=2e-4)
    assert paired_t_test(np.ones(5), np.ones(5)) == 1.0


def test_bad_input():
    m = MeanMetric("F_BERT", "s")
    with pytest.raises(UsageError, match="at least one system"):
        paired_test([m], [[MeanMetric.stats_of([1.0])]], ["a"])
    with pytest.raises(DataError, match="different"):
        paired_test([m], [[MeanMetric.stats_of([1.0])], [MeanMetric.stats_of([1.0, 2.0])]],
                    ["a", "b"])
    with pytest.raises(UsageError, match="unknown test"):
        paired_test([m], [[MeanMetric.stats_of([1.0])]] * 2, ["a", "b"], test="xx")


def test_default_seed(monkeypatch):
    monkeypatch.delenv("SACREBLEU_SEED", raising=False)
    assert default_seed() == 12345
    monkeypatch.setenv("SACREBLEU_SEED", "None")
    assert default_seed() is None
    monkeypatch.setenv("SACREBLEU_SEED", "42")
    assert default_seed() == 42


# ---------------------------------------------------------------------- randomization counts

def _demo_like():
    """500 lines, 3 of which differ (as the demo's test set): the fine-tune fixes the same
    sentence on lines 101 and 201 ("thank you ." → the reference) and writes another wrong
    word on line 301 (xqz → zqx: the same BLEU/chrF statistics)."""
    words = "man woman child dog cat house tree river car street city garden".split()
    refs = [f"a {words[i % 12]} walks past the {words[i * 7 % 12]} near the "
            f"{words[(i * 5 + 3) % 12]} ." for i in range(500)]
    refs[100] = refs[200] = "thank you very much ."
    base, sys_ = list(refs), list(refs)
    base[100] = base[200] = "thank you ."
    base[300], sys_[300] = (refs[300].replace("walks", w) for w in ("xqz", "zqx"))
    return refs, base, sys_


def _brute_force_p(refs, base, sys_, corpus_score):
    """Exact two-sided p by hand: every 2ⁿ swap of the differing lines, scored from the
    texts by sacrebleu itself, counting |A − B| ≥ the observed |difference|."""
    import itertools

    differ = [i for i, (a, b) in enumerate(zip(base, sys_)) if a != b]
    observed = abs(corpus_score(sys_) - corpus_score(base))
    hits = 0
    for swap in itertools.product((False, True), repeat=len(differ)):
        a, b = list(sys_), list(base)
        for i in (i for i, s in zip(differ, swap) if s):
            a[i], b[i] = b[i], a[i]
        hits += abs(corpus_score(a) - corpus_score(b)) >= observed - 1e-9
    return hits / 2 ** len(differ)


def test_ar_on_three_differing_lines_is_exact_and_counts_ties():
    import sacrebleu

    refs, base, sys_ = _demo_like()
    metrics = [SacreMetric("bleu", [refs]), SacreMetric("chrf", [refs])]
    stats = [[m.extract(h) for m in metrics] for h in (base, sys_)]
    exact = paired_test(metrics, stats, ["base", "sys"], "ar", 10000, 12345)
    strict = paired_test(metrics, stats, ["base", "sys"], "ar", 10000, 12345, strict_count=True)
    for m, score in (("BLEU", lambda h: sacrebleu.corpus_bleu(h, [refs], force=True).score),
                     ("chrF2", lambda h: sacrebleu.corpus_chrf(h, [refs]).score)):
        got = exact.results[1][m]
        assert got.p_value == 0.5 == _brute_force_p(refs, base, sys_, score)
        assert got.exact and got.trials == 4   # line 301 leaves the statistics unchanged
        # sacrebleu 2.6's strict count: no shuffle beats the observed difference exactly
        assert strict.results[1][m].p_value == pytest.approx(1 / 10001)
        assert not strict.results[1][m].exact and strict.results[1][m].trials == 10000
    assert exact.signatures["BLEU"].endswith("|ar:10000|seed:12345|case:mixed|eff:no|tok:13a|"
                                             "smooth:exp|version:2.6.0|count:ge|exact:20")
    assert "count:ge" not in strict.signatures["BLEU"]


def test_exact_enumeration_equals_sacrebleu_on_every_swap(sample):
    """Up to 20 differing lines: p is the share of all 2ⁿ swaps at least as extreme (here 6
    lines of the test texts, checked against sacrebleu on every one of the 64 swaps)."""
    import sacrebleu

    refs = sample["ref"][:24]
    base = list(sample["sys_a"][:24])
    sys_ = list(base)
    for i in (1, 4, 9, 12, 17, 22):
        sys_[i] = sample["sys_b"][i]
    metric = SacreMetric("bleu", [refs])
    rep = paired_test([metric], [[metric.extract(base)], [metric.extract(sys_)]], ["a", "b"],
                      "ar", 1000, 1)
    got = rep.results[1]["BLEU"]
    want = _brute_force_p(refs, base, sys_, lambda h: sacrebleu.corpus_bleu(h, [refs]).score)
    assert got.exact and got.p_value == pytest.approx(want, abs=1e-12) and 0 < want < 1


def test_beyond_20_lines_ar_samples_and_equals_the_strict_count_without_ties():
    """More than 20 differing lines: the sampled test; with continuous scores no shuffle ties
    the observed difference, so ≥ and sacrebleu's > count the same shuffles."""
    rng = np.random.default_rng(3)
    a = rng.uniform(0.5, 0.9, 60)
    values = [a, a + rng.normal(0.004, 0.01, 60)]
    metric = MeanMetric("F_BERT", "sig")
    stats = [[MeanMetric.stats_of(v)] for v in values]
    ge = paired_test([metric], stats, ["a", "b"], "ar", 2000, 5).results[1]["F_BERT"]
    gt = paired_test([metric], stats, ["a", "b"], "ar", 2000, 5,
                     strict_count=True).results[1]["F_BERT"]
    assert not ge.exact and ge.trials == 2000 and ge.p_value == gt.p_value
    same = paired_test([metric], [stats[0], stats[0]], ["a", "a"], "ar", 100, 5)
    assert same.results[1]["F_BERT"].p_value == 1.0 and same.results[1]["F_BERT"].exact


def test_holm_adjustment_by_hand():
    # ascending 0.005, 0.01, 0.03, 0.04 (m = 4): ×4 = 0.02, ×3 = 0.03, ×2 = 0.06, ×1 = 0.04
    # → running maximum 0.02, 0.03, 0.06, 0.06; None is not part of the family
    from bertune_cli.core.evaluation.pvalues import holm

    adjusted = holm([0.01, 0.04, None, 0.03, 0.005])
    assert adjusted[2] is None
    assert adjusted[:2] + adjusted[3:] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.6, 0.5]) == [1.0, 1.0] and holm([]) == []


def test_seed_paired_bootstrap_is_the_paired_test_for_one_seed_and_averages_seeds(sample):
    from bertune_cli.core.evaluation.significance import seed_paired_bootstrap

    refs = [sample["ref"]]
    metric = SacreMetric("bleu", refs)
    a, b, c = (metric.extract(sample[s]) for s in ("sys_a", "sys_b", "sys_c"))
    rep = paired_test([metric], [[a], [b]], ["a", "b"], "bs", 500, 9)
    delta, p = seed_paired_bootstrap(metric, [b], [a], 500, 9)
    assert p == rep.results[1]["BLEU"].p_value
    assert delta == pytest.approx(rep.results[1]["BLEU"].score - rep.results[0]["BLEU"].score)
    # two seeds of an arm (b, c) against two of the control (a, a): Δ of the seed means
    delta2, p2 = seed_paired_bootstrap(metric, [b, c], [a, a], 500, 9)
    assert delta2 == pytest.approx((metric.corpus_score(b) + metric.corpus_score(c)) / 2 -
                                   metric.corpus_score(a))
    # p2 by brute force: the same bootstrap draws, every resample scored row by row
    idxs = np.random.default_rng(9).choice(len(a), size=(500, len(a)), replace=True)
    diffs = np.array([abs((metric.corpus_score(b[i]) + metric.corpus_score(c[i])) / 2
                          - metric.corpus_score(a[i])) for i in idxs])
    assert p2 == pytest.approx((np.sum(np.abs(diffs - diffs.mean()) >= abs(delta2)) + 1) / 501)


@pytest.mark.parametrize("test", ["bs", "ar"])
def test_identical_systems_are_not_significantly_different(sample, test):
    """A fine-tune that returns its start writes the start's output: p must be 1, not the
    1/(n+1) of sacrebleu's strict count (kept behind strict_count)."""
    refs = [sample["ref"]]
    metric = SacreMetric("bleu", refs)
    same = metric.extract(sample["sys_a"])
    report = paired_test([metric], [[same], [same.copy()]], ["a", "b"], test, 1000, 12345)
    assert report.results[1]["BLEU"].p_value == 1.0
    strict = paired_test([metric], [[same], [same.copy()]], ["a", "b"], test, 1000, 12345,
                         strict_count=True)
    assert strict.results[1]["BLEU"].p_value == pytest.approx(1 / 1001)
