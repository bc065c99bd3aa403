"""F_BERT over texts: BERTScore P/R/F equal to ``bert_score.score`` (0.3.13) for the same LM,
layer and idf setting, computed with the greedy matching the fine-tuning loss uses
(``core.matching.greedy_match``), without gradients.

bert_score semantics kept (method.md §6): a sentence is ``sent.strip()`` tokenized with
``[CLS] … [SEP]`` and truncated to the tokenizer's ``model_max_length``; [CLS]/[SEP] take part
in the max with weight 0; idf (``idf=True``) comes from the references alone,
``idf(t) = log((M+1)/(c_t+1))`` over the M reference lines (all streams) with c_t the number of
them containing t, ``log(M+1)`` for unseen tokens; several references → the max of P, of R
and of F separately; an empty candidate or reference → 0 with a warning; ``rescale`` reads
bert_score's baseline CSV (``LAYER,P,R,F``; row ``layer``) and maps x → (x − b)/(1 − b).

What is faster than bert_score (same numbers): one fast-tokenizer call for all sentences,
deduplication, batches sorted by token length and capped in tokens (little padding),
``torch.inference_mode``, SDPA attention, and chunks of pairs so memory stays bounded on
large sets. float32 on every device: the same numbers on CPU and GPU; bf16 autocast only when
asked (``bf16=True``, ``score --bf16``), and then named in the signature (``_bf16``).
On CPU the LM forward is ~97 % of the time (benchmarks/bench_score.py prints the breakdown),
so the rest only has to stay out of its way. References and hypotheses are embedded in two
separate passes, so a reference-embedding cache hit (``cache``, ``core.metrics.cache``)
leaves the hypothesis batches, and hence every score, bit-identical to a cold call.

A sentence longer than the LM's maximum length is truncated to it (bert_score truncates the
same way, to ``model_max_length``); the result then carries a warning with the count.

Scores are returned per sentence in bert_score's units (0–1); the corpus F_BERT reported by
``bertune score`` is 100 × the mean of F, like the paper's tables. ``FBertMetric`` is F_BERT
as a ``protocol.Metric`` (statistics ``[F, 1]`` per segment), what ``core.evaluation`` uses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Sequence

import numpy as np

from bertune_cli.core.metrics.lm_inputs import (
    _read_baseline,
    _tokenize,
    _truncation_warnings,
    _weights,
)
from bertune_cli.core.metrics.protocol import (
    EvalCache,
    EvalSettings,
    MeanMetric,
    MetricResult,
    Progress,
    Segments,
)
from bertune_cli.core.metrics.sacre import check_streams

CHUNK_PAIRS = 2048  # pairs embedded together (bounds memory on large test sets)
# Padding a batch may add before a new batch is cheaper: one more forward call costs about
# as much as ~25-30 tokens on CPU (MiniLM, measured by benchmarks/bench_score.py's setup).
PAD_SLACK = 32


@dataclass
class SentenceBertScores:
    """Per-sentence P, R, F (float64 arrays of the float32 values, 0–1) and the signature."""

    P: np.ndarray
    R: np.ndarray
    F: np.ndarray
    signature: str
    warnings: list[str] = field(default_factory=list)

    def corpus(self) -> MetricResult:
        """Corpus F_BERT: 100 × mean F (P and R likewise in ``details``)."""
        mean = {k: 100.0 * float(np.mean(getattr(self, k))) for k in ("P", "R", "F")}
        return MetricResult(
            name="F_BERT",
            score=mean["F"],
            signature=self.signature,
            details={
                "P": mean["P"],
                "R": mean["R"],
                "F": mean["F"],
                "n": int(len(self.F)),
                "warnings": list(self.warnings),
            },
        )


def bertscore_signature(
    lm_name: str, layer: int, idf: bool, rescale: str | None = None, bf16: bool = False
) -> str:
    """bert_score's settings hash, bertune flavour, e.g.
    ``minilm_L5_no-idf_version=bertune-0.1.0(hug_trans=5.23.0)_fast-tokenizer``."""
    import transformers

    from bertune_cli import __version__

    sig = (
        f"{lm_name}_L{layer}_{'idf' if idf else 'no-idf'}_version=bertune-{__version__}"
        f"(hug_trans={transformers.__version__})"
    )
    if rescale:
        sig += f"-custom-rescaled[{rescale}]"
    sig += "_fast-tokenizer"
    if bf16:
        sig += "_bf16"
    return sig


def score_bertscore(
    hyps: Sequence[str], refs: Sequence[Sequence[str]], lm=None, **options
) -> SentenceBertScores:
    """BERTScore of every hypothesis against its references (see ``score_systems``)."""
    return score_systems([hyps], refs, lm, **options)[0]


def score_systems(
    systems: Sequence[Sequence[str]],
    refs: Sequence[Sequence[str]],
    lm=None,
    *,
    lm_name: str = "minilm",
    layer: int | None = None,
    idf: bool = False,
    rescale: str | Path | None = None,
    batch_size: int = 64,
    max_batch_tokens: int = 8192,
    device: str = "cpu",
    bf16: bool = False,
    cache=None,
    stats: dict | None = None,
    progress: Progress | None = None,
) -> list[SentenceBertScores]:
    """BERTScore of several systems' hypotheses against the same references, in one pass.

    Every distinct sentence (over all systems and references) is embedded once, so the
    references cost nothing after the first system and lines that systems share are free.
    refs: reference streams, each one line per segment. ``lm``: a ``LoadedLM`` (loaded from
    ``lm_name``/``layer``/``device`` when None). ``bf16``: bf16 autocast for the LM forward
    (off by default on every device; signed ``_bf16``). ``cache``: an ``EmbeddingCache`` for
    the reference embeddings (reused across calls). ``progress(done, total)``: sentences
    embedded so far.
    ``stats``: a dict filled with where the time went (wall seconds: tokenize, embed =
    batching + forward, forward, match; the same with ``_cpu``: process CPU seconds; counts:
    sentences, tokens, padded_tokens, cached_sentences).
    """
    import torch

    from bertune_cli.core.lm.model import load_lm

    for hyps in systems:
        check_streams(hyps, refs)
    if lm is None:
        lm = load_lm(lm_name, layer, device)
    bf16 = bool(bf16)
    baseline, rescale_tag = _read_baseline(rescale, lm.layer) if rescale else (None, None)
    n, k, streams = len(refs[0]), len(refs), [list(r) for r in refs]

    stats = {} if stats is None else stats
    stats.update(
        {
            phase + c: 0.0
            for phase in ("tokenize", "embed", "forward", "match")
            for c in ("", "_cpu")
        },
        tokens=0,
        padded_tokens=0,
        cached_sentences=0,
    )
    clock = _tick()
    texts = [s.strip() for r in streams for s in r] + [s.strip() for h in systems for s in h]
    index: dict[str, int] = {}
    sent = np.array([index.setdefault(t, len(index)) for t in texts])  # (n·(K+S),)
    ref_s, hyp_s = sent[: k * n].reshape(k, n), sent[k * n :].reshape(len(systems), n)
    sentences = list(index)
    ids, max_len, truncated = _tokenize(lm, sentences)
    weights = _weights(lm, ids, ref_s.ravel() if idf else None)
    stats["sentences"] = len(sentences)
    _tock(stats, "tokenize", clock)
    done = [0]

    def advance(count: int) -> None:
        done[0] += count
        if progress is not None:
            progress(min(done[0], len(sentences)), len(sentences))

    best = np.full((len(systems), 3, n), -np.inf)
    embed = partial(
        _embed,
        lm,
        ids,
        batch_size=batch_size,
        max_tokens=max_batch_tokens,
        bf16=bf16,
        stats=stats,
        advance=advance,
    )  # embed(which) -> {sentence: (T, D)}
    with torch.inference_mode():
        for lo in range(0, n, CHUNK_PAIRS):
            rows = slice(lo, min(lo + CHUNK_PAIRS, n))
            ref_need = np.unique(ref_s[:, rows])
            hyp_need = np.setdiff1d(hyp_s[:, rows], ref_need)
            emb = _cached_refs(cache, lm, bf16, ref_need, sentences, ids, embed, stats, advance)
            emb.update(embed(hyp_need))
            clock = _tick()
            for s in range(len(systems)):
                for r in range(k):
                    prf = _match(emb, ids, weights, hyp_s[s, rows], ref_s[r, rows], batch_size)
                    best[s, :, rows] = np.maximum(best[s, :, rows], prf)
            _tock(stats, "match", clock)
    if baseline is not None:
        best = (best - baseline[None, :, None]) / (1 - baseline[None, :, None])
    sig = bertscore_signature(lm.name, lm.layer, idf, rescale_tag, bf16)
    return [
        SentenceBertScores(
            b[0],
            b[1],
            b[2],
            sig,
            _empty_warnings(ids, h, ref_s) + _truncation_warnings(truncated, h, ref_s, max_len),
        )
        for b, h in zip(best, hyp_s)
    ]


def _cached_refs(
    cache,
    lm,
    bf16: bool,
    which: np.ndarray,
    sentences: list[str],
    ids,
    embed,
    stats: dict,
    advance=lambda count: None,
) -> dict:
    """Embeddings of the reference sentences ``which``: from ``cache`` when it has them
    (checked against the current token ids), else computed and stored there."""
    if cache is None or not len(which):
        return embed(which)
    import torch

    device = next(lm.model.parameters()).device
    key = cache.key(lm, [sentences[s] for s in which], bf16=bf16)
    found = cache.get(key, [ids[s] for s in which])
    if found is not None:
        stats["cached_sentences"] += len(which)
        advance(len(which))
        return {s: torch.from_numpy(a).to(device) for s, a in zip(which.tolist(), found)}
    out = embed(which)
    cache.put(key, [ids[s] for s in which], [out[s].cpu().numpy() for s in which.tolist()])
    return out


def _embed(
    lm,
    ids,
    which: np.ndarray,
    batch_size: int,
    max_tokens: int,
    bf16: bool,
    stats: dict,
    advance=lambda count: None,
) -> dict:
    """Hidden states of layer L for the sentences ``which``: {sentence: (T_i, D) float32}."""
    import torch

    from bertune_cli.core.lm.matching import padded_hidden

    clock = _tick()
    device = next(lm.model.parameters()).device
    order = sorted(which.tolist(), key=lambda s: len(ids[s]))
    out = {}
    for batch in _batches(order, [len(ids[s]) for s in order], batch_size, max_tokens):
        width = max(len(ids[s]) for s in batch)
        stats["padded_tokens"] += width * len(batch)
        stats["tokens"] += sum(len(ids[s]) for s in batch)
        start = _tick()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            h = padded_hidden(lm, [ids[s] for s in batch], device).float()  # (B, T, D)
        _tock(stats, "forward", start)
        for i, s in enumerate(batch):
            out[s] = h[i, : len(ids[s])]
        advance(len(batch))
    _tock(stats, "embed", clock)
    return out


def _tick() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _tock(stats: dict, name: str, start: tuple[float, float]) -> None:
    """Add the wall and CPU seconds since ``start`` to ``stats[name]``/``[name_cpu]``."""
    stats[name] += time.perf_counter() - start[0]
    stats[name + "_cpu"] += time.process_time() - start[1]


def _batches(
    items: list, lengths: list[int], batch_size: int, max_tokens: int, slack: int = PAD_SLACK
):
    """Consecutive groups of at most ``batch_size`` items and ``max_tokens`` padded tokens
    (``lengths`` ascending, so a group's width is its last length). A longer item starts a
    new group unless widening the current one pads fewer than ``slack`` tokens, so batches
    are of one length wherever there are enough sentences of it (no padding)."""
    from bertune_cli.core.data.batching import length_groups

    for lo, hi in length_groups(lengths, max_tokens, batch_size, slack):
        yield items[lo:hi]


def _match(
    emb: dict, ids, weights, hyp_s: np.ndarray, ref_s: np.ndarray, batch_size: int
) -> np.ndarray:
    """P, R, F (3, len(hyp_s)) of the pairs (hyp_s[i], ref_s[i])."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    from bertune_cli.core.lm.matching import greedy_match

    out = np.zeros((3, len(hyp_s)))
    order = sorted(range(len(hyp_s)), key=lambda i: (len(ids[hyp_s[i]]), len(ids[ref_s[i]])))
    step = max(batch_size, 1) * 4
    for lo in range(0, len(order), step):
        rows = order[lo : lo + step]
        h = pad_sequence([emb[hyp_s[i]] for i in rows], batch_first=True)  # (B, T, D)
        r = pad_sequence([emb[ref_s[i]] for i in rows], batch_first=True)  # (B, S, D)
        hm = _lengths_mask([len(ids[hyp_s[i]]) for i in rows], h.size(1), h.device)
        rm = _lengths_mask([len(ids[ref_s[i]]) for i in rows], r.size(1), r.device)
        hw = _pad_weights([weights[hyp_s[i]] for i in rows], h.size(1), h.device)
        rw = _pad_weights([weights[ref_s[i]] for i in rows], r.size(1), r.device)
        P, R, F = greedy_match(h, r, hm, rm, hw, rw)
        out[:, rows] = torch.stack([P, R, F]).cpu().numpy()
    return out


def _lengths_mask(lengths: list[int], width: int, device):
    import torch

    lens = torch.tensor(lengths, device=device)
    return torch.arange(width, device=device).unsqueeze(0) < lens.unsqueeze(1)


def _pad_weights(ws: list[np.ndarray], width: int, device):
    import torch

    out = np.zeros((len(ws), width), np.float32)
    for i, w in enumerate(ws):
        out[i, : len(w)] = w
    return torch.from_numpy(out).to(device)


def _empty_warnings(ids, hyp_s: np.ndarray, ref_s: np.ndarray) -> list[str]:
    """bert_score's warnings: empty candidate / reference → scores set to 0.

    hyp_s: (n,) and ref_s: (K, n) sentence indices into ``ids``."""
    out = []
    empty = np.array([len(s) <= 2 for s in ids])
    for what, flags in (("candidate", empty[hyp_s]), ("reference", empty[ref_s].any(0))):
        lines = (np.flatnonzero(flags) + 1).tolist()
        if lines:
            shown = ", ".join(map(str, lines[:5])) + (", …" if len(lines) > 5 else "")
            out.append(
                f"{len(lines)} empty {what} sentence(s) (line {shown}): "
                "their BERTScore is set to 0, as bert_score does"
            )
    return out


class FBertMetric(MeanMetric):
    """F_BERT as a ``protocol.Metric``: statistics ``[F, 1]`` per segment (corpus = 100 × mean
    F), every system embedded in one pass; P, R and F are the sentence-level columns."""

    def __init__(
        self,
        refs: Sequence[Sequence[str]],
        lm,
        *,
        idf: bool = False,
        rescale: str | Path | None = None,
        bf16: bool = False,
        batch_size: int = 64,
        cache=None,
    ):
        self.refs, self.lm, self.idf, self.rescale = [list(r) for r in refs], lm, idf, rescale
        self.bf16, self.batch_size, self.cache = bool(bf16), batch_size, cache
        tag = _read_baseline(rescale, lm.layer)[1] if rescale else None
        super().__init__("F_BERT", bertscore_signature(lm.name, lm.layer, idf, tag, self.bf16))
        self.case_sensitive = not lm.do_lower_case
        self._seen = len(cache.warnings) if cache is not None else 0

    @classmethod
    def create(
        cls, refs: Sequence[Sequence[str]], settings: EvalSettings, cache=None
    ) -> "FBertMetric":
        """The registry's constructor: LM ``settings.lm``/``layer`` (kept in ``cache``)."""
        from bertune_cli.core.lm.model import DEFAULT_LM, load_lm, resolve_device

        cache = cache if cache is not None else EvalCache()
        name = settings.lm or DEFAULT_LM
        lm = cache.lm(
            "fbert",
            name,
            settings.layer,
            lambda: load_lm(name, settings.layer, resolve_device(settings.device)),
        )
        return cls(
            refs,
            lm,
            idf=settings.idf,
            rescale=settings.rescale,
            bf16=settings.bf16,
            batch_size=settings.batch_size,
            cache=cache.embeddings,
        )

    def extract_systems(self, systems, progress: Progress | None = None) -> list[Segments]:
        out = score_systems(
            systems,
            self.refs,
            self.lm,
            idf=self.idf,
            rescale=self.rescale,
            batch_size=self.batch_size,
            bf16=self.bf16,
            cache=self.cache,
            progress=progress,
        )
        return [
            Segments(
                self.stats_of(o.F),
                {"F_BERT_P": o.P, "F_BERT_R": o.R, "F_BERT_F": o.F},
                list(o.warnings),
            )
            for o in out
        ]

    def result(self, seg: Segments) -> MetricResult:
        c = seg.columns
        return SentenceBertScores(
            c["F_BERT_P"], c["F_BERT_R"], c["F_BERT_F"], self.signature, list(seg.warnings)
        ).corpus()

    def columns(self, seg: Segments) -> dict[str, np.ndarray]:
        return dict(seg.columns)

    def pop_warnings(self) -> list[str]:
        """What the reference-embedding cache reported since the last call."""
        if self.cache is None:
            return []
        new, self._seen = self.cache.warnings[self._seen :], len(self.cache.warnings)
        return list(new)
