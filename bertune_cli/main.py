"""The `bertune` executable: every command is registered here.

``main()`` is the console entry point: it runs the Typer app and maps errors to exit codes —
BertuneError -> one red line with a hint, exit 1, or 2 when the request itself is wrong
(``exit_code`` of the class: UsageError, ConfigError, ...; the rule: core/errors.py,
docs/errors.md); click usage errors -> 2; Ctrl-C -> 130 and SIGTERM -> 143, each one line that
says what a re-run does for that command. ``BERTUNE_DEBUG=1`` re-raises so the traceback is
shown. Heavy imports (torch, transformers) happen inside command bodies, so ``--help`` is
instant; the runtime settings (core/system/runtime.py) are applied once, after the arguments are
parsed and before the command body runs.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from typing import Annotated, Any, Callable

import typer

from bertune_cli import __version__
from bertune_cli._options import FlagsAsFlags
from bertune_cli.commands import (
    ablate,
    export,
    finetune,
    prepare,
    recipes,
    report,
    score,
    serve,
    significance,
    train_baseline,
    translate,
)
from bertune_cli.core.errors import BertuneError, Terminated

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
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """BERTTune for neural machine translation."""


def _started(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` run after the process-wide runtime settings (core/system/runtime.py)."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        from bertune_cli.core.system.runtime import configure

        configure()
        try:
            return function(*args, **kwargs)
        except Terminated:  # also when the training loop stopped gracefully on SIGTERM
            _terminated.append(True)
            raise

    return run


for _name, _function in (
    ("prepare", prepare.prepare),
    ("train-baseline", train_baseline.train_baseline),
    ("finetune", finetune.finetune),
    ("ablate", ablate.ablate),
    ("translate", translate.translate),
    ("export", export.export),
    ("score", score.score),
    ("significance", significance.significance),
    ("recipes", recipes.recipes),
    ("report", report.report),
    ("serve", serve.serve),
):
    app.command(_name)(_started(_function))


# What an interruption leaves and what a re-run does, per command (one line, truthful).
RESUME = "re-run the same command to resume where it stopped"
AFTER_INTERRUPT = {
    "train-baseline": RESUME,
    "finetune": RESUME,
    "ablate": RESUME,
    "prepare": "the data directory is unchanged; re-run the same command to prepare it",
    "translate": "translate does not resume; re-run it on the whole input (an -o file is "
    "written only when complete)",
    "serve": "the server has stopped",
}
AFTER_INTERRUPT_DEFAULT = (
    "nothing was written (outputs are written only when complete); re-run the same command"
)


def _interrupted(argv: list[str]) -> None:
    """Exit after Ctrl-C (130) or SIGTERM (143) with one line saying what a re-run does."""
    command = next((a for a in argv if not a.startswith("-")), "")
    what = "terminated (SIGTERM)" if _terminated else "interrupted"
    _fail(
        f"{what} — {AFTER_INTERRUPT.get(command, AFTER_INTERRUPT_DEFAULT)}",
        143 if _terminated else 130,
    )


_terminated: list[bool] = []  # SIGTERM seen (Typer turns KeyboardInterrupts into code 130)


def _on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM as Ctrl-C: the same unwinding (temporary files removed, locks released,
    trackers marked KILLED), then exit 143 with one line."""
    _terminated.append(True)
    raise Terminated()


MAX_MESSAGE = 2000  # characters of an error line; messages cap user values themselves


def _fail(message: str, code: int) -> None:
    from rich.console import Console
    from rich.markup import escape

    message = " ".join(message.split())  # one line, whatever a message embeds
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 25] + " ... (message truncated)"

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(message)}"
    )
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    _terminated.clear()
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> None:
    debug = os.environ.get("BERTUNE_DEBUG") == "1"
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:  # --help / --version with standalone_mode=False
        sys.exit(exc.exit_code)
    except typer.Abort:
        _interrupted(args)
    except typer.TyperException as exc:  # usage errors: unknown option, bad value, ...
        if debug:
            raise
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        if debug:
            raise
        _interrupted(args)
    except BertuneError as exc:
        if debug:
            raise
        _fail(str(exc), exc.exit_code)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    if code == 130 and not debug:  # Typer turns Ctrl-C into a silent exit code 130
        _interrupted(args)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
