"""Paired significance tests on sufficient statistics, reproducing sacrebleu 2.6 exactly.

The first system is the baseline; every other system is compared with it (method.md §7).

* **Paired bootstrap** (``bs``, 1000 samples): ``rng = default_rng(seed)``, one index matrix
  ``rng.choice(N, size=(n, N))`` shared by the baseline and every system. δ = |sys − base| on
  the full set; the resampled differences |sys_k − base_k|, centred by their mean, give
  p = (#{centred ≥ δ} + 1)/(n + 1): resamples at least as extreme as the observed difference
  count. sacrebleu 2.6 counts only larger ones (``> δ``), so two identical systems (every
  centred difference 0, δ = 0) get p = 1/(n + 1) = 0.001 there, "significant", and p = 1
  here; with no ties both counts agree. mean and 95% CI from the sorted resampled scores:
  ci = (s[n − n//40 − 1] − s[n//40]) / 2.
* **Approximate randomization** (``ar``, 10000 trials): swap mask
  ``rng.integers(2, size=(n, N), dtype=bool)``; p = (#{|A_k − B_k| ≥ δ} + 1)/(n + 1), the
  shuffles *at least as extreme* as the observed difference, as a permutation test counts
  them. When at most ``EXACT_MAX_LINES`` (20) segments differ between the two systems (in a
  metric's statistics), every one of the 2ⁿ swaps of those segments is enumerated instead and
  p is exact: #{|A − B| ≥ δ} / 2ⁿ (swapping identical segments changes nothing). With few
  differing segments most shuffles give exactly δ, so sacrebleu 2.6's strict count
  (#{… > δ}) makes p far too small: three differing lines of 500 give p = 0.0001 there, the
  exact p is 0.5 (docs/reference/significance.md). ``strict_count=True`` is sacrebleu 2.6's
  count in both tests, bit for bit (strict, no enumeration). With ``ar_confidence > 0`` a
  bootstrap CI as sacrebleu computes it (off by default, as there).

Resampled sums are one matrix product (bootstrap: counts of each segment per sample;
randomization: mask · (base − sys)), exact because the statistics are integers; scores of
the summed rows use ``Metric.scores`` (bit-identical to sacrebleu's per-row arithmetic).
The seed defaults to ``$SACREBLEU_SEED`` or 12345 (``none``: unseeded). Unlike sacrebleu,
seed 0 is a seed (sacrebleu turns it into "unseeded"), and all numbers are plain floats, so
JSON output works with numpy ≥ 2.

Optional paired t-test on sentence-level scores (``Metric.segment_scores``), two-sided.
``holm`` adjusts a family of p-values (several metrics or systems) with Holm's step-down
method.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from bertune_cli.core.errors import DataError, UsageError
from bertune_cli.core.evaluation.pvalues import paired_t_test
from bertune_cli.core.metrics.protocol import Metric
from bertune_cli.core.metrics.stats import F32_EXACT

DEFAULT_SAMPLES = {"bs": 1000, "ar": 10000}
EXACT_MAX_LINES = 20  # AR: enumerate all 2^n swaps when at most this many lines differ
PATTERNS_PER_CHUNK = 1 << 15  # swap patterns scored together (bounded memory)


def default_seed() -> int | None:
    """``$SACREBLEU_SEED`` (``none`` → unseeded) or 12345, as sacrebleu."""
    raw = os.environ.get("SACREBLEU_SEED", "12345")
    if raw.lower() == "none":
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise UsageError(
            f"SACREBLEU_SEED={raw!r} is not an integer",
            "set it to an integer or 'none', or pass --seed",
        ) from exc


@dataclass
class MetricTest:
    """One metric of one system. ``p_value``/``t_p_value`` are None for the baseline;
    ``trials``: the resamples or shuffles behind ``p_value`` (2ⁿ when ``exact``)."""

    score: float
    mean: float | None = None
    ci: float | None = None
    p_value: float | None = None
    t_p_value: float | None = None
    trials: int | None = None
    exact: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = {
            k: (None if getattr(self, k) is None else float(getattr(self, k)))
            for k in ("score", "mean", "ci", "p_value", "t_p_value")
        }
        return {**out, "trials": self.trials, "exact": self.exact}


@dataclass
class SignificanceReport:
    test: str
    n_samples: int
    seed: int | None
    names: list[str]
    metrics: list[str]
    signatures: dict[str, str]
    results: list[dict[str, MetricTest]] = field(default_factory=list)  # per system
    warnings: list[str] = field(default_factory=list)  # the metrics' (empty lines, cache, ...)
    strict_count: bool = False
    labels: list[str] = field(default_factory=list)  # short names for tables (file stems)
    settings: dict | None = None  # case/tokenizer and where from

    def to_dict(self, alpha: float | None = None) -> dict[str, Any]:
        systems = []
        for i, (name, res) in enumerate(zip(self.names, self.results)):
            row = {
                "name": name,
                "baseline": i == 0,
                "metrics": {m: res[m].to_dict() for m in self.metrics},
            }
            if self.labels:
                row["label"] = self.labels[i]
            if alpha is not None and i:
                row["significant"] = {
                    m: bool(res[m].p_value is not None and res[m].p_value < alpha)
                    for m in self.metrics
                }
            systems.append(row)
        return {
            "test": self.test,
            "n_samples": int(self.n_samples),
            "seed": None if self.seed is None else int(self.seed),
            "strict_count": self.strict_count,
            "alpha": alpha,
            "signatures": dict(self.signatures),
            "systems": systems,
            "warnings": list(self.warnings),
            **({"settings": self.settings} if self.settings is not None else {}),
        }


def paired_test(
    metrics: Sequence[Metric],
    stats: Sequence[Sequence[np.ndarray]],
    names: Sequence[str],
    test: str = "bs",
    n_samples: int = 0,
    seed: int | None = 12345,
    ar_confidence: int = -1,
    paired_t: bool = False,
    strict_count: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> SignificanceReport:
    """Compare every system with the first. stats[s][m]: (N, k_m) statistics of system s.
    ``strict_count``: both tests exactly as sacrebleu 2.6 (only strictly more extreme resamples
    or shuffles count; no enumeration). ``progress(done, total)``: metrics tested so far."""
    n_seg = _check(stats, test)
    n = n_samples if n_samples > 0 else DEFAULT_SAMPLES[test]
    strict = strict_count
    sigs = {
        m.name: m.test_signature(test, n, seed, ar_confidence)
        + ("" if strict else "|count:ge" + (f"|exact:{EXACT_MAX_LINES}" if test == "ar" else ""))
        for m in metrics
    }
    report = SignificanceReport(
        test, n, seed, list(names), [m.name for m in metrics], sigs, strict_count=strict
    )
    stats = [[np.asarray(a) for a in per_sys] for per_sys in stats]
    columns = []
    if test == "bs":  # one index matrix for every metric and system (same seed: same draws)
        idxs = np.random.default_rng(seed).choice(n_seg, size=(n, n_seg), replace=True)
        sums = _products(_counts(idxs, n_seg), stats)  # [s][j] (n, k_j)
        for j, m in enumerate(metrics):
            columns.append(
                _bootstrap(m, [st[j] for st in stats], [sm[j] for sm in sums], idxs, strict)
            )
            if progress is not None:
                progress(j + 1, len(metrics))
    else:
        rng = np.random.default_rng(seed)
        pos = rng.integers(2, size=(n, n_seg), dtype=bool)
        bs_idxs = (
            rng.choice(n_seg, size=(ar_confidence, n_seg), replace=True)
            if ar_confidence > 0
            else None
        )
        moved = _products(
            pos, [[a.astype(np.float64) - b for a, b in zip(stats[0], st)] for st in stats[1:]]
        )  # [s-1][j] pos·(base−sys)
        for j, m in enumerate(metrics):
            columns.append(
                _randomization(
                    m, [st[j] for st in stats], [mv[j] for mv in moved], pos, seed, bs_idxs, strict
                )
            )
            if progress is not None:
                progress(j + 1, len(metrics))
    for s in range(len(stats)):
        report.results.append({m.name: columns[j][s] for j, m in enumerate(metrics)})
    if paired_t:
        for j, m in enumerate(metrics):
            base = m.segment_scores(stats[0][j])
            for s in range(1, len(stats)):
                report.results[s][m.name].t_p_value = paired_t_test(
                    m.segment_scores(stats[s][j]), base
                )
    return report


def _check(stats: Sequence[Sequence[np.ndarray]], test: str) -> int:
    """The common segment count; UsageError/DataError for a test that cannot run."""
    if test not in DEFAULT_SAMPLES:
        raise UsageError(
            f"unknown test {test!r}", "use bs (paired bootstrap) or ar (approximate randomization)"
        )
    if len(stats) < 2:
        raise UsageError(
            f"a paired test needs a baseline and at least one system (got {len(stats)})",
            "pass BASE and one or more SYS files",
        )
    n_seg = {a.shape[0] for per_sys in stats for a in per_sys}
    if len(n_seg) != 1 or 0 in n_seg:
        raise DataError(
            f"systems have different or zero segment counts: {sorted(n_seg)}",
            "every system must have one line per reference line",
        )
    return n_seg.pop()


def estimate_ci(scores: np.ndarray) -> tuple[float, float]:
    """sacrebleu's ``estimate_ci``: (mean of the sorted scores, 95% CI half-width)."""
    scores = np.sort(scores)
    lo = len(scores) // 40
    return float(scores.mean()), float(0.5 * (scores[len(scores) - lo - 1] - scores[lo]))


