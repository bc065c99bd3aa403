"""Annotated option aliases shared by the commands (defined once, used everywhere).

Every numeric option is validated here, at the CLI edge, as a usage error (exit 2): closed
bounds with Typer's ``min=``/``max=``, open bounds (``--tau > 0``, ``--alpha`` in (0, 1)) with
the ``bounded`` callback, which uses the same bound table as the recipe loader
(``core/config_ranges.py``), so ``--tau 0`` and ``--set finetune.tau=0`` are refused alike.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
import typer.core


def bounded(low: float | None, high: float | None = None, low_open: bool = False,
            high_open: bool = False) -> Callable[[Any], Any]:
    """An option callback refusing numbers outside the bound (None passes: option not given)."""
    from bertune_cli.core.config_ranges import describe, in_bound

    bound = (low, high, low_open, high_open)

    def check(value: Any) -> Any:
        if value is not None and not in_bound(value, bound):
            raise typer.BadParameter(f"must be {describe(bound)}, got {value:g}")
        return value

    return check


class FlagsAsFlags(typer.core.TyperGroup):
    """The app's group: on/off options (--json, --html, --help, ...) show no value type in
    --help, as click and argparse draw them (Typer's rich help would write `<bool>` after
    them, which reads as if `--json true` were expected)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _no_flag_type(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _no_flag_type(command.get_params(ctx))  # the params (and cached --help) persist
        return command


def _no_flag_type(params: list[Any]) -> list[Any]:
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""  # the help's type column shows a set metavar verbatim
    return params


def _check_overrides(items: Optional[list[str]]) -> Optional[list[str]]:
    for item in items or []:
        key, sep, _ = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE (e.g. --set train.lr=3e-4)")
    return items


def _check_metrics(items: Optional[list[str]]) -> Optional[list[str]]:
    for item in items or []:
        if any(not name.strip() for name in item.split(",")):
            raise typer.BadParameter(f"{item!r} names an empty metric; use bleu, chrf, chrf++, "
                                     "ter or bertscore (or leave -m out for the defaults)")
    return items


Pair = Annotated[str, typer.Option("--pair", "-p", help="Recipe name (see `bertune recipes`) "
                                   "or path to a recipe .yaml file.")]
Overrides = Annotated[Optional[list[str]], typer.Option(
    "--set", "-s", callback=_check_overrides,
    help="Override a recipe value, e.g. --set train.lr=3e-4 (repeatable).")]
RunsDir = Annotated[Optional[Path], typer.Option(
    "--runs-dir", help="Root of run directories (default: $BERTUNE_RUNS or ./runs).")]
Json = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON object.")]
Lm = Annotated[Optional[str], typer.Option(
    "--lm", help="LM: 'minilm' (bundled, offline), an HF model id or a local folder.")]
Layer = Annotated[Optional[int], typer.Option(
    "--layer", min=1, help="LM layer for BERTScore (bert_score's num_layers; default per LM).")]
Device = Annotated[str, typer.Option("--device", help="torch device: cpu, cuda, cuda:1, ...")]
Seed = Annotated[Optional[int], typer.Option("--seed", min=0, help="Random seed.")]

# --- evaluation (score, significance) ---
Metrics = Annotated[Optional[list[str]], typer.Option(
    "--metrics", "-m", callback=_check_metrics, help="Metric: bleu, chrf, chrf++, ter, bertscore (repeat -m or separate "
    "by commas; default: bleu and bertscore).")]
LmRun = Annotated[Optional[Path], typer.Option(
    "--model", help="Run directory or checkpoint whose bertune.json names the LM and layer "
    "(--lm/--layer override it).")]
Idf = Annotated[bool, typer.Option("--idf", help="F_BERT with idf weights from the references "
                                   "(bert_score semantics).")]
Rescale = Annotated[Optional[Path], typer.Option(
    "--rescale", help="Rescale F_BERT with a bert_score baseline CSV (LAYER,P,R,F).")]
Lowercase = Annotated[Optional[bool], typer.Option(
    "--lowercase/--no-lowercase", show_default=False,
    help="Case-insensitive BLEU/chrF (sacrebleu -lc). Default: as the run's recipe with "
    "--model, else case-sensitive.")]
Tokenize = Annotated[Optional[str], typer.Option(
    "--tokenize", help="sacrebleu BLEU tokenizer: 13a (default; with --model the run's "
    "recipe's), intl, none, char, zh, ...")]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1,
                                        help="Sentences per LM batch (F_BERT).")]
RawDataDir = Annotated[Optional[Path], typer.Option(
    "--data-dir", help="Local folder with the raw inputs: replaces data.root (files), holds the "
    "archive or its extracted folder (wit3) or the CSV; nothing is downloaded.")]

# --- training budgets (train-baseline, finetune) ---
MaxEpochs = Annotated[Optional[int], typer.Option(
    "--max-epochs", min=1, help="Override the recipe's max_epochs.")]
MaxSteps = Annotated[Optional[int], typer.Option("--max-steps", min=1,
                                                 help="Stop after N updates.")]
MaxTime = Annotated[Optional[float], typer.Option(
    "--max-time", callback=bounded(0, low_open=True),
    help="Stop after N seconds of training (counted over resumes).")]
