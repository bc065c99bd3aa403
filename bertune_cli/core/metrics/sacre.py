"""BLEU, chrF and TER through the sacrebleu library, each score with its sacrebleu signature.

``corpus_metric`` is the one entry point (also used for validation BLEU during training)::

    corpus_metric("bleu", hyps, [refs], lowercase=True, tokenize="13a")

``refs`` is a list of reference *streams*, each a list of ``len(hyps)`` strings (sacrebleu's
convention). Options are sacrebleu's constructor arguments; the two that every command passes
(``lowercase``, ``tokenize``) are dropped for the metrics that do not take them (chrF has no
tokenizer, TER has ``case_sensitive`` instead), anything else unknown is an error.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Sequence

from bertune_cli.core.errors import ConfigError, DataError

# name -> (sacrebleu class name, fixed constructor arguments). Lower-case keys.
SACRE_METRICS: dict[str, tuple[str, dict[str, Any]]] = {
    "bleu": ("BLEU", {}),
    "chrf": ("CHRF", {}),
    "chrf++": ("CHRF", {"word_order": 2}),
    "ter": ("TER", {}),
}
# Options a command passes to every metric; ignored by the metrics that do not take them.
SHARED_OPTIONS = {"lowercase", "tokenize"}


@dataclass
class MetricResult:
    """A corpus score with its signature. ``details`` is JSON-safe (plain floats/ints/strs)."""

    name: str
    score: float
    signature: str
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "score": float(self.score), "signature": self.signature,
                "details": self.details}


def canonical_name(name: str) -> str:
    key = name.strip().lower()
    if key not in SACRE_METRICS:
        raise ConfigError(f"unknown sacrebleu metric {name!r}",
                          f"choose one of {', '.join(SACRE_METRICS)}")
    return key


def metric_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The subset of ``options`` that the sacrebleu class of ``name`` accepts (checked)."""
    cls_name, fixed = SACRE_METRICS[canonical_name(name)]
    accepted = set(inspect.signature(_sacre_class(cls_name).__init__).parameters) - {
        "self", "references"}
    unknown = sorted(k for k in options if k not in accepted and k not in SHARED_OPTIONS)
    if unknown:
        raise ConfigError(f"{name}: unknown option(s) {', '.join(unknown)}",
                          f"{cls_name} takes {', '.join(sorted(accepted))}")
    kwargs = {k: v for k, v in options.items() if k in accepted and v is not None}
    return {**kwargs, **fixed}


def make_metric(name: str, references: Sequence[Sequence[str]] | None = None, **options):
    """A sacrebleu metric object; with ``references`` its reference cache is filled once."""
    cls_name, _ = SACRE_METRICS[canonical_name(name)]
    kwargs = metric_options(name, options)
    try:
        return _sacre_class(cls_name)(references=references, **kwargs)
    except (AssertionError, ValueError, TypeError, RuntimeError) as exc:
        raise ConfigError(f"{name}: invalid options {kwargs} ({exc})",
                          "see `sacrebleu --help` for the values each option takes") from exc


def check_streams(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> None:
    """Raise DataError unless every reference stream has one line per hypothesis."""
    if len(hyps) == 0:
        raise DataError("no hypotheses to score (0 lines)", "pass a non-empty hypothesis file")
    if len(refs) == 0:
        raise DataError("no reference stream given", "pass at least one reference")
    for k, stream in enumerate(refs):
        if len(stream) != len(hyps):
            raise DataError(f"reference stream {k + 1} has {len(stream)} lines but there are "
                            f"{len(hyps)} hypotheses", "every file needs one line per segment")


def corpus_metric(name: str, hyps: list[str], refs: list[list[str]], **options) -> MetricResult:
    """Corpus BLEU / chrF / TER exactly as sacrebleu computes it, with its signature."""
    check_streams(hyps, refs)
    metric = make_metric(name, **options)
    score = metric.corpus_score(list(hyps), [list(r) for r in refs])
    return result_from_score(metric, score)


def result_from_score(metric, score) -> MetricResult:
    """Wrap a sacrebleu Score (and its metric's signature) into a JSON-safe MetricResult."""
    details: dict[str, Any] = {"text": score.format(), "signature_short":
                               metric.get_signature().format(short=True)}
    if hasattr(score, "counts"):  # BLEU
        details.update(counts=[int(c) for c in score.counts],
                       totals=[int(t) for t in score.totals],
                       precisions=[float(p) for p in score.precisions], bp=float(score.bp),
                       sys_len=int(score.sys_len), ref_len=int(score.ref_len),
                       ratio=float(score.sys_len / score.ref_len) if score.ref_len else 0.0)
    if hasattr(score, "num_edits"):  # TER
        details.update(num_edits=int(score.num_edits), ref_length=float(score.ref_length))
    if hasattr(score, "char_order"):  # chrF
        details.update(char_order=int(score.char_order), word_order=int(score.word_order),
                       beta=int(score.beta))
    return MetricResult(name=score.name, score=float(score.score),
                        signature=metric.get_signature().format(), details=details)


def _sacre_class(cls_name: str):
    import sacrebleu.metrics as sm

    return getattr(sm, cls_name)