def _p_value(stats: np.ndarray, real_difference: float, strict: bool = True) -> float:
    """(#{stats > real_difference} + 1)/(n + 1) — sacrebleu's count — or, not ``strict``,
    ``≥``: the resamples at least as extreme as the observed difference."""
    hits = stats > real_difference if strict else stats >= real_difference
    return (np.sum(hits).item() + 1) / (len(stats) + 1)


def _bootstrap(
    metric: Metric,
    stats: list[np.ndarray],
    sums: list[np.ndarray],
    idxs: np.ndarray,
    strict: bool = False,
) -> list[MetricTest]:
    scores = [metric.scores(_bootstrap_rows(metric, sm, st, idxs)) for sm, st in zip(sums, stats)]
    full = [metric.corpus_score(st) for st in stats]
    out = []
    for s, (sc, score) in enumerate(zip(scores, full)):
        mean, ci = estimate_ci(sc)
        if s == 0:
            out.append(MetricTest(score, mean, ci))
            continue
        diffs = np.abs(sc - scores[0])
        p = _p_value(diffs - diffs.mean(), abs(full[0] - score), strict)
        out.append(MetricTest(score, mean, ci, p, trials=len(sc)))
    return out


def _randomization(
    metric: Metric,
    stats: list[np.ndarray],
    moved: list[np.ndarray],
    pos: np.ndarray,
    seed,
    bs_idxs: np.ndarray | None,
    strict: bool,
) -> list[MetricTest]:
    full = [metric.corpus_score(st) for st in stats]
    out = [MetricTest(full[0])]
    if bs_idxs is not None:  # sacrebleu: the baseline's CI from a fresh rng, the systems'
        n_seg = len(stats[0])  # from the draws that follow the swap mask
        base_idxs = np.random.default_rng(seed).choice(n_seg, size=bs_idxs.shape, replace=True)
        out[0].mean, out[0].ci = estimate_ci(
            metric.scores(
                _bootstrap_rows(
                    metric,
                    _products(_counts(base_idxs, n_seg), [[stats[0]]])[0][0],
                    stats[0],
                    base_idxs,
                )
            )
        )
        bs_sums = _products(_counts(bs_idxs, n_seg), [[st] for st in stats[1:]])
    for i, (st, mv, score) in enumerate(zip(stats[1:], moved, full[1:])):
        if strict:  # sacrebleu 2.6: shuffles strictly more extreme than the real difference
            shuf_a, shuf_b = _swapped_rows(metric, pos, mv, stats[0], st)
            p = _p_value(
                np.abs(metric.scores(shuf_a) - metric.scores(shuf_b)), abs(full[0] - score)
            )
            res = MetricTest(score, p_value=p, trials=len(pos))
        else:
            res = _at_least_as_extreme(metric, pos, mv, stats[0], st, score)
        if bs_idxs is not None:
            res.mean, res.ci = estimate_ci(
                metric.scores(_bootstrap_rows(metric, bs_sums[i][0], st, bs_idxs))
            )
        out.append(res)
    return out


