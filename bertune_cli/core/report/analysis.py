"""Error analysis of a fine-tuned system against the baseline on the test split.

All inputs are already computed (``results.Results``): per-segment BLEU statistics and
per-sentence F_BERT of both systems. Nothing here runs a model.

* scores by source-length bucket (source words: the raw test source split on whitespace):
  corpus BLEU of the bucket's segments (sacreBLEU on the summed statistics) and mean F_BERT;
* the sentences with the largest sentence-F_BERT gain and loss (the paper's Appendix B);
* the per-sentence F_BERT pairs (the scatter plot);
* how many outputs are identical, longer, shorter (words of the output) than the baseline's;
* the WordPieces (LM tokenizer) the fine-tune produces more / less often, counted per sentence
  as multiset differences and summed over the test set.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

BUCKET_EDGES = (5, 10, 15, 20, 30, 40)  # source words: 1-5, 6-10, ..., 41+


@dataclass
class Bucket:
    label: str
    sentences: int
    bleu: tuple[float, float]  # (baseline, system)
    fbert: tuple[float, float]


@dataclass
class Example:
    line: int  # 1-based line of the test set
    source: str
    reference: str
    baseline: str
    system: str
    fbert: tuple[float, float]  # sentence F_BERT × 100 (baseline, system)

    @property
    def delta(self) -> float:
        return self.fbert[1] - self.fbert[0]


@dataclass
class Comparison:
    name: str
    label: str
    buckets: list[Bucket]
    gains: list[Example]
    losses: list[Example]
    counts: dict[str, int]
    pieces_gained: list[tuple[str, int]]
    pieces_lost: list[tuple[str, int]]
    fbert_changes: dict[str, int]  # sentences whose F_BERT went up / down / stayed
    scatter: tuple[np.ndarray, np.ndarray] = field(repr=False)  # sentence F_BERT × 100

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("scatter")
        for key in ("gains", "losses"):
            for ex, src in zip(out[key], getattr(self, key)):
                ex["delta"] = src.delta
        return out


def length_buckets(
    src: Sequence[str], edges: Sequence[int] = BUCKET_EDGES
) -> list[tuple[str, np.ndarray]]:
    """(label, (N,) bool mask) per non-empty bucket of source length in words."""
    lens = np.array([len(s.split()) for s in src])
    bounds = [0, *edges, None]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        mask = (lens > lo) & (lens <= hi) if hi is not None else lens > lo
        if mask.any():
            out.append((f"{lo + 1}–{hi}" if hi is not None else f"{lo + 1}+", mask))
    return out


def compare(
    name: str,
    label: str,
    src: Sequence[str],
    refs: Sequence[str],
    base_hyps: Sequence[str],
    sys_hyps: Sequence[str],
    base_f: np.ndarray,
    sys_f: np.ndarray,
    bleu,
    base_bleu: np.ndarray,
    sys_bleu: np.ndarray,
    tokenize,
    top: int = 5,
    pieces: int = 15,
) -> Comparison:
    """Baseline vs system. ``base_f``/``sys_f``: (N,) sentence F_BERT (0-1); ``bleu``: the
    SacreMetric whose (N, k) segment statistics are ``base_bleu``/``sys_bleu``;
    ``tokenize``: str -> list of WordPieces (the LM tokenizer)."""
    base_f, sys_f = 100 * np.asarray(base_f, np.float64), 100 * np.asarray(sys_f, np.float64)
    buckets = [
        Bucket(
            lab,
            int(m.sum()),
            (bleu.corpus_score(base_bleu[m]), bleu.corpus_score(sys_bleu[m])),
            (float(base_f[m].mean()), float(sys_f[m].mean())),
        )
        for lab, m in length_buckets(src)
    ]
    delta = sys_f - base_f
    order = np.argsort(-delta, kind="stable")

    def example(i: int) -> Example:
        return Example(
            int(i) + 1,
            src[i],
            refs[i],
            base_hyps[i],
            sys_hyps[i],
            (float(base_f[i]), float(sys_f[i])),
        )

    gains = [example(i) for i in order[:top] if delta[i] > 0]
    losses = [example(i) for i in order[::-1][:top] if delta[i] < 0]
    return Comparison(
        name,
        label,
        buckets,
        gains,
        losses,
        output_counts(base_hyps, sys_hyps),
        *piece_changes(base_hyps, sys_hyps, tokenize, pieces),
        {
            "higher": int((delta > 0).sum()),
            "lower": int((delta < 0).sum()),
            "equal": int((delta == 0).sum()),
        },
        scatter=(base_f, sys_f),
    )


def output_counts(base: Sequence[str], system: Sequence[str]) -> dict[str, int]:
    """How many system outputs are identical to / longer / shorter than the baseline's (in
    words); ``same_length`` counts different outputs of equal length."""
    counts = Counter()
    for b, s in zip(base, system):
        nb, ns = len(b.split()), len(s.split())
        counts[
            "identical"
            if b.strip() == s.strip()
            else "longer"
            if ns > nb
            else "shorter"
            if ns < nb
            else "same_length"
        ] += 1
    return {k: int(counts[k]) for k in ("identical", "longer", "shorter", "same_length")}


def piece_changes(
    base: Sequence[str], system: Sequence[str], tokenize, top: int = 15
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """The ``top`` WordPieces gained and lost: per sentence Counter(sys) − Counter(base) and
    the reverse, summed over sentences; ties by piece, so the order is deterministic."""
    gained, lost = Counter(), Counter()
    for b, s in zip(base, system):
        if b == s:
            continue
        cb, cs = Counter(tokenize(b)), Counter(tokenize(s))
        gained.update(cs - cb)
        lost.update(cb - cs)

    def ranked(c: Counter) -> list[tuple[str, int]]:
        return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:top]

    return ranked(gained), ranked(lost)
