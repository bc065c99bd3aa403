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
from bertune_cli.core.metrics.sacre import make_metric
from bertune_cli.core.metrics.protocol import MeanMetric
from bertune_cli.core.metrics.stats import SacreMetric
from bertune_cli.core.significance import default_seed, paired_t_test, paired_test

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "evaluation_sample.tsv"
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
                       ar_confidence=ar_confidence, ar_strict=True)   # sacrebleu's AR count


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
    assert report.signatures["F_BERT"] == "minilm_L5_no-idf|bs:1000|seed:12345"
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
