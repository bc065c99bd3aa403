"""``bertune score`` and ``bertune significance`` on files: read them (``metrics.inputs``),
resolve the settings (options over a run's recipe, ``settings.command_settings``), then one
``evaluate`` call. ``score`` may also write the sentence-level file ``significance --scores``
reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from bertune_cli.core.errors import OutputError, UsageError
from bertune_cli.core.evaluation.evaluate import StageProgress, evaluate
from bertune_cli.core.evaluation.registry import (
    F_BERT,
    check_not_metrics,
    parse_metrics,
    score_file_metric,
)
from bertune_cli.core.evaluation.settings import command_settings
from bertune_cli.core.metrics.inputs import digest, read_parallel
from bertune_cli.core.metrics.protocol import EvalCache, EvalSettings, MetricResult
from bertune_cli.core.metrics.sentences import (
    SENTENCE_SUFFIXES,
    SentenceScores,
    write_sentence_scores,
)


@dataclass
class ScoreReport:
    hyp: str
    refs: list[str]
    lines: int
    results: list[MetricResult]
    warnings: list[str] = field(default_factory=list)
    sentence_level: str | None = None
    settings: EvalSettings | None = None
    # --sentence-level could not be written: the command prints the scores, then raises it
    output_error: OutputError | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hyp": self.hyp,
            "refs": self.refs,
            "lines": self.lines,
            "metrics": [r.to_dict() for r in self.results],
            "warnings": self.warnings,
            "sentence_level": self.sentence_level,
            "settings": settings_dict(self.settings) if self.settings else None,
        }


def settings_dict(settings: EvalSettings) -> dict[str, Any]:
    """Where the case/tokenizer settings came from (the signatures carry the rest)."""
    return {
        "lowercase": settings.lowercase,
        "tokenize": settings.tokenize or "13a",
        "source": settings.source,
    }


def open_cache(cache: str | Path | None, cache_size_mb: float):
    """F_BERT's reference-embedding cache (``metrics.cache``) or None when no folder is given;
    opened before any scoring work, so an unusable folder fails first."""
    if cache is None:
        return None
    from bertune_cli.core.metrics.cache import EmbeddingCache

    return EmbeddingCache(cache, cache_size_mb)


def score_files(
    hyp: str | Path,
    refs: Sequence[str | Path],
    metrics: Sequence[str] | None = None,
    *,
    model: str | Path | None = None,
    sentence_level: str | Path | None = None,
    cache: str | Path | None = None,
    cache_size_mb: float = 1024.0,
    progress: StageProgress | None = None,
    **options,
) -> ScoreReport:
    """Score ``hyp`` against ``refs`` (one file per reference stream) with every metric.
    ``options``: the settings (lm, layer, lowercase, tokenize, idf, rescale, bf16, ms_lm,
    ms_stop_words, batch_size, device; None: the run's, then the default). ``cache``: a
    folder for F_BERT's reference embeddings (``metrics.cache``), opt-in."""
    names = parse_metrics(metrics)
    if not refs:
        raise UsageError("no reference file given", "usage: bertune score HYP REF [REF2 ...]")
    check_not_metrics([hyp, *refs])
    if sentence_level:  # before the scoring work (core/io/outputs.py)
        from bertune_cli.core.io.outputs import check_output

        check_output(sentence_level, "sentence-level scores", SENTENCE_SUFFIXES)
    settings = command_settings(model, need_lm=F_BERT in names, **options)
    emb_cache = open_cache(cache, cache_size_mb) if F_BERT in names else None
    texts = read_parallel([("hypothesis", hyp), *(("reference", r) for r in refs)])
    hyps, ref_lines = texts[0], texts[1:]
    ev = evaluate(
        names,
        ref_lines,
        [hyps],
        names=[str(hyp)],
        settings=settings,
        cache=EvalCache(embeddings=emb_cache),
        progress=progress,
    )
    written = failed = None
    if sentence_level:
        columns = {
            k: v for m, seg in zip(ev.metrics, ev.segments[0]) for k, v in m.columns(seg).items()
        }
        sigs = {r.name: r.signature for r in ev.results[0]}
        try:  # the scores are not thrown away when the side file fails (full disk, ...)
            written = str(
                write_sentence_scores(
                    sentence_level,
                    SentenceScores(
                        str(hyp), digest([hyps]), digest(ref_lines), len(hyps), sigs, columns
                    ),
                )
            )
        except OutputError as exc:
            failed = exc
    return ScoreReport(
        str(hyp),
        [str(r) for r in refs],
        len(hyps),
        ev.results[0],
        ev.warnings,
        written,
        settings,
        output_error=failed,
    )


def significance_from_files(
    refs: Sequence[str | Path],
    systems: Sequence[str | Path],
    metrics: Sequence[str] | None = None,
    *,
    test: str = "bs",
    n_samples: int = 0,
    seed: int | None = None,
    paired_t: bool = False,
    strict_count: bool = False,
    scores: Sequence[str | Path] = (),
    model: str | Path | None = None,
    cache: str | Path | None = None,
    cache_size_mb: float = 1024.0,
    labels: Sequence[str] = (),
    progress: StageProgress | None = None,
    **options,
):
    """``bertune significance``: every system against the first (the baseline).

    ``scores``: sentence-level F_BERT files (``score --sentence-level``), one per system, used
    instead of computing F_BERT. ``options``: the settings, as in ``score_files``. ``seed``
    None: ``$SACREBLEU_SEED`` or 12345. Returns the ``SignificanceReport`` (with the
    metrics' warnings and the systems' ``labels``)."""
    from bertune_cli.core.evaluation.significance import DEFAULT_SAMPLES

    check_not_metrics([*refs, *systems])
    if len(systems) < 2:
        raise UsageError(
            f"significance needs a baseline and at least one system "
            f"(got {len(systems)} system file{'s' if len(systems) != 1 else ''})",
            "usage: bertune significance REF BASE SYS [SYS ...]",
        )
    if test not in DEFAULT_SAMPLES:
        raise UsageError(
            f"unknown test {test!r}",
            "use --test bs (paired bootstrap) or --test ar (approximate randomization)",
        )
    names = parse_metrics(metrics)
    if scores and F_BERT not in names:
        names.append(F_BERT)
    explicit = bool(options.get("lm") or options.get("layer") is not None or model)
    settings = command_settings(model, need_lm=F_BERT in names and not scores, **options)
    emb_cache = open_cache(cache, cache_size_mb) if F_BERT in names and not scores else None
    roles = (
        [("reference", r) for r in refs]
        + [("baseline", systems[0])]
        + [("system", s) for s in systems[1:]]
    )
    texts = read_parallel(roles)
    ref_lines, hyps = texts[: len(refs)], texts[len(refs) :]
    chosen: list = list(names)
    if scores:
        key, from_files = score_file_metric(scores, ref_lines, hyps, systems, settings, explicit)
        chosen[names.index(key)] = from_files
    ev = evaluate(
        chosen,
        ref_lines,
        hyps,
        names=[str(s) for s in systems],
        settings=settings,
        test=test,
        n_samples=n_samples,
        seed=seed,
        paired_t=paired_t,
        strict_count=strict_count,
        cache=EvalCache(embeddings=emb_cache),
        progress=progress,
    )
    report = ev.significance
    report.warnings = ev.warnings
    report.labels = list(labels) if labels else short_labels([str(s) for s in systems])
    report.settings = settings_dict(settings)
    return report


def short_labels(paths: Sequence[str]) -> list[str]:
    """Short table names for system files: the file stem (``out/sys.de-en.txt`` → ``sys.de-en``),
    or the last path parts that tell them apart when stems repeat; numbered when even the
    full paths do."""
    parts = [Path(p).with_suffix("").parts or (p,) for p in paths]
    for depth in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [f"{i + 1}:{Path(p).stem}" for i, p in enumerate(paths)]
