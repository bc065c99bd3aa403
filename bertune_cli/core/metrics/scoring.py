"""``bertune score``: BLEU / chrF / TER (sacrebleu) and F_BERT for one hypothesis file.

One call, ``score_files``, reads the files (``inputs.py``), computes every requested metric
with its signature and optionally writes the sentence-level file ``significance`` reads.
The LM for F_BERT comes from ``--lm``/``--layer`` or from a run's ``bertune.json``
(``lm_choice``); the default is the bundled MiniLM at layer 5.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from bertune_cli.core.errors import CheckpointError, OutputError, UsageError
from bertune_cli.core.metrics.inputs import digest, read_parallel
from bertune_cli.core.metrics.sacre import SACRE_METRICS, MetricResult
from bertune_cli.core.metrics.sentences import (SENTENCE_SUFFIXES, SentenceScores,
                                                write_sentence_scores)

METRICS = (*SACRE_METRICS, "bertscore", "moverscore")
DEFAULT_METRICS = ("bleu", "bertscore")


def check_not_metrics(paths: Sequence[str | Path]) -> None:
    """``-m bleu chrf`` makes ``chrf`` a file argument: say how to pass several metrics."""
    for p in paths:
        if not Path(p).exists() and str(p).lower() in (*METRICS, "chrf2", "f_bert"):
            raise UsageError(f"{p!s} is not a file but looks like a metric name",
                             "select several metrics with -m bleu -m chrf or -m bleu,chrf")


def parse_metrics(values: Sequence[str] | None, default=DEFAULT_METRICS) -> list[str]:
    """``-m bleu -m chrf`` or ``-m bleu,chrf`` → ["bleu", "chrf"] (validated, no repeats)."""
    names = [v.strip().lower() for item in (values or []) for v in item.split(",") if v.strip()]
    aliases = {"f_bert": "bertscore", "fbert": "bertscore", "bert": "bertscore",
               "chrf2": "chrf", "chrf2++": "chrf++", "mover": "moverscore", "ms": "moverscore",
               "mover_score": "moverscore"}
    names = [aliases.get(n, n) for n in names] or list(default)
    bad = [n for n in names if n not in METRICS]
    if bad:
        raise UsageError(f"unknown metric(s): {', '.join(bad)}",
                         f"choose from {', '.join(METRICS)} (repeat -m or separate by commas)")
    return list(dict.fromkeys(names))


@dataclass
class LMChoice:
    name: str
    layer: int | None
    source: str


def lm_choice(lm: str | None = None, layer: int | None = None,
              model: str | Path | None = None) -> LMChoice:
    """The F_BERT LM: ``--lm``/``--layer`` win over a run's ``bertune.json``, which wins over
    the default (bundled MiniLM; its layer, 5, is filled in by ``load_lm``)."""
    if model is None:
        return LMChoice(lm or "minilm", layer, "--lm" if lm else "default")
    path = _find_run_json(Path(model))
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not readable JSON ({exc})",
                              "pass a checkpoint or run directory written by bertune") from exc
    name, run_layer = _lm_from_meta(meta)
    if name is None:
        raise CheckpointError(f"{path} does not name an LM (expected config.lm.name)",
                              "pass --lm and --layer instead")
    return LMChoice(lm or name, layer if layer is not None else run_layer, f"run {path}")


def _find_run_json(path: Path) -> Path:
    if path.is_file():
        return path
    if not path.is_dir():
        raise CheckpointError(f"run or checkpoint not found: {path}",
                              "pass a checkpoint folder or run directory (with bertune.json)")
    for pattern in ("bertune.json", "*/bertune.json", "*/*/bertune.json"):
        found = sorted(path.glob(pattern))
        if found:
            return found[0]
    raise CheckpointError(f"no bertune.json in {path} or its subfolders",
                          "pass a checkpoint folder written by bertune, or --lm/--layer")


def _lm_from_meta(meta: dict) -> tuple[str | None, int | None]:
    """Lenient: config.lm.{name,layer}, lm.{name,layer}, lm_name/lm_layer, or lm as a string."""
    for holder in (meta.get("config") or {}, meta):
        lm = holder.get("lm") if isinstance(holder, dict) else None
        if isinstance(lm, dict) and lm.get("name"):
            layer = lm.get("layer")
            return str(lm["name"]), int(layer) if layer is not None else None
        if isinstance(lm, str):
            layer = holder.get("lm_layer", holder.get("layer"))
            return lm, int(layer) if layer is not None else None
        if isinstance(holder, dict) and holder.get("lm_name"):
            layer = holder.get("lm_layer")
            return str(holder["lm_name"]), int(layer) if layer is not None else None
    return None, None


@dataclass
class ScoreReport:
    hyp: str
    refs: list[str]
    lines: int
    results: list[MetricResult]
    warnings: list[str] = field(default_factory=list)
    sentence_level: str | None = None
    # --sentence-level could not be written: the command prints the scores, then raises it
    output_error: OutputError | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"hyp": self.hyp, "refs": self.refs, "lines": self.lines,
                "metrics": [r.to_dict() for r in self.results], "warnings": self.warnings,
                "sentence_level": self.sentence_level}


def open_cache(cache: str | Path | None, cache_size_mb: float):
    """F_BERT's reference-embedding cache (``metrics.cache``) or None when no folder is given;
    opened before any scoring work, so an unusable folder fails first."""
    if cache is None:
        return None
    from bertune_cli.core.metrics.cache import EmbeddingCache

    return EmbeddingCache(cache, cache_size_mb)


def score_files(hyp: str | Path, refs: Sequence[str | Path], metrics: Sequence[str] | None = None,
                *, lm: str | None = None, layer: int | None = None,
                model: str | Path | None = None, idf: bool = False,
                rescale: str | Path | None = None, lowercase: bool = False,
                tokenize: str | None = None, batch_size: int = 64, device: str = "auto",
                sentence_level: str | Path | None = None, cache: str | Path | None = None,
                cache_size_mb: float = 1024.0, ms_lm: str | None = None,
                ms_stop_words: str | Path | None = None) -> ScoreReport:
    """Score ``hyp`` against ``refs`` (one file per reference stream) with every metric.
    ``cache``: a folder for F_BERT's reference embeddings (``metrics.cache``), opt-in.
    ``ms_lm``/``ms_stop_words``: MoverScore's LM (default minilm) and stop-word file."""
    from bertune_cli.core.metrics.stats import SacreStatistic

    names = parse_metrics(metrics)
    if not refs:
        raise UsageError("no reference file given", "usage: bertune score HYP REF [REF2 ...]")
    check_not_metrics([hyp, *refs])
    if sentence_level:  # before the scoring work (core/outputs.py)
        from bertune_cli.core.outputs import check_output

        check_output(sentence_level, "sentence-level scores", SENTENCE_SUFFIXES)
    emb_cache = open_cache(cache, cache_size_mb) if "bertscore" in names else None
    texts = read_parallel([("hypothesis", hyp), *(("reference", r) for r in refs)])
    hyps, ref_lines = texts[0], texts[1:]
    results, warnings, columns, sigs = [], [], {}, {}
    for name in names:
        if name == "bertscore":
            choice = lm_choice(lm, layer, model)
            out = bertscore_sentences(hyps, ref_lines, choice, idf=idf, rescale=rescale,
                                      batch_size=batch_size, device=device, cache=emb_cache)
            res = out.corpus()
            warnings += out.warnings + (emb_cache.warnings if emb_cache else [])
            columns.update({"F_BERT_P": out.P, "F_BERT_R": out.R, "F_BERT_F": out.F})
        elif name == "moverscore":
            out = moverscore_systems([hyps], ref_lines, ms_lm, ms_stop_words,
                                     batch_size=batch_size, device=device)[0]
            res = out.corpus()
            warnings += out.warnings
            columns["MoverScore"] = out.scores
        else:
            stat = SacreStatistic(name, ref_lines, lowercase=lowercase, tokenize=tokenize)
            seg = stat.extract(hyps)
            res = stat.corpus_result(seg)
            if sentence_level:
                columns[res.name] = stat.segment_scores(seg)
        results.append(res)
        sigs[res.name] = res.signature
    written = failed = None
    if sentence_level:
        try:  # the scores are not thrown away when the side file fails (full disk, ...)
            written = str(write_sentence_scores(sentence_level, SentenceScores(
                str(hyp), digest([hyps]), digest(ref_lines), len(hyps), sigs, columns)))
        except OutputError as exc:
            failed = exc
    return ScoreReport(str(hyp), [str(r) for r in refs], len(hyps), results, warnings, written,
                       output_error=failed)


