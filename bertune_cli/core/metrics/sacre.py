"""BLEU, chrF and TER through the sacrebleu library, each score with its sacrebleu signature.

``corpus_metric`` is the one entry point for a corpus score (also used for validation BLEU
during training)::

    corpus_metric("bleu", hyps, [refs], lowercase=True, tokenize="13a")

``refs`` is a list of reference *streams*, each a list of ``len(hyps)`` strings (sacrebleu's
convention). Options are sacrebleu's constructor arguments; the two that every command passes
(``lowercase``, ``tokenize``) are dropped for the metrics that do not take them (chrF has no
tokenizer, TER has ``case_sensitive`` instead), anything else unknown is an error.

Bit-identity with sacrebleu (``stats.py``, ``core/evaluation/significance.py``) needs a few of its
private names. They are used here and nowhere else, through the functions at the end of this
module, and the sacrebleu version is checked once, the first time sacrebleu is used
(``SACREBLEU_SERIES``; pyproject.toml pins the same series):

* ``Metric._preprocess_segment``, ``CHRF._remove_punctuation`` (segment preprocessing),
* ``Metric._extract_corpus_statistics``, ``Metric._cache_references`` and
  ``Metric._ref_cache`` (TER's statistics with its reference cache),
* ``Metric._compute_score_from_stats``, ``Metric._aggregate_and_compute``,
  ``CHRF._compute_f_score`` (scores from statistics),
* ``TokenizerRegexp._re`` (the 13a tokenizer's regular expressions).
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any, Sequence

from bertune_cli.core.errors import BertuneError, ConfigError, DataError
from bertune_cli.core.metrics.protocol import MetricResult

SACREBLEU_SERIES = "2.6."  # the series the bit-identity tests run on

# name -> (sacrebleu class name, fixed constructor arguments). Lower-case keys.
SACRE_METRICS: dict[str, tuple[str, dict[str, Any]]] = {
    "bleu": ("BLEU", {}),
    "chrf": ("CHRF", {}),
    "chrf++": ("CHRF", {"word_order": 2}),
    "ter": ("TER", {}),
}
# Options a command passes to every metric; ignored by the metrics that do not take them.
SHARED_OPTIONS = {"lowercase", "tokenize"}


def canonical_name(name: str) -> str:
    key = name.strip().lower()
    if key not in SACRE_METRICS:
        raise ConfigError(
            f"unknown sacrebleu metric {name!r}", f"choose one of {', '.join(SACRE_METRICS)}"
        )
    return key


def metric_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The subset of ``options`` that the sacrebleu class of ``name`` accepts (checked)."""
    cls_name, fixed = SACRE_METRICS[canonical_name(name)]
    accepted = set(inspect.signature(_sacre_class(cls_name).__init__).parameters) - {
        "self",
        "references",
    }
    unknown = sorted(k for k in options if k not in accepted and k not in SHARED_OPTIONS)
    if unknown:
        raise ConfigError(
            f"{name}: unknown option(s) {', '.join(unknown)}",
            f"{cls_name} takes {', '.join(sorted(accepted))}",
        )
    kwargs = {k: v for k, v in options.items() if k in accepted and v is not None}
    return {**kwargs, **fixed}


def make_metric(name: str, references: Sequence[Sequence[str]] | None = None, **options):
    """A sacrebleu metric object; with ``references`` its reference cache is filled once."""
    cls_name, _ = SACRE_METRICS[canonical_name(name)]
    kwargs = metric_options(name, options)
    try:
        return _sacre_class(cls_name)(references=references, **kwargs)
    except (AssertionError, ValueError, TypeError, RuntimeError) as exc:
        raise ConfigError(
            f"{name}: invalid options {kwargs} ({exc})",
            "see `sacrebleu --help` for the values each option takes",
        ) from exc


