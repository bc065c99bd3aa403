"""The results table: every run on the test split, with paired-bootstrap p-values.

BLEU and chrF are sacreBLEU's (``metrics.stats.SacreStatistic``: per-segment sufficient
statistics), F_BERT is bertune's exact BERTScore (``metrics.bertscore.score_systems``, all
systems in one pass), MoverScore is added when ``core.metrics.moverscore`` is importable. The
paired bootstrap is ``core.significance.paired_test`` (sacreBLEU 2.6 semantics, the baseline
first), so the numbers equal ``bertune significance`` on the same files. The segment
statistics and sentence scores are kept for the error analysis (not in the JSON).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from bertune_cli.core.metrics.stats import MeanStatistic, SacreStatistic, Statistic


@dataclass
class SystemResult:
    name: str
    label: str
    scores: dict[str, float]
    mean: dict[str, float | None]
    ci: dict[str, float | None]
    p_values: dict[str, float | None]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Results:
    """Scores of every system (baseline first) and the statistics behind them."""

    metrics: list[str]                        # display names: BLEU, chrF2, F_BERT, MoverScore
    systems: list[SystemResult]
    signatures: dict[str, str]                # metric -> signature incl. test, samples, seed
    test: str
    n_samples: int
    seed: int | None
    sentences: int
    alpha: float = 0.05
    statistics: list[Statistic] = field(default_factory=list, repr=False)
    segment_stats: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)
    sentence_scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)

    def statistic(self, name: str) -> Statistic:
        return next(s for s in self.statistics if s.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": self.metrics, "systems": [s.to_dict() for s in self.systems],
                "signatures": self.signatures, "test": self.test, "n_samples": self.n_samples,
                "seed": self.seed, "sentences": self.sentences, "alpha": self.alpha}


def results_table(names: Sequence[str], labels: Sequence[str], hyps: Sequence[list[str]],
                 refs: list[str], lm, *, lowercase: bool = True, tokenize: str = "13a",
                 n_samples: int = 1000, seed: int | None = 12345,
                 moverscore: str | None = None, device: str = "cpu") -> Results:
    """Score ``hyps`` (one list per system, baseline first) against ``refs`` and test every
    system against the baseline. ``lm``: the LoadedLM of F_BERT (the runs' LM and layer);
    ``moverscore``: the LM name for MoverScore (None: no MoverScore)."""
    from bertune_cli.core.metrics.bertscore import score_systems
    from bertune_cli.core.significance import paired_test

    stats_of: list[Statistic] = [
        SacreStatistic("bleu", [refs], lowercase=lowercase, tokenize=tokenize),
        SacreStatistic("chrf", [refs], lowercase=lowercase)]
    per_sys: list[list[np.ndarray]] = [[s.extract(h) for s in stats_of] for h in hyps]
    fb = score_systems(list(hyps), [refs], lm)
    sentence = {n: {"F_BERT": f.F} for n, f in zip(names, fb)}
    stats_of.append(MeanStatistic("F_BERT", fb[0].signature))
    for row, f in zip(per_sys, fb):
        row.append(MeanStatistic.stats_of(f.F))
    mover = moverscore_sentences(list(hyps), refs, moverscore, device) if moverscore else None
    if mover is not None:
        scores, signature = mover
        stats_of.append(MeanStatistic("MoverScore", signature))
        for n, row, s in zip(names, per_sys, scores):
            row.append(MeanStatistic.stats_of(s))
            sentence[n]["MoverScore"] = np.asarray(s, np.float64)
    keep = dict(statistics=stats_of, sentence_scores=sentence,
                segment_stats={n: {s.name: a for s, a in zip(stats_of, row)}
                               for n, row in zip(names, per_sys)})
    if len(hyps) == 1:  # a baseline alone: scores, nothing to test against
        only = {s.name: s.corpus_score(a) for s, a in zip(stats_of, per_sys[0])}
        none = {m: None for m in only}
        return Results(list(only), [SystemResult(names[0], labels[0], only, none, none, none)],
                       {s.name: s.signature for s in stats_of}, "none", 0, seed, len(refs),
                       **keep)
    report = paired_test(stats_of, per_sys, list(names), test="bs", n_samples=n_samples,
                         seed=seed)
    systems = []
    for name, label, res in zip(names, labels, report.results):
        systems.append(SystemResult(
            name, label, {m: res[m].score for m in report.metrics},
            {m: res[m].mean for m in report.metrics}, {m: res[m].ci for m in report.metrics},
            {m: res[m].p_value for m in report.metrics}))
    return Results(report.metrics, systems, dict(report.signatures), "paired bootstrap",
                   report.n_samples, report.seed, len(refs), **keep)


def moverscore_available() -> bool:
    """Whether ``core.metrics.moverscore`` (and its POT dependency) can be imported."""
    try:
        from bertune_cli.core.metrics import moverscore  # noqa: F401
        import ot  # noqa: F401
    except ImportError:
        return False
    return True


def moverscore_sentences(systems: list[list[str]], refs: list[str], lm_name: str,
                         device: str = "cpu"):
    """(per-system sentence MoverScores (0-1), signature) through
    ``core.metrics.moverscore.score_systems``; None when that module is not available."""
    if not moverscore_available():
        return None
    from bertune_cli.core.metrics.moverscore import score_systems

    out = score_systems(systems, [refs], lm_name=lm_name, device=device)
    return [np.asarray(o.scores, np.float64) for o in out], str(out[0].signature)
