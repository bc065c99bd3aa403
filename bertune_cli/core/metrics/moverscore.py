"""MoverScore (Zhao et al., EMNLP 2019), the paper's third metric, with the semantics of
``moverscore_v2.word_mover_score`` (PyPI ``moverscore`` 1.0.3; method.md §9).

Per sentence pair (hypothesis h, reference r), both tokenized by the LM's WordPiece tokenizer
as ``[CLS] s [SEP]`` (``s`` truncated to ``max_len − 2`` pieces):

* embeddings = the LM's **last** hidden layer (all layers kept, not the F_BERT layer);
* a token that contains ``##`` (a subword continuation), is one ASCII punctuation character
  (``string.punctuation``) or is in the optional stop-word list gets weight 0;
* the other tokens weigh ``idf(t) = log((N+1)/(df_t+1))``, computed over the N reference
  lines for references and over the N hypotheses (of that system) for hypotheses, with
  ``log(N+1)`` for unseen tokens; ``idf=False`` weighs every kept token 1 — ``[CLS]`` and
  ``[SEP]`` included, as the reference does with a constant idf dict (with idf they weigh 0
  because every line contains them);
* vectors L2-normalised (``x / (‖x‖ + 1e-30)`` in float32), distances Euclidean;
* the normalised weight mass of the reference is transported onto that of the hypothesis
  with an exact EMD (POT's network simplex, ``ot.emd2``), and the score is
  ``1 − Σ flow·distance``; several references: the best score; system score = 100 × mean.

Two deliberate differences from the reference, each tested against it
(tests/core/metrics/test_moverscore.py):

* distances in float64. The reference computes ``sqrt(‖x‖² + ‖y‖² − 2x·y)`` in float32,
  which loses up to ~4e-4 to cancellation when two token vectors nearly coincide (a copied
  word in the same context): its own scores then change by that much with its batch size.
  Elsewhere the two agree to 1e-6;
* a sentence with no weighted token (empty, only punctuation or subwords, or every token
  present in all N lines — e.g. N = 1 with idf, or a system that repeats one sentence) scores
  −1, the worst possible score (distances between unit vectors are at most 2), with a
  warning; the reference transports nothing there and returns 1.0, a perfect score for an
  empty output. (0 would not be neutral either: garbage output scores below 0.)

Speed: one fast-tokenizer call, every distinct sentence embedded once (over all systems and
references), length-sorted batches capped in tokens, ``torch.inference_mode``; the distance
matrices of a batch of pairs are one batched float64 product, and each pair's transport
problem keeps only its weighted tokens (zero-mass bins carry no flow, so the optimum is the
reference's).
"""

from __future__ import annotations

import hashlib
import math
import string
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from bertune_cli.core.errors import DataError, LMUnavailable
from bertune_cli.core.metrics.protocol import (
    EvalCache,
    EvalSettings,
    MeanMetric,
    MetricResult,
    Progress,
    Segments,
)
from bertune_cli.core.metrics.sacre import check_streams

PUNCTUATION = frozenset(string.punctuation)
PAIRS_PER_BATCH = 256  # pairs whose distance matrices are built together
EMPTY_SCORE = -1.0  # no weighted token on a side: the worst score, 1 − max distance


@dataclass
class SentenceMoverScores:
    """Per-sentence MoverScore (float64, 0–1) and the signature."""

    scores: np.ndarray
    signature: str
    warnings: list[str] = field(default_factory=list)

    def corpus(self) -> MetricResult:
        """System MoverScore: 100 × the mean of the sentence scores."""
        return MetricResult(
            name="MoverScore",
            score=100.0 * float(np.mean(self.scores)),
            signature=self.signature,
            details={"n": int(len(self.scores)), "warnings": list(self.warnings)},
        )