def _at_least_as_extreme(
    metric: Metric,
    pos: np.ndarray,
    moved: np.ndarray,
    base: np.ndarray,
    sys: np.ndarray,
    score: float,
) -> MetricTest:
    """The permutation p-value: shuffles with |A − B| ≥ the observed |difference|, exact over
    all 2ⁿ swaps when n ≤ EXACT_MAX_LINES segments differ, else over the sampled ``pos``."""
    differ = np.flatnonzero((np.asarray(base) != np.asarray(sys)).any(1))
    none = np.zeros((1, len(base)), bool)
    real = _abs_diff(metric, *_swapped_rows(metric, none, np.zeros((1, base.shape[1])), base, sys))[
        0
    ]  # as the shuffles compute it
    floor = real - 1e-9 * max(1.0, real)  # a shuffle equal to it up to rounding counts
    if len(differ) <= EXACT_MAX_LINES:
        return MetricTest(
            score,
            p_value=_exact_p(metric, base, sys, differ, floor),
            trials=2 ** len(differ),
            exact=True,
        )
    count = int(np.sum(_abs_diff(metric, *_swapped_rows(metric, pos, moved, base, sys)) >= floor))
    return MetricTest(score, p_value=(count + 1) / (len(pos) + 1), trials=len(pos))


def _exact_p(
    metric: Metric, base: np.ndarray, sys: np.ndarray, differ: np.ndarray, floor: float
) -> float:
    """#{swaps of the ``differ`` segments with |A − B| ≥ floor} / 2ⁿ. The first differing
    segment stays unswapped: a swap pattern and its complement give the same |A − B|."""
    if len(differ) == 0:
        return 1.0
    delta = np.asarray(base, np.float64)[differ] - np.asarray(sys, np.float64)[differ]
    free = len(differ) - 1
    count = 0
    for lo in range(0, 2**free, PATTERNS_PER_CHUNK):
        codes = np.arange(lo, min(lo + PATTERNS_PER_CHUNK, 2**free))
        bits = (codes[:, None] >> np.arange(free)) & 1  # (c, n − 1)
        swap = np.concatenate([np.zeros((len(codes), 1)), bits], 1)  # (c, n)
        count += int(np.sum(_abs_diff(metric, *_rows(metric, swap @ delta, base, sys)) >= floor))
    return count / 2**free


