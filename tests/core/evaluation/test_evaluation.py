"""``evaluate(metrics, refs, systems)``: one call returns statistics, scores, warnings and the
paired test against a chosen base; a metric is one class plus one registry line; statistics
are cached; sacrebleu's private names live in one module behind a version check."""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import numpy as np
import pytest
import sacrebleu

from bertune_cli.core.errors import BertuneError, UsageError
from bertune_cli.core.evaluation import EvalCache, EvalSettings, evaluate
from bertune_cli.core.evaluation.registry import METRICS
from bertune_cli.core.evaluation.significance import paired_test
from bertune_cli.core.metrics.protocol import MeanMetric

ROOT = Path(__file__).resolve().parents[3]
REFS = ["The cat sat on the mat .", "A dog barks at night .", "Hello world .",
        "It rains in Paris .", "We met at noon ."]
SYSTEMS = [["The cat sat on the mat .", "A dog barks .", "Hello world .",
            "It rains in Paris .", "We met at noon ."],
           ["The cat sat on a mat .", "A dog barks at night .", "Hello world !",
            "It rains in Paris .", "We met at night ."],
           ["the cat sat on the mat .", "a dog barks at night .", "hello world .",
            "it rains in paris .", "we met at noon ."]]


class ExactMatchMetric(MeanMetric):
    """docs/design.md's "Adding a metric" example, verbatim."""

    def __init__(self, refs, lowercase: bool = False):
        self.refs, self.lowercase = [list(r) for r in refs], lowercase
        super().__init__("ExactMatch", f"exact-match|case:{'lc' if lowercase else 'mixed'}")
        self.case_sensitive = not lowercase

    @classmethod
    def create(cls, refs, settings, cache=None):
        return cls(refs, lowercase=settings.lowercase)

    def extract(self, hyps) -> np.ndarray:
        norm = str.lower if self.lowercase else str
        hit = [any(norm(h) == norm(r[i]) for r in self.refs) for i, h in enumerate(hyps)]
        return self.stats_of(np.array(hit, dtype=np.float64))


def test_a_new_metric_is_one_class_and_one_registry_line(monkeypatch):
    monkeypatch.setitem(METRICS, "exact", ExactMatchMetric.create)
    ev = evaluate(["exact", "bleu"], [REFS], SYSTEMS[:2], names=["base", "sys"], test="ar")
    assert ev.keys == ["exact", "bleu"] and ev.scores("base")["ExactMatch"] == 80.0
    assert ev.scores("sys")["ExactMatch"] == 40.0
    assert ev.scores("sys")["BLEU"] == sacrebleu.corpus_bleu(SYSTEMS[1], [REFS]).score
    p = ev.p_values("sys")
    assert set(p) == {"ExactMatch", "BLEU"} and ev.significance.results[1]["ExactMatch"].exact
    assert ev.significance.signatures["ExactMatch"].startswith("exact-match|case:mixed|ar:")
    lower = evaluate(["exact"], [REFS], SYSTEMS[2:], settings=EvalSettings(lowercase=True))
    assert lower.scores(0)["ExactMatch"] == 100.0


def test_base_by_name_and_p_values_per_metric():
    ev = evaluate(["bleu", "chrf"], [REFS], SYSTEMS[:2], names=["control", "arm"], test="bs",
                  base="arm", n_samples=200, seed=4)
    assert ev.significance.names == ["arm", "control"]   # the base first, as the test wants
    stats = [[seg.stats for seg in ev.segments[s]] for s in (1, 0)]
    direct = paired_test(ev.metrics, stats, ["arm", "control"], "bs", 200, 4)
    assert ev.p_values("control") == {m: direct.results[1][m].p_value for m in direct.metrics}
    assert ev.scores("control") == {"BLEU": sacrebleu.corpus_bleu(SYSTEMS[0], [REFS]).score,
                                    "chrF2": sacrebleu.corpus_chrf(SYSTEMS[0], [REFS]).score}
    with pytest.raises(UsageError, match="not one of the systems"):
        evaluate(["bleu"], [REFS], SYSTEMS[:2], test="bs", base="nobody")
    with pytest.raises(UsageError, match="unknown metric"):
        evaluate(["meteor"], [REFS], SYSTEMS[:1])


