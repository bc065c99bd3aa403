"""The results table: every run on the test split, with paired-bootstrap p-values.

One ``core.evaluation.evaluate`` call: BLEU and chrF by sacreBLEU, F_BERT (the runs' LM,
all systems in one pass), MoverScore when ``core.metrics.moverscore`` is importable, and the
paired bootstrap against the baseline (sacreBLEU 2.6 semantics), so the numbers equal
``bertune significance`` on the same files. The segment statistics and sentence scores are
kept for the error analysis (not in the JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from bertune_cli.core.metrics.protocol import MeanMetric, Metric


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

    metrics: list[str]  # display names: BLEU, chrF2, F_BERT, MoverScore
    systems: list[SystemResult]
    signatures: dict[str, str]  # metric -> signature incl. test, samples, seed
    test: str
    n_samples: int
    seed: int | None
    sentences: int
    alpha: float = 0.05
    statistics: list[Metric] = field(default_factory=list, repr=False)
    segment_stats: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)
    sentence_scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)

    def statistic(self, name: str) -> Metric:
        return next(s for s in self.statistics if s.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics,
            "systems": [s.to_dict() for s in self.systems],
            "signatures": self.signatures,
            "test": self.test,
            "n_samples": self.n_samples,
            "seed": self.seed,
            "sentences": self.sentences,
            "alpha": self.alpha,
        }


def results_table(
    names: Sequence[str],
    labels: Sequence[str],
    hyps: Sequence[list[str]],
    refs: list[str],
    lm,
    *,
    lowercase: bool = True,
    tokenize: str = "13a",
    n_samples: int = 1000,
    seed: int | None = 12345,
    moverscore: str | None = None,
    device: str = "cpu",
) -> Results:
    """Score ``hyps`` (one list per system, baseline first) against ``refs`` and test every
    system against the baseline: one ``core.evaluation.evaluate`` call. ``lm``: the LoadedLM
    of F_BERT (the runs' LM and layer); ``moverscore``: the LM name for MoverScore (None: no
    MoverScore)."""
    from bertune_cli.core.evaluation import EvalCache, EvalSettings, evaluate

    cache = EvalCache()
    cache.keep_lm("fbert", lm.name, lm.layer, lm)
    metrics = ["bleu", "chrf", "bertscore"] + (
        ["moverscore"] if moverscore and moverscore_available() else []
    )
    ev = evaluate(
        metrics,
        [refs],
        hyps,
        names=names,
        cache=cache,
        settings=EvalSettings(
            lowercase=lowercase,
            tokenize=tokenize,
            lm=lm.name,
            layer=lm.layer,
            ms_lm=moverscore,
            device=device,
        ),
        test="bs" if len(hyps) > 1 else None,
        n_samples=n_samples,
        seed=seed,
    )
    keep = dict(
        statistics=ev.metrics,
        segment_stats={
            n: {m.name: seg.stats for m, seg in zip(ev.metrics, row)}
            for n, row in zip(names, ev.segments)
        },
        sentence_scores={
            n: {
                m.name: seg.stats[:, 0]
                for m, seg in zip(ev.metrics, row)
                if isinstance(m, MeanMetric)
            }
            for n, row in zip(names, ev.segments)
        },
    )
    report = ev.significance
    if report is None:  # a baseline alone: scores, nothing to test against
        only = ev.scores(0)
        none = {m: None for m in only}
        return Results(
            list(only),
            [SystemResult(names[0], labels[0], only, none, none, none)],
            ev.signatures(),
            "none",
            0,
            seed,
            len(refs),
            **keep,
        )
    systems = []
    for name, label, res in zip(names, labels, report.results):
        systems.append(
            SystemResult(
                name,
                label,
                {m: res[m].score for m in report.metrics},
                {m: res[m].mean for m in report.metrics},
                {m: res[m].ci for m in report.metrics},
                {m: res[m].p_value for m in report.metrics},
            )
        )
    return Results(
        report.metrics,
        systems,
        dict(report.signatures),
        "paired bootstrap",
        report.n_samples,
        report.seed,
        len(refs),
        **keep,
    )


def moverscore_available() -> bool:
    """Whether ``core.metrics.moverscore`` (and its POT dependency) can be imported."""
    try:
        import ot  # noqa: F401

        from bertune_cli.core.metrics import moverscore  # noqa: F401
    except ImportError:
        return False
    return True


def moverscore_sentences(
    systems: list[list[str]], refs: list[str], lm_name: str, device: str = "cpu"
):
    """(per-system sentence MoverScores (0-1), signature) through
    ``core.metrics.moverscore.score_systems``; None when that module is not available."""
    if not moverscore_available():
        return None
    from bertune_cli.core.metrics.moverscore import score_systems

    out = score_systems(systems, [refs], lm_name=lm_name, device=device)
    return [np.asarray(o.scores, np.float64) for o in out], str(out[0].signature)