def _abs_diff(metric: Metric, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(metric.scores(a) - metric.scores(b))


def _counts(idxs: np.ndarray, n_seg: int) -> np.ndarray:
    """(n, N) float64: how often each segment is drawn in each bootstrap sample."""
    flat = (idxs + (np.arange(len(idxs)) * n_seg)[:, None]).ravel()
    return (
        np.bincount(flat, minlength=len(idxs) * n_seg).reshape(len(idxs), n_seg).astype(np.float64)
    )


def _products(left: np.ndarray, blocks: list[list[np.ndarray]], chunk: int = 2000):
    """``left @ block`` for every block, as one float64 matrix product per ``chunk`` rows of
    ``left`` (one BLAS call instead of one per system and metric; bounded memory)."""
    flat = [np.asarray(b, np.float64) for row in blocks for b in row]
    if not flat:
        return [[] for _ in blocks]
    big = np.concatenate(flat, 1)
    out = np.concatenate(
        [
            np.asarray(left[i : i + chunk], dtype=np.float64) @ big
            for i in range(0, len(left), chunk)
        ]
    )
    parts = np.split(out, np.cumsum([b.shape[1] for b in flat])[:-1], axis=1)
    it = iter(parts)
    return [[next(it) for _ in row] for row in blocks]


def _integral(stats: np.ndarray) -> bool:
    return bool(np.all(stats >= 0) and np.all(stats == np.round(stats)))


def _bootstrap_rows(
    metric: Metric, sums: np.ndarray, stats: np.ndarray, idxs: np.ndarray
) -> np.ndarray:
    """Bootstrap sums in sacrebleu's dtype: float32 (exact when the statistics are integers
    whose sums stay below 2**24; otherwise sacrebleu's own float32 reduction is repeated)."""
    if not metric.sacrebleu_dtypes:
        return sums
    if _integral(stats) and sums.max(initial=0) < F32_EXACT:
        return sums.astype(np.float32)
    stats32 = np.asarray(stats, dtype=np.float32)
    return np.stack([s.sum(0) for s in stats32[idxs]])


def _swapped_rows(
    metric: Metric, pos: np.ndarray, moved: np.ndarray, base: np.ndarray, sys: np.ndarray
):
    """Randomization sums A = pos·base + (1−pos)·sys and B = (1−pos)·base + pos·sys, in the
    dtype sacrebleu gets (int64 for integer statistics); ``moved`` = pos·(base − sys)."""
    base64, sys64 = np.asarray(base, np.float64), np.asarray(sys, np.float64)
    if metric.sacrebleu_dtypes and not (_integral(base64) and _integral(sys64)):
        base_l, sys_l = np.array(base.tolist()), np.array(sys.tolist())  # sacrebleu's expression
        return pos @ base_l + ~pos @ sys_l, ~pos @ base_l + pos @ sys_l
    return _rows(metric, moved, base, sys)


def _rows(metric: Metric, moved: np.ndarray, base: np.ndarray, sys: np.ndarray):
    """A = Σ sys + moved and B = Σ base − moved (``moved``: the swapped segments' base − sys),
    for integer statistics as exact integers in sacrebleu's dtype."""
    base64, sys64 = np.asarray(base, np.float64), np.asarray(sys, np.float64)
    a, b = moved + sys64.sum(0), base64.sum(0) - moved
    if metric.sacrebleu_dtypes and _integral(base64) and _integral(sys64):
        return np.rint(a).astype(sys.dtype), np.rint(b).astype(sys.dtype)
    return a, b


def seed_paired_bootstrap(
    metric: Metric,
    arm: Sequence[np.ndarray],
    control: Sequence[np.ndarray],
    n_samples: int = 1000,
    seed: int | None = 12345,
    strict_count: bool = False,
) -> tuple[float, float]:
    """(Δ, p) of an arm against a control over several training seeds: Δ = mean over seeds of
    the arm's corpus score − the control's; p from one bootstrap index matrix shared by every
    run (sacrebleu's draws for ``seed``), each resample's Δ_k averaged over seeds, and the
    paired bootstrap's count p = (#{centred |Δ_k| ≥ |Δ|} + 1)/(n + 1) (``strict_count``:
    sacrebleu's ``>``). ``arm``/``control``: per seed, (N, k) statistics of the same N segments.
    One seed each: ``paired_test``'s p."""
    blocks = [[np.asarray(st)] for st in (*control, *arm)]
    n_seg = blocks[0][0].shape[0]
    idxs = np.random.default_rng(seed).choice(n_seg, size=(n_samples, n_seg), replace=True)
    sums = _products(_counts(idxs, n_seg), blocks)
    resampled = [
        metric.scores(_bootstrap_rows(metric, sm[0], st[0], idxs)) for sm, st in zip(sums, blocks)
    ]
    diffs = np.abs(
        np.mean(resampled[len(control) :], axis=0) - np.mean(resampled[: len(control)], axis=0)
    )
    delta = float(np.mean([metric.corpus_score(st) for st in arm])) - float(
        np.mean([metric.corpus_score(st) for st in control])
    )
    return delta, _p_value(diffs - diffs.mean(), abs(delta), strict_count)


# ---------------------------------------------------------------------- paired t-test


# ---------------------------------------------------------------------- multiple testing