def bertscore_sentences(hyps, refs, choice: LMChoice, **options):
    """Per-sentence F_BERT of one system (see ``bertscore_systems``)."""
    return bertscore_systems([hyps], refs, choice, **options)[0]


def bertscore_systems(systems, refs, choice: LMChoice, *, idf: bool = False, rescale=None,
                      batch_size: int = 64, device: str = "auto", cache=None):
    from bertune_cli.core.lm import load_lm, resolve_device
    from bertune_cli.core.metrics.bertscore import score_systems

    loaded = load_lm(choice.name, choice.layer, resolve_device(device))
    return score_systems(systems, refs, loaded, idf=idf, rescale=rescale, batch_size=batch_size,
                         cache=cache)


def moverscore_systems(systems, refs, ms_lm: str | None = None,
                       stop_words: str | Path | None = None, *, batch_size: int = 64,
                       device: str = "auto"):
    """Per-sentence MoverScore of several systems (``metrics.moverscore.score_systems``) with
    the LM ``ms_lm`` (default: the bundled MiniLM, last layer) and a stop-word file."""
    from bertune_cli.core.lm import resolve_device
    from bertune_cli.core.metrics.moverscore import (load_moverscore_lm, read_stop_words,
                                                     score_systems)

    words = read_stop_words(stop_words) if stop_words else ()
    loaded = load_moverscore_lm(ms_lm or "minilm", resolve_device(device))
    return score_systems(systems, refs, loaded, stop_words=words, batch_size=batch_size)
