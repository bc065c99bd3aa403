"""One evaluation path: ``evaluate(metrics, refs, systems)`` over the metric registry.

Modules: ``registry`` (name → metric constructor; the only place a metric name is
dispatched), ``evaluate`` (statistics, scores, warnings and the paired test in one call),
``settings`` (a recipe's or a run's evaluation settings), ``files`` (``score`` and
``significance`` on files). The metric protocol itself is ``core.metrics.protocol``.
"""

from bertune_cli.core.evaluation.evaluate import Evaluation, evaluate
from bertune_cli.core.evaluation.registry import METRICS, parse_metrics
from bertune_cli.core.evaluation.settings import command_settings, recipe_settings
from bertune_cli.core.metrics.protocol import EvalCache, EvalSettings

__all__ = [
    "METRICS",
    "EvalCache",
    "EvalSettings",
    "Evaluation",
    "command_settings",
    "evaluate",
    "parse_metrics",
    "recipe_settings",
]