def moverscore_signature(
    lm_name: str, layer: int, idf: bool, stop_words: Iterable[str] = ()
) -> str:
    """Settings and versions, in the style of the F_BERT signature, e.g.
    ``minilm_L6_idf_no-stop-words_1-gram_version=bertune-0.1.0(hug_trans=5.24.0,pot=0.9.7)``."""
    import ot
    import transformers

    from bertune_cli import __version__

    words = sorted(set(stop_words))
    stop = (
        f"stop-words-{len(words)}-{hashlib.sha256(' '.join(words).encode()).hexdigest()[:8]}"
        if words
        else "no-stop-words"
    )
    return (
        f"{lm_name}_L{layer}_{'idf' if idf else 'no-idf'}_{stop}_1-gram_version=bertune-"
        f"{__version__}(hug_trans={transformers.__version__},pot={ot.__version__})"
        "_moverscore-v2"
    )


def read_stop_words(path) -> list[str]:
    """A stop-word file: words separated by whitespace (moverscore's ``stopwords.txt`` is one
    space-separated line), matched against the LM's WordPiece tokens."""
    from pathlib import Path

    path = Path(path)
    try:
        return path.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(
            f"cannot read the stop-word file {path} ({exc.__class__.__name__})",
            "pass a UTF-8 text file of words separated by spaces or newlines",
        ) from exc


def load_moverscore_lm(name: str = "minilm", device: str = "cpu"):
    """The LM with all its layers (MoverScore uses the last one), frozen, as ``LoadedLM``."""
    from transformers import AutoConfig

    from bertune_cli.core.lm.model import load_lm, load_tokenizer, resolve_lm

    load_tokenizer(name)  # raises LMUnavailable with the fetch command when missing
    try:
        layers = AutoConfig.from_pretrained(resolve_lm(name)).num_hidden_layers
    except (OSError, ValueError) as exc:
        raise LMUnavailable(
            f"cannot read the config of LM {name!r} ({exc.__class__.__name__})",
            f"download it once with `hf download {name}`, or use --ms-lm minilm",
        ) from exc
    return load_lm(name, layers, device)


def score_moverscore(
    hyps: Sequence[str], refs: Sequence[Sequence[str]], lm=None, **options
) -> SentenceMoverScores:
    """MoverScore of every hypothesis against its references (see ``score_systems``)."""
    return score_systems([hyps], refs, lm, **options)[0]


def score_systems(
    systems: Sequence[Sequence[str]],
    refs: Sequence[Sequence[str]],
    lm=None,
    *,
    lm_name: str = "minilm",
    idf: bool = True,
    stop_words: Iterable[str] = (),
    batch_size: int = 64,
    max_batch_tokens: int = 8192,
    device: str = "cpu",
    progress: Progress | None = None,
) -> list[SentenceMoverScores]:
    """MoverScore of several systems against the same references, in one pass.

    refs: reference streams (K lists of n lines); idf of the references over all K·n lines,
    of each system's hypotheses over its n lines. ``lm``: a ``LoadedLM`` with all layers
    (``load_moverscore_lm``; loaded from ``lm_name``/``device`` when None).
    ``progress(done, total)``: sentences embedded, then sentence pairs transported.
    """
    import torch

    for hyps in systems:
        check_streams(hyps, refs)
    if lm is None:
        lm = load_moverscore_lm(lm_name, device)
    stop = frozenset(stop_words)
    n, k = len(refs[0]), len(refs)
    texts = [s for r in refs for s in r] + [s for h in systems for s in h]
    index: dict[str, int] = {}
    sent = np.array([index.setdefault(t, len(index)) for t in texts], dtype=np.int64)
    ref_s, hyp_s = sent[: k * n].reshape(k, n), sent[k * n :].reshape(len(systems), n)
    ids, kept = _tokenize(lm, list(index), stop)
    ref_w = _weights(ids, kept, ref_s.ravel(), idf)
    best = np.full((len(systems), n), -np.inf)
    zero = np.zeros((len(systems), n), dtype=bool)
    total = len(ids) + len(systems) * k * n
    with torch.inference_mode():
        emb = _embed(lm, ids, batch_size, max_batch_tokens, progress, total)
        for s in range(len(systems)):
            hyp_w = _weights(ids, kept, hyp_s[s], idf)
            for r in range(k):
                score, empty = _transport(emb, ref_s[r], ref_w, hyp_s[s], hyp_w)
                best[s] = np.maximum(best[s], score)
                zero[s] |= empty
                if progress is not None:
                    progress(len(ids) + (s * k + r + 1) * n, total)
    sig = moverscore_signature(lm.name, lm.num_layers, idf, stop)
    return [SentenceMoverScores(b, sig, _warnings(z, idf, n)) for b, z in zip(best, zero)]


