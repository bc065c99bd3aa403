"""Statistics of several systems against the same references (what ``significance`` tests).

BLEU / chrF / TER statistics come from the texts (references prepared once). F_BERT comes
either from sentence-level score files (``bertune score --sentence-level``), which must match
the references, their own system file and each other's signature, or is computed for all
systems in one pass (each distinct sentence embedded once). MoverScore is always computed,
for all systems in one pass, with its own LM (``ms_lm``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from bertune_cli.core.errors import DataError, UsageError
from bertune_cli.core.metrics.inputs import digest, read_parallel
from bertune_cli.core.metrics.scoring import (LMChoice, bertscore_systems, check_not_metrics,
                                              lm_choice, moverscore_systems, open_cache,
                                              parse_metrics)
from bertune_cli.core.metrics.sentences import read_sentence_scores
from bertune_cli.core.metrics.stats import MeanStatistic, SacreStatistic, Statistic


def collect_statistics(refs: Sequence[str | Path], systems: Sequence[str | Path],
                       metrics: Sequence[str] | None = None, *, scores: Sequence[str | Path] = (),
                       lm: str | None = None, layer: int | None = None,
                       model: str | Path | None = None, idf: bool = False, rescale=None,
                       lowercase: bool = False, tokenize: str | None = None,
                       batch_size: int = 64, device: str = "auto", ms_lm: str | None = None,
                       ms_stop_words: str | Path | None = None,
                       cache: str | Path | None = None, cache_size_mb: float = 1024.0
                       ) -> tuple[list[Statistic], list[list[np.ndarray]], list[str]]:
    """(metrics, stats[s][m], warnings) for ``systems`` (the first is the baseline).
    MoverScore (a sentence mean, like F_BERT) is computed for all systems in one pass with
    ``ms_lm``. ``cache``: F_BERT's reference-embedding cache folder, as in ``score_files``.
    ``warnings``: what the metrics and the cache reported (empty lines, truncation, an unusable
    cache entry), each naming its system file."""
    check_not_metrics([*refs, *systems])
    if len(systems) < 2:
        raise UsageError(f"significance needs a baseline and at least one system "
                         f"(got {len(systems)} system file{'s' if len(systems) != 1 else ''})",
                         "usage: bertune significance REF BASE SYS [SYS ...]")
    names = parse_metrics(metrics)
    if scores and "bertscore" not in names:
        names.append("bertscore")
    emb_cache = open_cache(cache, cache_size_mb) if "bertscore" in names and not scores \
        else None
    roles = [("reference", r) for r in refs] + [("baseline", systems[0])] + \
        [("system", s) for s in systems[1:]]
    texts = read_parallel(roles)
    ref_lines, hyps = texts[:len(refs)], texts[len(refs):]
    out_metrics: list[Statistic] = []
    columns: list[list[np.ndarray]] = []            # [metric][system]
    warnings: list[str] = []
    for name in names:
        if name == "bertscore":
            stat, per_sys, said = _fbert(ref_lines, hyps, systems, scores,
                                         lm_choice(lm, layer, model),
                                         explicit=bool(lm or layer is not None or model),
                                         idf=idf, rescale=rescale, batch_size=batch_size,
                                         device=device, cache=emb_cache)
            warnings += _named(systems, said, "F_BERT")
            warnings += emb_cache.warnings if emb_cache else []
        elif name == "moverscore":
            out = moverscore_systems(hyps, ref_lines, ms_lm, ms_stop_words,
                                     batch_size=batch_size, device=device)
            stat = MeanStatistic("MoverScore", out[0].signature)
            per_sys = [MeanStatistic.stats_of(o.scores) for o in out]
            warnings += _named(systems, [o.warnings for o in out], "MoverScore")
        else:
            stat = SacreStatistic(name, ref_lines, lowercase=lowercase, tokenize=tokenize)
            per_sys = [stat.extract(h) for h in hyps]
        out_metrics.append(stat)
        columns.append(per_sys)
    return out_metrics, [[col[s] for col in columns] for s in range(len(hyps))], warnings


def _named(systems, said: list[list[str]], metric: str) -> list[str]:
    """Every system's metric warnings, each prefixed with the system file it is about."""
    return [f"{metric}, {path}: {w}" for path, ws in zip(systems, said) for w in ws]


def _fbert(ref_lines, hyps, paths, scores, choice: LMChoice, *, explicit: bool, idf: bool,
           rescale, batch_size: int, device: str, cache=None):
    if not scores:
        out = bertscore_systems(hyps, ref_lines, choice, idf=idf, rescale=rescale,
                                batch_size=batch_size, device=device, cache=cache)
        return (MeanStatistic("F_BERT", out[0].signature),
                [MeanStatistic.stats_of(o.F) for o in out], [o.warnings for o in out])
    if len(scores) != len(paths):
        raise UsageError(f"got {len(scores)} score file(s) for {len(paths)} systems",
                         "pass one --scores FILE per system, baseline first, in the same order")
    files = [read_sentence_scores(p) for p in scores]
    refs_sha = digest(ref_lines)
    first = None
    for f, path, lines in zip(files, paths, hyps):
        sig = f.signatures.get("F_BERT")
        if sig is None or "F_BERT_F" not in f.columns:
            raise DataError(f"{f.path} has no F_BERT scores (metrics: "
                            f"{', '.join(f.signatures) or 'none'})",
                            "write it with `bertune score HYP REF -m bertscore --sentence-level`")
        if first is None:
            first = (f.path, sig)
        elif sig != first[1]:
            raise DataError(f"refusing to mix F_BERT signatures: {first[0]} has {first[1]}, "
                            f"{f.path} has {sig}", "score every system with the same settings")
        if f.refs_sha256 != refs_sha:
            raise DataError(f"{f.path} was scored against other references than the ones given",
                            "re-score it against these references")
        if f.hyp_sha256 != digest([lines]) or f.lines != len(lines):
            raise DataError(f"{f.path} holds the scores of {f.hyp}, not of {path}",
                            "pass the score files in the order of the system files")
    if explicit or idf:
        _check_settings(first, choice, idf)
    return (MeanStatistic("F_BERT", first[1]),
            [MeanStatistic.stats_of(f.columns["F_BERT_F"]) for f in files], [[] for _ in files])


def _check_settings(first, choice: LMChoice, idf: bool) -> None:
    """The files' signature must name the LM/layer/idf asked for on the command line."""
    from bertune_cli.core.lm import DEFAULT_LAYERS

    path, sig = first
    layer = choice.layer if choice.layer is not None else DEFAULT_LAYERS.get(choice.name)
    want = f"{choice.name}_L{layer}_" if layer is not None else f"{choice.name}_L"
    if not sig.startswith(want) or (idf and "_idf_" not in sig):
        raise DataError(f"{path} was scored with {sig}, not with LM {choice.name}"
                        f"{f' layer {layer}' if layer is not None else ''}"
                        f"{' and idf' if idf else ''}",
                        "drop --lm/--layer/--idf to use the files as they are, or re-score")
