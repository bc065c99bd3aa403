"""The metric registry: the one place where a metric name means something.

``METRICS`` maps a name (what ``-m`` takes) to the constructor of a ``protocol.Metric``
bound to references: ``create(refs, settings, cache) -> Metric``. Adding a metric is one
module implementing the protocol plus one line here (docs/design.md, "Adding a metric").
``ALIASES`` are the other spellings ``-m`` accepts.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable, Sequence

from bertune_cli.core.errors import UsageError
from bertune_cli.core.metrics.bertscore import FBertMetric
from bertune_cli.core.metrics.moverscore import MoverScoreMetric
from bertune_cli.core.metrics.protocol import EvalCache, EvalSettings, Metric
from bertune_cli.core.metrics.stats import SacreMetric

MetricFactory = Callable[[Sequence[Sequence[str]], EvalSettings, EvalCache], Metric]

METRICS: dict[str, MetricFactory] = {
    "bleu": partial(SacreMetric.create, "bleu"),
    "chrf": partial(SacreMetric.create, "chrf"),
    "chrf++": partial(SacreMetric.create, "chrf++"),
    "ter": partial(SacreMetric.create, "ter"),
    "bertscore": FBertMetric.create,
    "moverscore": MoverScoreMetric.create,
}
ALIASES = {
    "f_bert": "bertscore",
    "fbert": "bertscore",
    "bert": "bertscore",
    "chrf2": "chrf",
    "chrf2++": "chrf++",
    "mover": "moverscore",
    "ms": "moverscore",
    "mover_score": "moverscore",
}
DEFAULT_METRICS = ("bleu", "bertscore")
# F_BERT: the metric whose statistics `significance --scores` files hold, whose reference
# embeddings `--cache` keeps and whose LM a run (`--model`) must name
F_BERT = "bertscore"


def parse_metrics(values: Sequence[str] | None, default=DEFAULT_METRICS) -> list[str]:
    """``-m bleu -m chrf`` or ``-m bleu,chrf`` → ["bleu", "chrf"] (validated, no repeats)."""
    names = [v.strip().lower() for item in (values or []) for v in item.split(",") if v.strip()]
    names = [ALIASES.get(n, n) for n in names] or list(default)
    bad = [n for n in names if n not in METRICS]
    if bad:
        raise UsageError(
            f"unknown metric(s): {', '.join(bad)}",
            f"choose from {', '.join(METRICS)} (repeat -m or separate by commas)",
        )
    return list(dict.fromkeys(names))


def canonical(name: str) -> str:
    """The registry name of one metric name or alias, any case; UsageError when unknown."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in METRICS:
        raise UsageError(f"unknown metric(s): {name}", f"choose from {', '.join(METRICS)}")
    return key


def check_not_metrics(paths: Sequence[str | Path]) -> None:
    """``-m bleu chrf`` makes ``chrf`` a file argument: say how to pass several metrics."""
    for p in paths:
        if not Path(p).exists() and str(p).lower() in (*METRICS, *ALIASES):
            raise UsageError(
                f"{p!s} is not a file but looks like a metric name",
                "select several metrics with -m bleu -m chrf or -m bleu,chrf",
            )


def build_metric(
    name: str, refs: Sequence[Sequence[str]], settings: EvalSettings, cache: EvalCache
) -> Metric:
    """The metric ``name`` bound to ``refs`` (kept in ``cache`` for the next call)."""
    from bertune_cli.core.metrics.inputs import digest

    key = (name, settings, digest(refs))
    if key not in cache.metrics:
        cache.metrics[key] = METRICS[name](refs, settings, cache)
    return cache.metrics[key]


def score_file_metric(
    files: Sequence[str | Path],
    refs: Sequence[Sequence[str]],
    systems: Sequence[Sequence[str]],
    paths: Sequence[str | Path],
    settings: EvalSettings,
    explicit: bool,
) -> tuple[str, Metric]:
    """(registry name, metric) of the statistics held by ``significance --scores`` files;
    ``explicit``: the LM/layer/idf were asked for, so the files must have been scored so."""
    from bertune_cli.core.lm.model import DEFAULT_LM
    from bertune_cli.core.metrics.sentences import ScoreFileMetric

    metric = ScoreFileMetric(files, refs, systems, paths)
    if explicit or settings.idf:
        metric.check_settings(settings.lm or DEFAULT_LM, settings.layer, settings.idf)
    return F_BERT, metric
