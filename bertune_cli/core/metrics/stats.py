"""BLEU, chrF and TER as ``protocol.Metric``: per-segment sufficient statistics, and corpus
scores computed from their sums.

Statistics (sacrebleu's design; design.md, "Adding a metric"): BLEU ``[hyp_len, ref_len,
correct_1..4, total_1..4]``, chrF ``[hyp, ref, match] × orders``, TER ``[edits,
avg_ref_len]``. A corpus score is a function of the summed vectors, so resampling is indexing.

Exactness with sacrebleu 2.6:

* statistics: BLEU and chrF(++) are counted for the whole corpus at once (``ngrams.py``),
  TER through sacrebleu's own extraction (``sacre.extract_statistics``); tests check all
  three equal sacrebleu's lists;
* corpus score: sacrebleu's own aggregation (``sacre.aggregate``) on the statistics as Python
  numbers;
* scores of many summed rows (``scores``): sacrebleu's paired bootstrap sums float32 arrays
  and its approximate randomization int64 (or float64) arrays, and with numpy ≥ 2 the scalar
  arithmetic of ``compute_bleu`` / ``_compute_f_score`` then runs in *that* dtype. ``scores``
  repeats the same operations on whole columns in the same order and dtype (logs and
  exponentials through ``math``, per row, as sacrebleu does), so every resampled score is
  bit-identical; rows where sacrebleu would take a rare branch (no match at all, an empty
  order, add-k smoothing, ...) are scored by calling sacrebleu's own function.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from bertune_cli.core.metrics import ngrams, sacre
from bertune_cli.core.metrics.protocol import EvalSettings, Metric, MetricResult
from bertune_cli.core.metrics.sacre import (
    canonical_name,
    check_streams,
    make_metric,
    result_from_score,
)

F32_EXACT = 2**24  # integers below this add exactly in float32


class SacreMetric(Metric):
    """BLEU, chrF(++) or TER (``sacre.SACRE_METRICS``) with sacrebleu's options."""

    sacrebleu_dtypes = True

    def __init__(self, name: str, refs: Sequence[Sequence[str]], **options):
        self.key = canonical_name(name)
        self.refs = [list(r) for r in refs]
        check_streams(self.refs[0], self.refs)
        self.metric = make_metric(self.key, **options)
        self.metric.num_refs = len(self.refs)
        self.higher_is_better = self.key != "ter"
        m = self.metric
        self.case_sensitive = (
            bool(getattr(m, "case_sensitive", False)) if self.key == "ter" else not m.lowercase
        )
        self._prepare()
        self.name = {"bleu": "BLEU", "ter": "TER"}.get(
            self.key, f"chrF{getattr(m, 'beta', '')}" + "+" * getattr(m, "word_order", 0)
        )
        self.signature = m.get_signature().format()

    @classmethod
    def create(
        cls, name: str, refs: Sequence[Sequence[str]], settings: EvalSettings, cache=None
    ) -> "SacreMetric":
        """The registry's constructor (``core.evaluation.registry``): lowercase, tokenize."""
        return cls(name, refs, lowercase=settings.lowercase, tokenize=settings.tokenize)

    # ------------------------------------------------------------------ statistics
    def _prepare(self) -> None:
        m = self.metric
        if self.key == "bleu":
            segs = [_bleu_words(m, r) for r in self.refs]
            words, self._vocab = ngrams.word_corpus([w for r in segs for w in r])
            self._ref_lens = np.array([[len(w) for w in r] for r in segs])  # (K, N)
            self._index = ngrams.RefIndex(
                _split(words, len(segs)), len(self._vocab), m.max_ngram_order
            )
        elif self.key.startswith("chrf"):
            chars = [[self._chars(sacre.preprocess(m, s)) for s in r] for r in self.refs]
            corpus, self._cvocab = ngrams.char_corpus([c for r in chars for c in r])
            self._ref_chars = np.array([[len(c) for c in r] for r in chars])  # (K, N)
            self._cindex = ngrams.RefIndex(
                _split(corpus, len(chars)), len(self._cvocab), m.char_order
            )
            if m.word_order > 0:
                words = [
                    [sacre.remove_punctuation(m, sacre.preprocess(m, s)) for s in r]
                    for r in self.refs
                ]
                corpus, self._wvocab = ngrams.word_corpus([w for r in words for w in r])
                self._ref_words = np.array([[len(w) for w in r] for r in words])
                self._windex = ngrams.RefIndex(
                    _split(corpus, len(words)), len(self._wvocab), m.word_order
                )
        else:  # TER: sacrebleu's own extraction with its reference cache
            sacre.cache_references(m, self.refs)

    def _chars(self, line: str) -> str:
        return line if self.metric.whitespace else "".join(line.split())

    def extract(self, hyps: Sequence[str]) -> np.ndarray:
        check_streams(hyps, self.refs)
        m = self.metric
        if self.key == "bleu":
            return self._bleu_stats(_bleu_words(m, hyps))
        if self.key.startswith("chrf"):
            return self._chrf_stats([sacre.preprocess(m, h) for h in hyps])
        return np.array(sacre.extract_statistics(m, list(hyps)), dtype=np.float64)

    def _bleu_stats(self, segs: list[list[str]]) -> np.ndarray:
        corpus, _ = ngrams.word_corpus(segs, self._vocab)
        order = self.metric.max_ngram_order
        hyp_len = corpus.lengths
        diff = np.abs(self._ref_lens - hyp_len[None, :])  # (K, N)
        closest = np.where(diff == diff.min(0), self._ref_lens, np.iinfo(np.int64).max).min(0)
        correct = self._index.matches(corpus, merged=True)
        total = [np.maximum(hyp_len - n, 0) for n in range(order)]
        return np.stack([hyp_len, closest, *[c[0] for c in correct], *total], 1)

    def _chrf_stats(self, lines: list[str]) -> np.ndarray:
        m = self.metric
        corpus, _ = ngrams.char_corpus([self._chars(s) for s in lines], self._cvocab)
        per_ref = _fscore_stats(corpus, self._cindex, self._ref_chars)  # (K, N, 3·nc)
        if m.word_order > 0:
            words, _ = ngrams.word_corpus(
                [sacre.remove_punctuation(m, s) for s in lines], self._wvocab
            )
            per_ref = np.concatenate(
                [per_ref, _fscore_stats(words, self._windex, self._ref_words)], 2
            )
        if len(per_ref) == 1:
            return per_ref[0]
        best = np.empty_like(per_ref[0])  # sacrebleu: the first reference with the best f
        for i in range(per_ref.shape[1]):
            f = [sacre.f_score(m, per_ref[k, i].tolist()) for k in range(len(per_ref))]
            best[i] = per_ref[int(np.argmax(f)), i]
        return best

    # ------------------------------------------------------------------ scores
    def corpus_score(self, stats: np.ndarray) -> float:
        if stats.dtype.kind in "iu":  # sum_of_lists of Python ints = this exact integer sum
            return float(sacre.score_from_stats(self.metric, [int(v) for v in stats.sum(0)]).score)
        return float(sacre.aggregate(self.metric, stats.tolist()).score)

    def test_signature(self, test: str, n: int, seed: int | None, ar_confidence: int = -1) -> str:
        """sacrebleu's own paired-test signature (``PairedTest`` updates it the same way)."""
        sig = self.metric.get_signature()
        sig.update("seed", str(seed).lower())
        sig.update(test, n)
        if test == "ar" and ar_confidence > 0:
            sig.update("bs", ar_confidence)
        return sig.format()

    def corpus_result(self, stats: np.ndarray) -> MetricResult:
        return result_from_score(self.metric, sacre.aggregate(self.metric, stats.tolist()))

    def result(self, seg) -> MetricResult:
        return self.corpus_result(seg.stats)

    def scores(self, rows: np.ndarray) -> np.ndarray:
        fast = {"bleu": _bleu_scores, "ter": _ter_scores}.get(self.key, _chrf_scores)
        out = fast(self.metric, rows)
        if out is None:  # a rare branch somewhere: sacrebleu's own function, row by row
            out = np.array([sacre.score_from_stats(self.metric, r.copy()).score for r in rows])
        return out

    def segment_scores(self, stats: np.ndarray) -> np.ndarray:
        m = self.metric
        if self.key == "bleu":  # sentence BLEU as sacrebleu's sentence_score: effective order
            n = m.max_ngram_order
            return np.array(
                [
                    m.compute_bleu(
                        r[2 : 2 + n],
                        r[2 + n :],
                        r[0],
                        r[1],
                        m.smooth_method,
                        m.smooth_value,
                        True,
                        n,
                    ).score
                    for r in stats.tolist()
                ]
            )
        return np.array([float(sacre.score_from_stats(m, r).score) for r in stats.tolist()])


