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
