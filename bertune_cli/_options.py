"""Annotated option aliases shared by the commands (defined once, used everywhere)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

Pair = Annotated[str, typer.Option("--pair", "-p", help="Recipe name (see `bertune recipes`) "
                                   "or path to a recipe .yaml file.")]
Overrides = Annotated[Optional[list[str]], typer.Option(
    "--set", "-s", help="Override a recipe value, e.g. --set train.lr=3e-4 (repeatable).")]
RunsDir = Annotated[Optional[Path], typer.Option(
    "--runs-dir", help="Root of run directories (default: $BERTUNE_RUNS or ./runs).")]
Json = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON object.")]
Lm = Annotated[Optional[str], typer.Option(
    "--lm", help="LM: 'minilm' (bundled, offline), an HF model id or a local folder.")]
Layer = Annotated[Optional[int], typer.Option(
    "--layer", help="LM layer for BERTScore (bert_score's num_layers; default per LM).")]
Device = Annotated[str, typer.Option("--device", help="torch device: cpu, cuda, cuda:1, ...")]
Seed = Annotated[Optional[int], typer.Option("--seed", help="Random seed.")]

# --- evaluation (score, significance) ---
Metrics = Annotated[Optional[list[str]], typer.Option(
    "--metrics", "-m", help="Metric: bleu, chrf, chrf++, ter, bertscore (repeat -m or separate "
    "by commas; default: bleu and bertscore).")]
LmRun = Annotated[Optional[Path], typer.Option(
    "--model", help="Run directory or checkpoint whose bertune.json names the LM and layer "
    "(--lm/--layer override it).")]
Idf = Annotated[bool, typer.Option("--idf", help="F_BERT with idf weights from the references "
                                   "(bert_score semantics).")]
Rescale = Annotated[Optional[Path], typer.Option(
    "--rescale", help="Rescale F_BERT with a bert_score baseline CSV (LAYER,P,R,F).")]
Lowercase = Annotated[bool, typer.Option("--lowercase",
                                         help="Case-insensitive BLEU/chrF (sacrebleu -lc).")]
Tokenize = Annotated[Optional[str], typer.Option(
    "--tokenize", help="sacrebleu BLEU tokenizer: 13a (default), intl, none, char, zh, ...")]
BatchSize = Annotated[int, typer.Option("--batch-size", help="Sentences per LM batch (F_BERT).")]
RawDataDir = Annotated[Optional[Path], typer.Option(
    "--data-dir", help="Local folder with the raw inputs: replaces data.root (files), holds the "
    "archive or its extracted folder (wit3) or the CSV; nothing is downloaded.")]