def _bleu_words(m, lines: Sequence[str]) -> list[list[str]]:
    """``BLEU._preprocess_segment(line).split()`` for every line (each distinct line once)."""
    uniq = list(dict.fromkeys(lines))
    texts = [(s.lower() if m.lowercase else s).rstrip() for s in uniq]
    if type(m.tokenizer).__name__ == "Tokenizer13a" and _rules_13a() is not None:
        words = _words_13a(texts)
    else:
        words = [m.tokenizer(t).split() for t in texts]
    table = dict(zip(uniq, words))
    return [table[s] for s in lines]


# sacrebleu's 13a tokenizer (mteval-v13a), for many lines at once. Rule 1 puts spaces around
# every character of a class that holds the space itself, so it fires at every word boundary;
# here it is one str.translate. Rules 2-4 are sacrebleu's own regexes, run once over all lines
# joined by "\n": each line is wrapped in spaces first (as sacrebleu does), so no match can
# touch a separator and every line gets exactly the matches it gets alone. Tests compare the
# output with sacrebleu's tokenizer on thousands of lines.
_13A_RULE1 = {
    c: f" {chr(c)} "
    for c in [
        *range(0x7B, 0x7F),
        *range(0x5B, 0x61),
        *range(0x20, 0x27),
        *range(0x28, 0x2C),
        *range(0x3A, 0x41),
        0x2F,
    ]
}
_13A_TEMPLATES = (r"\1 \2 ", r" \1 \2", r"\1 \2 ")
_13A_CACHE: list = []