def _tokenize(lm, sentences: list[str], stop: frozenset) -> tuple[list[list[int]], list]:
    """``[CLS] pieces[:max_len-2] [SEP]`` ids per sentence and which positions keep a weight
    (bool arrays: no ``##`` piece, no punctuation character, no stop word)."""
    from bertune_cli.core.metrics.lm_inputs import max_input_length

    tok = lm.tokenizer
    max_len = max_input_length(lm)
    ids = (
        tok(sentences, add_special_tokens=True, truncation=True, max_length=max_len)["input_ids"]
        if sentences
        else []
    )
    keep: dict[int, bool] = {}
    kept = []
    for s in ids:
        for t in s:
            if t not in keep:
                w = tok.convert_ids_to_tokens(t)
                keep[t] = not ("##" in w or w in PUNCTUATION or w in stop)
        kept.append(np.array([keep[t] for t in s], dtype=bool))
    return ids, kept


def _weights(ids, kept, lines: np.ndarray, idf: bool) -> dict[int, np.ndarray]:
    """Weights of the sentences ``lines`` (one document per line, duplicates counted), as
    float32 like the reference's idf tensors; 0 where a token is not kept."""
    out: dict[int, np.ndarray] = {}
    if not idf:
        for s in set(lines.tolist()):
            out[s] = kept[s].astype(np.float32)
        return out
    df = Counter()
    for s in lines.tolist():
        df.update(set(ids[s]))
    m = len(lines)
    unseen = math.log(m + 1)
    table = {t: math.log((m + 1) / (c + 1)) for t, c in df.items()}
    for s in set(lines.tolist()):
        w = np.array([table.get(t, unseen) for t in ids[s]], dtype=np.float32)
        out[s] = np.where(kept[s], w, np.float32(0))
    return out


def _embed(
    lm, ids, batch_size: int, max_tokens: int, progress: Progress | None = None, total: int = 0
) -> list:
    """Last-layer hidden states of every sentence, L2-normalised in float32 as the reference
    does: ``[(T_i, D) float32]``."""
    import torch

    from bertune_cli.core.data.batching import length_groups
    from bertune_cli.core.lm.matching import padded_hidden

    device = next(lm.model.parameters()).device
    order = sorted(range(len(ids)), key=lambda s: len(ids[s]))
    out: list = [None] * len(ids)
    for start, stop in length_groups([len(ids[s]) for s in order], max_tokens, batch_size):
        batch = order[start:stop]
        h = padded_hidden(lm, [ids[s] for s in batch], device).float()  # (B, T, D)
        h = h / (torch.norm(h, dim=-1, keepdim=True) + 1e-30)
        for i, s in enumerate(batch):
            out[s] = h[i, : len(ids[s])].cpu()
        if progress is not None:
            progress(stop, total)
    return out


