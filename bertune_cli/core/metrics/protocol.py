"""The metric protocol every evaluation metric implements (sacrebleu's shape; docs/design.md,
"Adding a metric").

A ``Metric`` is bound to fixed references. It reduces each hypothesis segment to a vector of
sufficient statistics (``extract``); a corpus score is a function of their column sums
(``corpus_score``, and ``scores`` for many summed rows at once), so the paired tests resample
by summing rows; it carries a ``signature`` and says whether higher is better. BLEU, chrF and
TER (``stats.SacreMetric``), F_BERT (``bertscore.FBertMetric``) and MoverScore
(``moverscore.MoverScoreMetric``) implement it; a sentence-mean metric only has to produce
per-sentence values (``MeanMetric``). ``core.evaluation`` holds the registry (name →
``create``) and the one ``evaluate`` every command calls.

Also here: ``EvalSettings`` (every option a metric's numbers depend on besides the texts),
``Segments`` (one system's statistics under one metric, with the sentence-level columns and
warnings the metric produced on the way) and ``EvalCache`` (what is reused between calls of
one process: LMs, built metrics, statistics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

# progress(done, total): how far one metric's extraction is (sentences, systems, ...)
Progress = Callable[[int, int], None]


@dataclass
class MetricResult:
    """A corpus score with its signature. ``details`` is JSON-safe (plain floats/ints/strs)."""

    name: str
    score: float
    signature: str
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "score": float(self.score),
            "signature": self.signature,
            "details": self.details,
        }


@dataclass(frozen=True)
class EvalSettings:
    """What a metric's numbers depend on besides the texts: the command's options, or a
    recipe's ``eval``/``lm`` sections (``core.evaluation.settings``). ``source`` says which
    (``options``, ``recipe <name>``, ``run <path>``)."""

    lowercase: bool = False  # BLEU / chrF (sacrebleu -lc)
    tokenize: str | None = None  # BLEU's tokenizer (None: sacrebleu's 13a)
    lm: str | None = None  # F_BERT's LM (None: the bundled MiniLM)
    layer: int | None = None  # F_BERT's layer (None: the LM's default)
    idf: bool = False
    rescale: str | None = None  # a bert_score baseline CSV
    bf16: bool = False  # F_BERT under bf16 autocast (signed "_bf16")
    ms_lm: str | None = None  # MoverScore's LM (None: the bundled MiniLM)
    ms_stop_words: str | None = None
    batch_size: int = 64
    device: str = "auto"
    source: str = "options"


@dataclass
class Segments:
    """One system's statistics under one metric: ``stats`` (N, k), sentence-level ``columns``
    beyond them (F_BERT's P/R/F, name → (N,)), and what the metric reported about the system
    (empty lines, truncation)."""

    stats: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class Metric:
    """One metric against fixed references. Subclasses implement ``extract`` (one system) or
    ``extract_systems`` (several in one pass), ``corpus_score``, ``scores`` and
    ``segment_scores``; ``result`` and ``columns`` have defaults.

    ``sacrebleu_dtypes``: resample in sacrebleu's dtypes (float32 bootstrap sums) so that
    results are bit-identical to sacrebleu's paired tests; False for bertune's own metrics.
    ``case_sensitive``: whether the score changes with the case of the text (the
    ``evaluate`` warning about lowercase output against cased references)."""

    name: str = ""
    signature: str = ""
    higher_is_better: bool = True
    sacrebleu_dtypes: bool = False
    case_sensitive: bool = False

    def extract(self, hyps: Sequence[str]) -> np.ndarray:
        """(N, k) statistics of each hypothesis segment."""
        return self.extract_systems([hyps])[0].stats

    def extract_systems(
        self, systems: Sequence[Sequence[str]], progress: Progress | None = None
    ) -> list[Segments]:
        """Statistics of several systems (a metric with an LM embeds them in one pass)."""
        out = []
        for i, hyps in enumerate(systems):
            out.append(Segments(self.extract(hyps)))
            if progress is not None:
                progress(i + 1, len(systems))
        return out

    def corpus_score(self, stats: np.ndarray) -> float:
        """The corpus score of (N, k) statistics, a Python float."""
        raise NotImplementedError

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """Scores of (S, k) summed rows (float32: bootstrap; int64/float64: randomization)."""
        raise NotImplementedError

    def segment_scores(self, stats: np.ndarray) -> np.ndarray:
        """(N,) sentence-level scores (for the paired t-test and --sentence-level)."""
        raise NotImplementedError

    def result(self, seg: Segments) -> MetricResult:
        """The corpus score with its signature (and the metric's details)."""
        return MetricResult(self.name, self.corpus_score(seg.stats), self.signature)

    def columns(self, seg: Segments) -> dict[str, np.ndarray]:
        """Sentence-level columns for ``score --sentence-level``."""
        return {self.name: self.segment_scores(seg.stats)}

    def pop_warnings(self) -> list[str]:
        """Warnings about the metric itself (not one system) since the last call."""
        return []

    def test_signature(self, test: str, n: int, seed: int | None, ar_confidence: int = -1) -> str:
        """The signature with the test, its sample count and the seed appended."""
        extra = f"{test}:{n}|seed:{str(seed).lower()}"
        if test == "ar" and ar_confidence > 0:
            extra += f"|bs:{ar_confidence}"
        return f"{self.signature}|{extra}"


class MeanMetric(Metric):
    """A sentence-mean metric (F_BERT, MoverScore). Statistics ``[value, 1]``;
    corpus = scale × mean."""

    def __init__(self, name: str, signature: str, scale: float = 100.0):
        self.name, self.signature, self.scale = name, signature, scale

    @staticmethod
    def stats_of(values) -> np.ndarray:
        """(N, 2) statistics of per-sentence values."""
        values = np.asarray(values, dtype=np.float64)
        return np.stack([values, np.ones_like(values)], 1)

    def corpus_score(self, stats: np.ndarray) -> float:
        return float(self.scale * np.mean(stats[:, 0]))

    def scores(self, rows: np.ndarray) -> np.ndarray:
        rows = rows.astype(np.float64)
        return self.scale * rows[:, 0] / rows[:, 1]

    def segment_scores(self, stats: np.ndarray) -> np.ndarray:
        return self.scale * stats[:, 0].astype(np.float64)


class EvalCache:
    """What ``evaluate`` may reuse between calls in one process: loaded LMs (by role, name and
    layer as asked), metrics bound to references, and statistics keyed by (signature,
    references, hypotheses), so scoring the same hypotheses again is not recomputed.
    ``embeddings``: F_BERT's on-disk reference-embedding cache (``score --cache``), or None.

    Statistics from the cache are those of the pass that computed them: F_BERT's float32
    forward can differ in its last bits with the batch a sentence was embedded in (~1e-7)."""

    def __init__(self, embeddings=None):
        self.embeddings = embeddings
        self._lms: dict[tuple, Any] = {}
        self.metrics: dict[tuple, Metric] = {}
        self.stats: dict[tuple[str, str, str], Segments] = {}

    def keep_lm(self, role: str, name: str, layer: int | None, lm) -> None:
        """Offer an already loaded LM for ``role`` (``fbert``, ``moverscore``)."""
        self._lms[(role, name, layer)] = lm

    def lm(self, role: str, name: str, layer: int | None, load: Callable[[], Any]):
        """The LM for (role, name, layer), loaded with ``load()`` the first time."""
        key = (role, name, layer)
        if key not in self._lms:
            self._lms[key] = load()
        return self._lms[key]
