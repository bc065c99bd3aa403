"""``evaluate(metrics, refs, systems)``: score N systems against references with any metrics
of the registry and, optionally, test each against a base system (core/evaluation/significance.py).

Every evaluation in bertune is one call to it: ``score`` and ``significance`` (files,
``core.evaluation.files``), the fine-tune report (``pipeline/run.py``), the grid summary
(``pipeline/grid.py``) and ``report`` (``report/results.py``). Statistics are computed once per
(metric signature, references, hypotheses) in an ``EvalCache``; each metric with an LM scores
all systems in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from bertune_cli.core.errors import UsageError
from bertune_cli.core.metrics.protocol import (
    EvalCache,
    EvalSettings,
    Metric,
    MetricResult,
    Segments,
)

# progress(step, done, total): what evaluate is doing (the commands draw it on stderr)
StageProgress = Callable[[str, int, "int | None"], None]


@dataclass
class Evaluation:
    """What ``evaluate`` returns. ``keys[j]``/``metrics[j]``: the registry name and the metric
    object; ``segments[s][j]``/``results[s][j]``: system s under metric j; ``significance``:
    the paired test (base system first) or None."""

    names: list[str]
    keys: list[str]
    metrics: list[Metric]
    segments: list[list[Segments]]
    results: list[list[MetricResult]]
    settings: EvalSettings
    warnings: list[str] = field(default_factory=list)
    significance: Any = None  # core.significance.SignificanceReport

    def index(self, system: int | str) -> int:
        """The position of a system given by position or name."""
        if isinstance(system, int) and 0 <= system < len(self.names):
            return system
        if isinstance(system, str) and system in self.names:
            return self.names.index(system)
        raise UsageError(f"{system!r} is not one of the systems ({', '.join(self.names)})")

    def stats(self, system: int | str) -> list:
        """The (N, k) statistics of one system, one array per metric (``metrics`` order)."""
        return [seg.stats for seg in self.segments[self.index(system)]]

    def scores(self, system: int | str) -> dict[str, float]:
        """Corpus scores of one system, by metric display name (BLEU, chrF2, F_BERT, ...)."""
        return {r.name: r.score for r in self.results[self.index(system)]}

    def p_values(self, system: int | str) -> dict[str, float | None]:
        """p-values of one system against the base, by metric display name."""
        if self.significance is None:
            raise UsageError("no significance test was run", "pass test='bs' or test='ar'")
        name = self.names[self.index(system)]
        res = self.significance.results[self.significance.names.index(name)]
        return {m: res[m].p_value for m in self.significance.metrics}

    def signatures(self) -> dict[str, str]:
        return {m.name: m.signature for m in self.metrics}


def evaluate(
    metrics: Sequence[str | Metric],
    refs: Sequence[Sequence[str]],
    systems: Sequence[Sequence[str]],
    *,
    names: Sequence[str] | None = None,
    settings: EvalSettings = EvalSettings(),
    test: str | None = None,
    base: int | str = 0,
    n_samples: int = 0,
    seed: int | None = None,
    strict_count: bool = False,
    paired_t: bool = False,
    cache: EvalCache | None = None,
    progress: StageProgress | None = None,
) -> Evaluation:
    """Score ``systems`` (each a list of lines) against ``refs`` (reference streams).

    ``metrics``: registry names or aliases (``core.evaluation.registry``), or metric objects
    already bound to ``refs``. ``test``: None, ``bs`` (paired bootstrap) or ``ar``
    (approximate randomization; ``strict_count``: sacrebleu 2.6's strict count) of every system
    against ``base`` (index or name), ``seed`` None: ``$SACREBLEU_SEED`` or 12345.
    ``cache``: reuse LMs, metrics and statistics across calls (e.g. one per seed of an
    ablation). ``progress(step, done, total)``: what is being computed."""
    from bertune_cli.core.evaluation.registry import build_metric, canonical
    from bertune_cli.core.metrics.inputs import digest

    say = progress or (lambda step, done, total: None)
    names = [f"system {i + 1}" for i in range(len(systems))] if names is None else list(names)
    if len(names) != len(systems) or not systems:
        raise UsageError(
            f"{len(systems)} system(s) but {len(names)} name(s)", "give one name per system"
        )
    refs = [list(r) for r in refs]
    systems = [list(h) for h in systems]
    cache = cache if cache is not None else EvalCache()
    keys = [canonical(m) if isinstance(m, str) else m.name for m in metrics]
    built: list[Metric] = []
    for j, (key, m) in enumerate(zip(keys, metrics)):  # LMs load here
        say("preparing metrics", j, len(keys))
        built.append(build_metric(key, refs, settings, cache) if isinstance(m, str) else m)
    say("preparing metrics", len(keys), len(keys))
    warnings = case_warnings(built, refs, systems, names)
    refs_key, hyp_keys = digest(refs), [digest([h]) for h in systems]
    per_metric: list[list[Segments]] = []
    for metric in built:
        found = _extract(metric, systems, refs_key, hyp_keys, cache, say)
        per_metric.append(found)
        warnings += _named(names, [seg.warnings for seg in found], metric.name)
        warnings += metric.pop_warnings()
    segments = [[col[s] for col in per_metric] for s in range(len(systems))]
    results = [[m.result(seg) for m, seg in zip(built, row)] for row in segments]
    out = Evaluation(names, keys, built, segments, results, settings, warnings)
    if test is not None:
        out.significance = _test(out, base, test, n_samples, seed, strict_count, paired_t, say)
    return out


def _extract(
    metric: Metric,
    systems: list[list[str]],
    refs_key: str,
    hyp_keys: list[str],
    cache: EvalCache,
    say: StageProgress,
) -> list[Segments]:
    """Every system's statistics under ``metric``: from ``cache`` where present, else the
    missing distinct systems in one pass (and stored)."""
    keys = [(metric.signature, refs_key, h) for h in hyp_keys]
    todo = list(dict.fromkeys(k for k in keys if k not in cache.stats))
    if todo:
        first = {k: keys.index(k) for k in todo}
        say(metric.name, 0, None)
        done = metric.extract_systems(
            [systems[first[k]] for k in todo], progress=lambda d, t: say(metric.name, d, t)
        )
        cache.stats.update(zip(todo, done))
    return [cache.stats[k] for k in keys]


def _named(names: list[str], said: list[list[str]], metric: str) -> list[str]:
    """Metric warnings about systems; with several systems each names the system it is
    about (``F_BERT, sys.txt: …``)."""
    if len(names) == 1:
        return list(said[0])
    return [f"{metric}, {name}: {w}" for name, ws in zip(names, said) for w in ws]


def case_warnings(
    metrics: Sequence[Metric], refs: list[list[str]], systems: list[list[str]], names: list[str]
) -> list[str]:
    """One line when systems have no uppercase letter at all while most reference lines do
    and a metric counts case: lowercase output against cased references (a silent drop)."""
    sensitive = [m.name for m in metrics if m.case_sensitive]
    lines = [r for stream in refs for r in stream]
    cased = sum(r != r.lower() for r in lines)
    if not sensitive or not lines or 2 * cased <= len(lines):
        return []
    lower = [n for n, h in zip(names, systems) if all(line == line.lower() for line in h)]
    if not lower:
        return []
    who = (
        "the hypotheses have"
        if len(names) == 1
        else f"{', '.join(lower)} {'has' if len(lower) == 1 else 'have'}"
    )
    return [
        f"{who} no uppercase letter while {100 * cased / len(lines):.0f}% of the reference "
        f"lines have one, and {', '.join(sensitive)} count{'s' if len(sensitive) == 1 else ''}"
        " case: pass --lowercase to score case-insensitively (as the recipes do)"
    ]


def _test(
    ev: Evaluation,
    base: int | str,
    test: str,
    n_samples: int,
    seed: int | None,
    strict_count: bool,
    paired_t: bool,
    say: StageProgress,
):
    from bertune_cli.core.evaluation.significance import default_seed, paired_test

    b = ev.index(base)
    order = [b, *(s for s in range(len(ev.names)) if s != b)]
    return paired_test(
        ev.metrics,
        [[seg.stats for seg in ev.segments[s]] for s in order],
        [ev.names[s] for s in order],
        test,
        n_samples,
        default_seed() if seed is None else seed,
        paired_t=paired_t,
        strict_count=strict_count,
        progress=lambda d, t: say(f"{test} test", d, t),
    )
