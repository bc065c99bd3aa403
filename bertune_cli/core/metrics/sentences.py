"""Sentence-level score files (``bertune score --sentence-level PATH``), read by
``bertune significance --scores`` so that F_BERT is not recomputed (``ScoreFileMetric``: the
files' F_BERT as a ``protocol.Metric``).

Two encodings of the same content, chosen by the extension (``.jsonl``/``.json``: JSON
lines, anything else: TSV). The header ties the file to its inputs and settings:
the hypothesis file and a hash of its lines, a hash of the references, the line count and
one signature per metric. TSV::

    #bertune-sentence-scores	1
    #hyp	out/sys.txt
    #hyp_sha256	3f1c…
    #refs_sha256	9ab2…
    #lines	1000
    #signature	F_BERT	minilm_L5_no-idf_version=bertune-0.1.0(hug_trans=5.23.0)_fast-tokenizer
    #signature	BLEU	nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0
    line	F_BERT_P	F_BERT_R	F_BERT_F	BLEU
    1	0.9512…	0.9433…	0.9472…	35.1…

JSONL: a first object ``{"bertune_sentence_scores": 1, "hyp": …, "hyp_sha256": …,
"refs_sha256": …, "lines": N, "signatures": {…}}``, then one object per line. F_BERT columns
hold bert_score's 0–1 values at full precision; sacrebleu columns hold sentence-level
scores (BLEU with effective order, as ``sacrebleu --sentence-level``), for reading only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from bertune_cli.core.errors import DataError, UsageError
from bertune_cli.core.metrics.protocol import MeanMetric

FORMAT_VERSION = 1
MAGIC = "bertune-sentence-scores"


@dataclass
class SentenceScores:
    hyp: str
    hyp_sha256: str
    refs_sha256: str
    lines: int
    signatures: dict[str, str] = field(default_factory=dict)  # metric -> signature
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    path: Path | None = None


# What write_sentence_scores writes (.json is written as JSON lines); anything else is refused
# up front (core/outputs.check_output) instead of a TSV under a .csv name.
SENTENCE_SUFFIXES = (".tsv", ".jsonl", ".json")


def write_sentence_scores(path: str | Path, scores: SentenceScores) -> Path:
    """Write atomically (temp name + rename, core/io/outputs.py); OutputError names the path."""
    from bertune_cli.core.io.outputs import AtomicFile

    path = Path(path)
    names = list(scores.columns)
    rows = zip(*(scores.columns[c].tolist() for c in names))
    with AtomicFile(path, "sentence-level scores", newline="\n", suffixes=SENTENCE_SUFFIXES) as f:
        if path.suffix in (".jsonl", ".json"):
            f.write(
                json.dumps(
                    {
                        "bertune_sentence_scores": FORMAT_VERSION,
                        "hyp": scores.hyp,
                        "hyp_sha256": scores.hyp_sha256,
                        "refs_sha256": scores.refs_sha256,
                        "lines": scores.lines,
                        "signatures": scores.signatures,
                    }
                )
                + "\n"
            )
            for i, row in enumerate(rows, 1):
                f.write(json.dumps({"line": i, **dict(zip(names, row))}) + "\n")
        else:
            f.write(
                f"#{MAGIC}\t{FORMAT_VERSION}\n#hyp\t{scores.hyp}\n"
                f"#hyp_sha256\t{scores.hyp_sha256}\n#refs_sha256\t{scores.refs_sha256}\n"
                f"#lines\t{scores.lines}\n"
            )
            for metric, sig in scores.signatures.items():
                f.write(f"#signature\t{metric}\t{sig}\n")
            f.write("\t".join(["line", *names]) + "\n")
            for i, row in enumerate(rows, 1):
                f.write("\t".join([str(i), *(repr(float(v)) for v in row)]) + "\n")
    return path


def read_sentence_scores(path: str | Path) -> SentenceScores:
    """Read a file written by ``write_sentence_scores``; DataError on anything else."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"score file not found: {path}",
            "write one with `bertune score HYP REF --sentence-level FILE`",
        )
    try:
        text = path.read_text(encoding="utf-8")
        out = _parse_jsonl(text) if text.lstrip().startswith("{") else _parse_tsv(text)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise DataError(
            f"{path} is not a bertune sentence-level score file ({exc.__class__.__name__}: {exc})",
            "write one with `bertune score HYP REF --sentence-level FILE`",
        ) from exc
    bad = [c for c, v in out.columns.items() if len(v) != out.lines]
    if bad:
        raise DataError(
            f"{path}: column(s) {', '.join(bad)} do not have {out.lines} values (truncated file?)",
            "re-run `bertune score --sentence-level`",
        )
    out.path = path
    return out