def _rules_13a():
    """sacrebleu's rules 2-4 with equivalent replacement functions (None if they changed)."""
    if not _13A_CACHE:
        rules = sacre.regexp_rules_13a()
        ok = len(rules) == 4 and tuple(r for _, r in rules[1:]) == _13A_TEMPLATES
        fns = (
            lambda g: f"{g[1]} {g[2]} ",
            lambda g: f" {g[1]} {g[2]}",
            lambda g: f"{g[1]} {g[2]} ",
        )
        _13A_CACHE.append([(p, f) for (p, _), f in zip(rules[1:], fns)] if ok else None)
    return _13A_CACHE[0]


def _words_13a(lines: list[str]) -> list[list[str]]:
    wrapped = []
    for line in lines:
        line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
        if "&" in line:
            line = (
                line.replace("&quot;", '"')
                .replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
            )
        wrapped.append(f" {line} ")
    text = "\n".join(wrapped).translate(_13A_RULE1)
    for pattern, fn in _rules_13a():
        text = pattern.sub(fn, text)
    return [part.split() for part in text.split("\n")]


def _fast_13a(line: str) -> str:
    """One line through ``_words_13a`` (what sacrebleu's ``Tokenizer13a()(line)`` returns)."""
    return " ".join(_words_13a([line])[0])


def _split(corpus: ngrams.Corpus, k: int) -> list[ngrams.Corpus]:
    """K equal consecutive blocks of segments (one per reference stream)."""
    n = len(corpus.lengths) // k
    out = []
    for i in range(k):
        lengths = corpus.lengths[i * n : (i + 1) * n]
        lo = int(corpus.starts[i * n]) if n else 0
        out.append(
            ngrams.Corpus(
                corpus.sym[lo : lo + int(lengths.sum())],
                corpus.starts[i * n : (i + 1) * n] - lo,
                lengths,
            )
        )
    return out


def _fscore_stats(corpus: ngrams.Corpus, index: ngrams.RefIndex, ref_lens: np.ndarray):
    """chrF's ``[hyp, ref, match]`` per order, for each reference stream: (K, N, 3·orders)."""
    matches = index.matches(corpus, merged=False)  # [n][k] (N,)
    cols = []
    for n in range(1, index.max_order + 1):
        hyp_n = np.maximum(corpus.lengths - n + 1, 0)
        ref_n = np.maximum(ref_lens - n + 1, 0)  # (K, N)
        cols += [np.where(ref_n > 0, hyp_n[None, :], 0), ref_n, np.stack(matches[n - 1])]
    return np.stack(cols, 2)


