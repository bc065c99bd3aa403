"""The `bertune` executable: every command is registered here.

``main()`` is the console entry point: it runs the Typer app and maps errors to exit codes —
BertuneError -> one red line with a hint, exit 1 (UsageError: 2); click usage errors -> 2;
Ctrl-C -> 130. ``BERTUNE_DEBUG=1`` re-raises so the traceback is shown.
Heavy imports (torch, transformers) happen inside command bodies, so ``--help`` is instant.
"""
from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from bertune_cli import __version__
from bertune_cli._options import FlagsAsFlags
from bertune_cli.commands import (finetune, prepare, recipes, score, significance,
                                  train_baseline, translate)
from bertune_cli.commands import serve
from bertune_cli.commands import report
from bertune_cli.commands import export
from bertune_cli.commands import ablate
from bertune_cli.core.errors import BertuneError

app = typer.Typer(
    name="bertune",
    cls=FlagsAsFlags,
    help="BERTTune for neural machine translation: prepare data, train a Transformer whose "
         "decoder vocabulary is a pretrained LM's WordPiece vocabulary, fine-tune it on a "
         "differentiable BERTScore, translate, score and test significance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bertune {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False
          ) -> None:
    """BERTTune for neural machine translation."""


app.command("prepare")(prepare.prepare)
app.command("train-baseline")(train_baseline.train_baseline)
app.command("finetune")(finetune.finetune)
app.command("ablate")(ablate.ablate)
app.command("translate")(translate.translate)
app.command("export")(export.export)
app.command("score")(score.score)
app.command("significance")(significance.significance)
app.command("recipes")(recipes.recipes)
app.command("report")(report.report)
app.command("serve")(serve.serve)


INTERRUPTED = "interrupted — re-run the same command to resume where it stopped"


def _fail(message: str, code: int) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(message)}")
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    debug = os.environ.get("BERTUNE_DEBUG") == "1"
    try:
        code = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:  # --help / --version with standalone_mode=False
        sys.exit(exc.exit_code)
    except typer.Abort:
        _fail(INTERRUPTED, 130)
    except typer.TyperException as exc:  # usage errors: unknown option, bad value, ...
        if debug:
            raise
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        if debug:
            raise
        _fail(INTERRUPTED, 130)
    except BertuneError as exc:
        if debug:
            raise
        _fail(str(exc), exc.exit_code)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    if code == 130 and not debug:  # Typer turns Ctrl-C into a silent exit code 130
        _fail(INTERRUPTED, 130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