def check_streams(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> None:
    """Raise DataError unless every reference stream has one line per hypothesis."""
    if len(hyps) == 0:
        raise DataError("no hypotheses to score (0 lines)", "pass a non-empty hypothesis file")
    if len(refs) == 0:
        raise DataError("no reference stream given", "pass at least one reference")
    for k, stream in enumerate(refs):
        if len(stream) != len(hyps):
            raise DataError(
                f"reference stream {k + 1} has {len(stream)} lines but there are "
                f"{len(hyps)} hypotheses",
                "every file needs one line per segment",
            )


def corpus_metric(name: str, hyps: list[str], refs: list[list[str]], **options) -> MetricResult:
    """Corpus BLEU / chrF / TER exactly as sacrebleu computes it, with its signature."""
    check_streams(hyps, refs)
    metric = make_metric(name, **options)
    score = metric.corpus_score(list(hyps), [list(r) for r in refs])
    return result_from_score(metric, score)


def result_from_score(metric, score) -> MetricResult:
    """Wrap a sacrebleu Score (and its metric's signature) into a JSON-safe MetricResult."""
    details: dict[str, Any] = {
        "text": score.format(),
        "signature_short": metric.get_signature().format(short=True),
    }
    if hasattr(score, "counts"):  # BLEU
        details.update(
            counts=[int(c) for c in score.counts],
            totals=[int(t) for t in score.totals],
            precisions=[float(p) for p in score.precisions],
            bp=float(score.bp),
            sys_len=int(score.sys_len),
            ref_len=int(score.ref_len),
            ratio=float(score.sys_len / score.ref_len) if score.ref_len else 0.0,
        )
    if hasattr(score, "num_edits"):  # TER
        details.update(num_edits=int(score.num_edits), ref_length=float(score.ref_length))
    if hasattr(score, "char_order"):  # chrF
        details.update(
            char_order=int(score.char_order), word_order=int(score.word_order), beta=int(score.beta)
        )
    return MetricResult(
        name=score.name,
        score=float(score.score),
        signature=metric.get_signature().format(),
        details=details,
    )


def _sacre_class(cls_name: str):
    sacrebleu_module()
    import sacrebleu.metrics as sm

    return getattr(sm, cls_name)


@lru_cache(maxsize=1)
def sacrebleu_module():
    """sacrebleu, after checking that it is the series bertune's exactness rests on."""
    import sacrebleu

    version = getattr(sacrebleu, "__version__", "?")
    if not version.startswith(SACREBLEU_SERIES):
        raise BertuneError(
            f"sacrebleu {version} is installed, but bertune's metrics are exact "
            f"for sacrebleu {SACREBLEU_SERIES}x only",
            f"pip install 'sacrebleu=={SACREBLEU_SERIES}*'",
        )
    return sacrebleu


# ---------------------------------------------------------------------- private names
# Every use of a sacrebleu private name (listed in the module docstring) is one of these.


def preprocess(metric, line: str) -> str:
    return metric._preprocess_segment(line)


def remove_punctuation(metric, line: str) -> str:
    return metric._remove_punctuation(line)


def extract_statistics(metric, hyps: list[str]) -> list[list]:
    """Statistics against the references cached by ``cache_references``."""
    return metric._extract_corpus_statistics(hyps, None)


def cache_references(metric, refs: list[list[str]]) -> None:
    metric._ref_cache = metric._cache_references(refs)


def score_from_stats(metric, stats):
    """sacrebleu's Score of one summed statistics vector."""
    return metric._compute_score_from_stats(stats)


def aggregate(metric, stats: list[list]):
    """sacrebleu's Score of per-segment statistics (summed as sacrebleu sums them)."""
    return metric._aggregate_and_compute(stats)


def f_score(metric, stats: list) -> float:
    """chrF's f-score of one statistics vector (the best reference of a segment)."""
    return metric._compute_f_score(stats)


def regexp_rules_13a() -> list:
    """The (pattern, replacement) rules of sacrebleu's 13a tokenizer."""
    sacrebleu_module()
    from sacrebleu.tokenizers.tokenizer_re import TokenizerRegexp

    return TokenizerRegexp()._re