class CountingMetric(MeanMetric):
    """Word count per line; remembers how many systems it was asked to extract."""

    def __init__(self):
        super().__init__("Words", "words|v1", scale=1.0)
        self.extracted = 0

    def extract(self, hyps):
        self.extracted += 1
        return self.stats_of([len(h.split()) for h in hyps])


def test_the_statistics_cache_scores_the_same_hypotheses_once():
    cache, metric = EvalCache(), CountingMetric()
    first = evaluate([metric], [REFS], SYSTEMS[:2], cache=cache)
    assert metric.extracted == 2
    again = evaluate([metric], [REFS], [SYSTEMS[1], SYSTEMS[2], SYSTEMS[2]], cache=cache,
                     test="bs", n_samples=100)
    assert metric.extracted == 3      # SYSTEMS[1] from the cache, SYSTEMS[2] once
    assert again.scores(0) == first.scores(1)
    np.testing.assert_array_equal(again.segments[1][0].stats, again.segments[2][0].stats)
    # metrics built from names are kept too (an LM loads once per process)
    evaluate(["bleu"], [REFS], SYSTEMS[:1], cache=cache)
    built = dict(cache.metrics)
    evaluate(["bleu"], [REFS], SYSTEMS[1:2], cache=cache)
    assert cache.metrics == built


def test_lowercase_output_against_cased_references_is_one_warning():
    ev = evaluate(["bleu", "chrf"], [REFS], SYSTEMS, names=["a", "b", "low"])
    assert len(ev.warnings) == 1
    assert ev.warnings[0].startswith("low has no uppercase letter while 100% of the reference")
    assert "--lowercase" in ev.warnings[0] and "BLEU, chrF2 count case" in ev.warnings[0]
    assert evaluate(["bleu"], [REFS], SYSTEMS[2:], settings=EvalSettings(lowercase=True)
                    ).warnings == []
    assert evaluate(["ter"], [REFS], SYSTEMS[2:]).warnings == []     # TER ignores case
    assert evaluate(["bleu"], [[r.lower() for r in REFS]], SYSTEMS[2:]).warnings == []


def test_progress_reports_each_stage():
    seen = []
    evaluate(["bleu", "chrf"], [REFS], SYSTEMS[:2], test="bs", n_samples=50,
             progress=lambda step, done, total: seen.append((step, done, total)))
    assert ("preparing metrics", 2, 2) in seen and ("BLEU", 2, 2) in seen
    assert ("chrF2", 2, 2) in seen and ("bs test", 2, 2) in seen


# ---------------------------------------------------------------------- sacrebleu internals

PRIVATE = {"_preprocess_segment", "_remove_punctuation", "_extract_corpus_statistics",
           "_cache_references", "_ref_cache", "_compute_score_from_stats",
           "_aggregate_and_compute", "_compute_f_score", "_re"}


def test_sacrebleu_private_names_are_used_in_one_module_only():
    users = set()
    for path in sorted((ROOT / "bertune_cli").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                  for a in n.names if (n.module or "").startswith("sacrebleu")}
        if names & (PRIVATE | {"TokenizerRegexp"}):
            users.add(path.relative_to(ROOT).as_posix())
    assert users == {"bertune_cli/core/metrics/sacre.py"}
    doc = (ROOT / "bertune_cli/core/metrics/sacre.py").read_text(encoding="utf-8")
    assert all(name in doc for name in PRIVATE)         # and each is listed there


def test_another_sacrebleu_series_is_one_error(monkeypatch):
    from bertune_cli.core.metrics import sacre

    monkeypatch.setattr(sacrebleu, "__version__", "2.5.1")
    sacre.sacrebleu_module.cache_clear()
    try:
        with pytest.raises(BertuneError) as err:
            sacre.corpus_metric("bleu", ["a"], [["a"]])
        assert "\n" not in str(err.value)
        assert str(err.value).startswith("sacrebleu 2.5.1 is installed, but bertune's metrics "
                                         "are exact for sacrebleu 2.6.x only")
    finally:
        sacre.sacrebleu_module.cache_clear()


def test_the_versions_the_exactness_tests_run_on_are_pinned():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "sacrebleu>=2.6,<2.7" in deps and "bert-score==0.3.13" in deps
    assert sacrebleu.__version__.startswith("2.6.")
