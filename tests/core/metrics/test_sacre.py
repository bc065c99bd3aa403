"""corpus_metric: BLEU / chrF / TER equal sacrebleu 2.6's corpus scores and signatures."""
from __future__ import annotations

import json

import pytest
import sacrebleu

from bertune_cli.core.errors import ConfigError, DataError
from bertune_cli.core.metrics.sacre import corpus_metric

CASES = [("bleu", {}, sacrebleu.BLEU), ("bleu", {"lowercase": True, "tokenize": "intl"},
                                        sacrebleu.BLEU),
         ("chrf", {}, sacrebleu.CHRF), ("chrf", {"lowercase": True}, sacrebleu.CHRF),
         ("chrf++", {}, lambda **kw: sacrebleu.CHRF(word_order=2, **kw)),
         ("ter", {}, sacrebleu.TER)]


@pytest.mark.parametrize("name,options,cls", CASES)
@pytest.mark.parametrize("nrefs", [1, 2])
def test_equals_sacrebleu(sample, name, options, cls, nrefs):
    refs = [sample["ref"], sample["ref2"]][:nrefs]
    mine = corpus_metric(name, sample["sys_a"], refs, **options)
    kwargs = {k: v for k, v in options.items() if not (cls is sacrebleu.CHRF and k == "tokenize")}
    metric = cls(**kwargs)
    theirs = metric.corpus_score(sample["sys_a"], refs)
    assert mine.score == theirs.score and mine.name == theirs.name
    assert mine.signature == metric.get_signature().format()
    json.dumps(mine.to_dict())                              # JSON-safe


def test_shared_options_are_dropped_where_they_do_not_apply(sample):
    ter = corpus_metric("ter", sample["sys_a"], [sample["ref"]], lowercase=True, tokenize="13a")
    assert ter.score == sacrebleu.TER().corpus_score(sample["sys_a"], [sample["ref"]]).score


def test_bad_names_options_and_lengths(sample):
    with pytest.raises(ConfigError, match="unknown sacrebleu metric"):
        corpus_metric("meteor", ["a"], [["a"]])
    with pytest.raises(ConfigError, match="unknown option"):
        corpus_metric("bleu", ["a"], [["a"]], smoothing="x")
    with pytest.raises(DataError, match="1 lines but there are 2"):
        corpus_metric("bleu", ["a", "b"], [["a"]])
    with pytest.raises(DataError, match="no hypotheses"):
        corpus_metric("bleu", [], [[]])