# ---------------------------------------------------------------------- exact score emulation


def _dtype(rows: np.ndarray):
    return np.float32 if rows.dtype == np.float32 else np.float64


def _bleu_scores(m, rows: np.ndarray) -> np.ndarray | None:
    """``BLEU.compute_bleu`` on every row, same operations and dtype as sacrebleu."""
    if m.smooth_method == "add-k":
        return None
    dt, n_ord = _dtype(rows), m.max_ngram_order
    correct = rows[:, 2 : 2 + n_ord].astype(dt)
    total = rows[:, 2 + n_ord : 2 + 2 * n_ord].astype(dt)
    s = len(rows)
    prec = np.zeros((s, n_ord), dt)
    eff = np.full(s, n_ord)
    stopped = np.zeros(s, bool)
    smooth = np.ones(s)
    sv = m.smooth_value if m.smooth_value is not None else m.SMOOTH_DEFAULTS[m.smooth_method]
    for n in range(n_ord):
        stopped |= total[:, n] == 0
        active = ~stopped
        if m.effective_order:
            eff[active] = n + 1
        hit = active & (correct[:, n] != 0)
        miss = active & (correct[:, n] == 0)
        prec[hit, n] = dt(100.0) * correct[hit, n] / total[hit, n]
        if m.smooth_method == "exp":
            smooth[miss] *= 2
            prec[miss, n] = dt(100.0) / (smooth[miss].astype(dt) * total[miss, n])
        elif m.smooth_method == "floor":
            prec[miss, n] = dt(100.0 * sv) / total[miss, n]
    sys_len = rows[:, 0].astype(np.int64)
    ref_len = rows[:, 1].astype(np.int64)
    # bp: 1, exp(1 - r/s) (Python int division, math.exp) or 0 when the system is empty
    bp = np.ones(s)
    short = np.flatnonzero((sys_len < ref_len) & (sys_len > 0))
    bp[short] = list(
        map(math.exp, [1 - r / h for r, h in zip(ref_len[short].tolist(), sys_len[short].tolist())])
    )
    bp[(sys_len < ref_len) & (sys_len <= 0)] = 0.0
    # my_log through math.log; sum() of each row's list, as sacrebleu (same interpreter rules)
    logs = np.full(prec.shape, -9999999999.0)
    pos = prec != 0
    logs[pos] = list(map(math.log, prec[pos].tolist()))
    rows_logs = logs.tolist()
    if not pos.all():  # my_log(0) is the int -9999999999: keep the very same summands
        rows_logs = [[-9999999999 if x == -9999999999.0 else x for x in r] for r in rows_logs]
    if m.effective_order:
        rows_logs = [r[:e] for r, e in zip(rows_logs, eff.tolist())]
    mean_log = np.array(list(map(sum, rows_logs))) / eff
    out = bp * np.array(list(map(math.exp, mean_log.tolist())))
    out[~(correct != 0).any(1)] = 0.0
    return out


def _chrf_scores(m, rows: np.ndarray) -> np.ndarray | None:
    """``CHRF._compute_f_score`` on every row (the usual branch only; else None)."""
    dt = _dtype(rows)
    n_hyp, n_ref, n_match = (rows[:, i::3].astype(dt) for i in range(3))
    if m.eps_smoothing or (n_hyp <= 0).any() or (n_ref <= 0).any():
        return None
    factor = m.beta**2
    prec, rec = n_match / n_hyp, n_match / n_ref
    avg_p, avg_r = prec[:, 0].copy(), rec[:, 0].copy()
    for i in range(1, m.order):
        avg_p += prec[:, i]
        avg_r += rec[:, i]
    avg_p /= dt(m.order)
    avg_r /= dt(m.order)
    if ((avg_p + avg_r) == 0).any():
        return None
    score = dt(1 + factor) * avg_p * avg_r
    score /= (dt(factor) * avg_p) + avg_r
    return dt(100) * score


def _ter_scores(m, rows: np.ndarray) -> np.ndarray | None:
    """``TER._compute_score_from_stats`` on every row (non-empty references; else None)."""
    dt = _dtype(rows)
    edits, ref_len = rows[:, 0].astype(dt), rows[:, 1].astype(dt)
    if (ref_len <= 0).any():
        return None
    return dt(100) * (edits / ref_len)
