"""Annotated option aliases shared by the commands (defined once, used everywhere).

Every option value is validated here, at the CLI edge, as a usage error (exit 2), before
anything runs: integers with Typer's ``min=``/``max=``; every float option through ``number``
(its parser: a finite number — never NaN or inf — within the option's bound, checked by the
recipe loader's own ``core/config_ranges.in_bound``, so ``--tau 0`` and ``--set
finetune.tau=0`` are refused alike); every path option through ``path`` (an empty string is
refused instead of meaning the current folder). tests/commands/test_options_cli.py checks that
every float and path option of every command goes through them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
import typer.core

from bertune_cli.core.config.ranges import SEED  # stdlib only: --help stays light

SEED_MAX = SEED[1]  # numpy's and torch's seeds are unsigned 32-bit: one bound, in config.ranges


def seed_list(value: str | None) -> list[int]:
    """``--seeds 1,2,3`` of ``finetune`` and ``ablate``: integers in 0 ... 2^32-1, at least one.
    A bad item is a usage error naming it; repeats are refused by the core (the grid and the
    study), which library callers reach without this parser."""
    out: list[int] = []
    for item in value.split(",") if value is not None else []:
        try:
            out.append(int(item))
        except ValueError:
            raise typer.BadParameter(
                f"{item.strip()[:40]!r} is not an integer (e.g. --seeds 1,2,3)",
                param_hint="--seeds",
            ) from None
        if not 0 <= out[-1] <= SEED_MAX:
            raise typer.BadParameter(
                f"seed {item.strip()[:40]} is out of range: seeds are 0 ... {SEED_MAX} (2^32-1)",
                param_hint="--seeds",
            )
    if value is not None and not out:
        raise typer.BadParameter(
            "needs at least one integer (e.g. --seeds 1,2,3)", param_hint="--seeds"
        )
    return out


def _check_number(value: float, bound: tuple) -> float:
    from bertune_cli.core.config.ranges import describe, in_bound

    if not in_bound(value, bound):
        raise typer.BadParameter(f"must be {describe(bound)}, got {value:g}")
    return value


def number(
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> Callable[[str], float]:
    """The parser of a float option: a finite number within the bound (None: unbounded)."""
    bound = (low, high, low_open, high_open)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise typer.BadParameter(f"{_shown(text)} is not a number") from None
        return _check_number(value, bound)

    return parse


def bounded(
    low: float | None, high: float | None = None, low_open: bool = False, high_open: bool = False
) -> Callable[[Any], Any]:
    """The same check as an option callback (None passes: option not given)."""
    bound = (low, high, low_open, high_open)
    return lambda value: value if value is None else _check_number(value, bound)


def path(text: str) -> Path:
    """The parser of a path option: an empty string is refused (Path('') would be '.')."""
    if not str(text).strip():
        raise typer.BadParameter("is empty; pass a file or folder path")
    return Path(text)


def existing_path(text: str) -> Path:
    """``path``, and it must exist (a file or a folder)."""
    found = path(text)
    if not found.expanduser().exists():
        raise typer.BadParameter(f"{_shown(text)} does not exist")
    return found


def existing_file(text: str) -> Path:
    """``path``, and it must be an existing file (not a folder)."""
    found = existing_path(text)
    if found.expanduser().is_dir():
        raise typer.BadParameter(f"{_shown(text)} is a folder, not a file")
    return found


def _shown(value: Any) -> str:
    from bertune_cli.core.config.input import shown

    return shown(value)


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
            raise typer.BadParameter(f"{_shown(item)} is not KEY=VALUE (e.g. --set train.lr=3e-4)")
    return items


def _check_metrics(items: Optional[list[str]]) -> Optional[list[str]]:
    for item in items or []:
        if any(not name.strip() for name in item.split(",")):
            raise typer.BadParameter(
                f"{_shown(item)} names an empty metric; use bleu, chrf, "
                "chrf++, ter or bertscore (or leave -m out for the defaults)"
            )
    return items


Pair = Annotated[
    str,
    typer.Option(
        "--pair", "-p", help="Recipe name (see `bertune recipes`) or path to a recipe .yaml file."
    ),
]
Overrides = Annotated[
    Optional[list[str]],
    typer.Option(
        "--set",
        "-s",
        callback=_check_overrides,
        help="Override a recipe value, e.g. --set train.lr=3e-4 (repeatable).",
    ),
]
RunsDir = Annotated[
    Optional[Path],
    typer.Option(
        "--runs-dir",
        parser=path,
        help="Root of run directories (default: $BERTUNE_RUNS or ./runs).",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON object.")]
Lm = Annotated[
    Optional[str],
    typer.Option("--lm", help="LM: 'minilm' (bundled, offline), an HF model id or a local folder."),
]
Layer = Annotated[
    Optional[int],
    typer.Option(
        "--layer", min=1, help="LM layer for BERTScore (bert_score's num_layers; default per LM)."
    ),
]
Device = Annotated[str, typer.Option("--device", help="torch device: cpu, cuda, cuda:1, ...")]
Seed = Annotated[
    Optional[int], typer.Option("--seed", min=0, max=SEED_MAX, help="Random seed (0 ... 2^32-1).")
]

# --- evaluation (score, significance) ---
Metrics = Annotated[
    Optional[list[str]],
    typer.Option(
        "--metrics",
        "-m",
        callback=_check_metrics,
        help="Metric: bleu, chrf, chrf++, ter, bertscore (repeat -m or separate "
        "by commas; default: bleu and bertscore).",
    ),
]
LmRun = Annotated[
    Optional[Path],
    typer.Option(
        "--model",
        parser=existing_path,
        help="Run directory or checkpoint whose bertune.json names "
        "the LM and layer (--lm/--layer override it).",
    ),
]
Idf = Annotated[
    bool,
    typer.Option(
        "--idf", help="F_BERT with idf weights from the references (bert_score semantics)."
    ),
]
Rescale = Annotated[
    Optional[Path],
    typer.Option(
        "--rescale",
        parser=existing_file,
        help="Rescale F_BERT with a bert_score baseline CSV (LAYER,P,R,F).",
    ),
]
Lowercase = Annotated[
    Optional[bool],
    typer.Option(
        "--lowercase/--no-lowercase",
        show_default=False,
        help="Case-insensitive BLEU/chrF (sacrebleu -lc). Default: as the run's recipe with "
        "--model, else case-sensitive.",
    ),
]
Tokenize = Annotated[
    Optional[str],
    typer.Option(
        "--tokenize",
        help="sacrebleu BLEU tokenizer: 13a (default; with --model the run's "
        "recipe's), intl, none, char, zh, ...",
    ),
]
BatchSize = Annotated[
    int, typer.Option("--batch-size", min=1, help="Sentences per LM batch (F_BERT).")
]
RawDataDir = Annotated[
    Optional[Path],
    typer.Option(
        "--data-dir",
        parser=existing_path,
        help="Local folder with the raw inputs: replaces "
        "data.root (files), holds the archive or its extracted folder (wit3) or the CSV; "
        "nothing is "
        "downloaded.",
    ),
]

# --- training budgets (train-baseline, finetune) ---
# one wording for every command: train-baseline trains train.*, finetune and ablate's arms
# finetune.*
MaxEpochs = Annotated[
    Optional[int],
    typer.Option(
        "--max-epochs",
        min=1,
        help="Override the recipe's max_epochs for the stage this command "
        "trains (train.max_epochs for train-baseline, finetune.max_epochs for fine-tuning).",
    ),
]
MaxSteps = Annotated[
    Optional[int], typer.Option("--max-steps", min=1, help="Stop after N updates.")
]
MaxTime = Annotated[
    Optional[float],
    typer.Option(
        "--max-time",
        parser=number(0, low_open=True),
        help="Stop after N seconds of training or fine-tuning (counted over resumes).",
    ),
]