def _transport(emb, ref_s, ref_w, hyp_s, hyp_w) -> tuple[np.ndarray, np.ndarray]:
    """1 − EMD of every pair (ref_s[i], hyp_s[i]) and a flag for pairs with no weighted
    token on a side (scored ``EMPTY_SCORE``)."""
    import ot
    import torch
    from torch.nn.utils.rnn import pad_sequence

    n = len(ref_s)
    score, empty = np.full(n, EMPTY_SCORE), np.zeros(n, dtype=bool)
    live = []
    for i in range(n):
        a, b = ref_w[ref_s[i]], hyp_w[hyp_s[i]]
        if a.sum() > 0 and b.sum() > 0:
            live.append(i)
        else:
            empty[i] = True
    for lo in range(0, len(live), PAIRS_PER_BATCH):
        rows = live[lo : lo + PAIRS_PER_BATCH]
        r_pos = [np.flatnonzero(ref_w[ref_s[i]]) for i in rows]
        h_pos = [np.flatnonzero(hyp_w[hyp_s[i]]) for i in rows]
        x = pad_sequence([emb[ref_s[i]][p] for i, p in zip(rows, r_pos)], True).double()
        y = pad_sequence([emb[hyp_s[i]][p] for i, p in zip(rows, h_pos)], True).double()
        d2 = (
            x.pow(2).sum(-1, keepdim=True)
            + y.pow(2).sum(-1).unsqueeze(1)
            - 2 * torch.bmm(x, y.transpose(1, 2))
        )  # (B, n_r, n_h)
        dist = d2.clamp_min(1e-30).sqrt().numpy()
        for j, i in enumerate(rows):
            a = ref_w[ref_s[i]][r_pos[j]].astype(np.float64)
            b = hyp_w[hyp_s[i]][h_pos[j]].astype(np.float64)
            a, b = a / (a.sum() + 1e-30), b / (b.sum() + 1e-30)
            cost = ot.emd2(a, b, dist[j, : len(a), : len(b)])
            score[i] = 1.0 - float(cost)
    return score, empty


def _warnings(zero: np.ndarray, idf: bool, n: int) -> list[str]:
    lines = (np.flatnonzero(zero) + 1).tolist()
    if not lines:
        return []
    shown = ", ".join(map(str, lines[:5])) + (", …" if len(lines) > 5 else "")
    why = " (with idf over a single line every token has weight 0)" if idf and n == 1 else ""
    return [
        f"{len(lines)} sentence pair(s) with no weighted token on a side (line {shown}): "
        f"empty, or only punctuation, subwords or stop words, or every token is in all "
        f"lines (idf 0){why}; their MoverScore is set to -1, the worst score "
        "(moverscore_v2 would give 1)"
    ]


class MoverScoreMetric(MeanMetric):
    """MoverScore as a ``protocol.Metric``: statistics ``[score, 1]`` per segment (corpus =
    100 × mean), every system in one pass with the LM ``ms_lm`` (its last layer)."""

    def __init__(
        self,
        refs: Sequence[Sequence[str]],
        lm,
        *,
        stop_words: Iterable[str] = (),
        batch_size: int = 64,
    ):
        self.refs, self.lm, self.stop_words = [list(r) for r in refs], lm, tuple(stop_words)
        self.batch_size = batch_size
        super().__init__(
            "MoverScore", moverscore_signature(lm.name, lm.num_layers, True, self.stop_words)
        )
        self.case_sensitive = not lm.do_lower_case

    @classmethod
    def create(
        cls, refs: Sequence[Sequence[str]], settings: EvalSettings, cache=None
    ) -> "MoverScoreMetric":
        """The registry's constructor: LM ``settings.ms_lm`` (kept in ``cache``), stop words
        from ``settings.ms_stop_words``."""
        from bertune_cli.core.lm.model import resolve_device

        cache = cache if cache is not None else EvalCache()
        words = read_stop_words(settings.ms_stop_words) if settings.ms_stop_words else ()
        name = settings.ms_lm or "minilm"
        lm = cache.lm(
            "moverscore",
            name,
            None,
            lambda: load_moverscore_lm(name, resolve_device(settings.device)),
        )
        return cls(refs, lm, stop_words=words, batch_size=settings.batch_size)

    def extract_systems(self, systems, progress: Progress | None = None) -> list[Segments]:
        out = score_systems(
            systems,
            self.refs,
            self.lm,
            stop_words=self.stop_words,
            batch_size=self.batch_size,
            progress=progress,
        )
        return [
            Segments(self.stats_of(o.scores), {"MoverScore": o.scores}, list(o.warnings))
            for o in out
        ]

    def result(self, seg: Segments) -> MetricResult:
        return SentenceMoverScores(
            seg.columns["MoverScore"], self.signature, list(seg.warnings)
        ).corpus()

    def columns(self, seg: Segments) -> dict[str, np.ndarray]:
        return dict(seg.columns)