def _parse_tsv(text: str) -> SentenceScores:
    head: dict[str, str] = {}
    sigs: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines) and lines[i].startswith("#"):
        parts = lines[i][1:].split("\t")
        if parts[0] == "signature":
            sigs[parts[1]] = parts[2]
        else:
            head[parts[0]] = parts[1]
        i += 1
    if head.get(MAGIC) != str(FORMAT_VERSION):
        raise ValueError(f"missing '#{MAGIC}\t{FORMAT_VERSION}' header")
    names = lines[i].split("\t")[1:]
    values = [[float(v) for v in row.split("\t")[1:]] for row in lines[i + 1 :] if row]
    cols = {n: np.array([r[j] for r in values]) for j, n in enumerate(names)}
    return SentenceScores(
        head["hyp"], head["hyp_sha256"], head["refs_sha256"], int(head["lines"]), sigs, cols
    )


def _parse_jsonl(text: str) -> SentenceScores:
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    head = rows[0]
    if head.get("bertune_sentence_scores") != FORMAT_VERSION:
        raise ValueError("missing 'bertune_sentence_scores' header object")
    names = [k for k in (rows[1] if len(rows) > 1 else {}) if k != "line"]
    cols = {
        n: np.array([float(r[n]) if r[n] is not None else math.nan for r in rows[1:]])
        for n in names
    }
    return SentenceScores(
        head["hyp"],
        head["hyp_sha256"],
        head["refs_sha256"],
        int(head["lines"]),
        dict(head["signatures"]),
        cols,
    )


class ScoreFileMetric(MeanMetric):
    """F_BERT read from sentence-level files, one per system (``significance --scores``): a
    sentence-mean metric whose signature is the files' own. The files must hold F_BERT, have
    been scored against ``refs``, belong to their system (same order) and share one
    signature; ``extract(hyps)`` returns the statistics of the file written for ``hyps``."""

    def __init__(
        self,
        files: Sequence[str | Path],
        refs: Sequence[Sequence[str]],
        systems: Sequence[Sequence[str]],
        paths: Sequence[str | Path],
    ):
        from bertune_cli.core.metrics.inputs import digest

        if len(files) != len(paths):
            raise UsageError(
                f"got {len(files)} score file(s) for {len(paths)} systems",
                "pass one --scores FILE per system, baseline first, in the same order",
            )
        read = [read_sentence_scores(p) for p in files]
        refs_sha, first = digest(refs), None
        self._stats: dict[str, np.ndarray] = {}
        for f, path, lines in zip(read, paths, systems):
            sig = f.signatures.get("F_BERT")
            if sig is None or "F_BERT_F" not in f.columns:
                raise DataError(
                    f"{f.path} has no F_BERT scores (metrics: {', '.join(f.signatures) or 'none'})",
                    "write it with `bertune score HYP REF -m bertscore --sentence-level`",
                )
            if first is None:
                first = (f.path, sig)
            elif sig != first[1]:
                raise DataError(
                    f"refusing to mix F_BERT signatures: {first[0]} has "
                    f"{first[1]}, {f.path} has {sig}",
                    "score every system with the same settings",
                )
            if f.refs_sha256 != refs_sha:
                raise DataError(
                    f"{f.path} was scored against other references than the ones given",
                    "re-score it against these references",
                )
            if f.hyp_sha256 != digest([lines]) or f.lines != len(lines):
                raise DataError(
                    f"{f.path} holds the scores of {f.hyp}, not of {path}",
                    "pass the score files in the order of the system files",
                )
            self._stats[f.hyp_sha256] = self.stats_of(f.columns["F_BERT_F"])
        self.first = first
        super().__init__("F_BERT", first[1])

    def extract(self, hyps: Sequence[str]) -> np.ndarray:
        from bertune_cli.core.metrics.inputs import digest

        return self._stats[digest([hyps])]

    def check_settings(self, lm: str, layer: int | None, idf: bool) -> None:
        """The files' signature must name the LM/layer/idf asked for on the command line."""
        from bertune_cli.core.lm.model import DEFAULT_LAYERS

        path, sig = self.first
        layer = layer if layer is not None else DEFAULT_LAYERS.get(lm)
        want = f"{lm}_L{layer}_" if layer is not None else f"{lm}_L"
        if not sig.startswith(want) or (idf and "_idf_" not in sig):
            raise DataError(
                f"{path} was scored with {sig}, not with LM {lm}"
                f"{f' layer {layer}' if layer is not None else ''}"
                f"{' and idf' if idf else ''}",
                "drop --lm/--layer/--idf to use the files as they are, or re-score",
            )
