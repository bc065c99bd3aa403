"""`bertune train-baseline`: train the Transformer NMT baseline (label-smoothed CE)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from bertune_cli._options import (
    Device,
    Json,
    MaxEpochs,
    MaxSteps,
    MaxTime,
    Overrides,
    Pair,
    RunsDir,
    path,
)

DataOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--data", parser=path, help="Prepared data directory (default: <runs>/<recipe>/data)."
    ),
]
OutOpt = Annotated[
    Optional[Path],
    typer.Option("--out", parser=path, help="Run directory (default: <runs>/<recipe>/baseline)."),
]


class TrackerChoice(str, Enum):
    mlflow = "mlflow"
    tensorboard = "tensorboard"


Track = Annotated[
    Optional[list[TrackerChoice]],
    typer.Option(
        "--track",
        help="Also log to a tracker (repeatable; adds to the recipe's tracking: list): "
        "mlflow ($MLFLOW_TRACKING_URI, default sqlite <runs>/mlflow.db) or tensorboard "
        "(<run>/tensorboard/).",
    ),
]


def with_trackers(recipe, track: list[TrackerChoice] | None):
    """The recipe with the --track trackers added to its ``tracking`` list."""
    import dataclasses

    names = dict.fromkeys([*recipe.tracking, *(t.value for t in track or [])])
    return dataclasses.replace(recipe, tracking=tuple(names))


def train_baseline(
    pair: Pair = "demo",
    overrides: Overrides = None,
    runs_dir: RunsDir = None,
    data: DataOpt = None,
    out: OutOpt = None,
    max_epochs: MaxEpochs = None,
    max_steps: MaxSteps = None,
    max_time: MaxTime = None,
    track: Track = None,
    device: Device = "auto",
    json_out: Json = False,
) -> None:
    """Train the NMT baseline: Adam, inverse-sqrt warm-up, label-smoothed CE, validation BLEU
    (beam search, sacreBLEU) every epoch, early stopping; keeps checkpoint_best/_last.

    Resume: re-run the same command after an interruption (Ctrl-C, kill -9).
    A finished run (DONE in the run directory) just reports its result.
    Multi-GPU / multi-node: launch with torchrun (only rank 0 writes).

    Examples:
      [bold]bertune train-baseline --pair demo[/]
      [bold]bertune train-baseline --pair multi30k-de-en --max-time 3600 --set train.lr=7e-4[/]
      [bold]torchrun --nproc-per-node 2 -m bertune_cli.main train-baseline --pair demo[/]
      [bold]bertune train-baseline --pair demo --track mlflow --track tensorboard[/]
    """
    from bertune_cli.core.config.recipe import load_recipe
    from bertune_cli.core.io.paths import stage_dir
    from bertune_cli.core.loops.train_baseline import train_baseline as run

    recipe = with_trackers(load_recipe(pair, overrides or []), track)
    if data is None:  # prepared data and LM: everything missing, named at once
        from bertune_cli.core.pipeline.preflight import check_runnable

        check_runnable(recipe, "train-baseline", None, runs_dir)
    with TrainProgress() as progress:
        summary = run(
            recipe,
            data or stage_dir(recipe.name, "data", runs_dir),
            out or stage_dir(recipe.name, "baseline", runs_dir),
            device=device,
            max_epochs=max_epochs,
            max_steps=max_steps,
            max_time=max_time,
            on_event=progress,
            runs_root=runs_dir,
        )
    print_summary(summary, json_out)


def print_summary(summary: dict[str, Any], json_out: bool) -> None:
    """The DONE summary: JSON on stdout, or a few readable lines (rank 0 only under torchrun)."""
    import json
    import os

    if os.environ.get("RANK", "0") != "0":
        return
    if json_out:
        typer.echo(json.dumps(summary, indent=1))
        return
    best = {k: v for k, v in summary["best"].items() if k != "update"}
    done = (
        "already complete" if summary.get("already_complete") else f"stopped: {summary['reason']}"
    )
    typer.echo(
        f"{done} after {summary['updates']} updates, {summary['epochs']} epochs, "
        f"{summary['elapsed']:.0f}s; best validation "
        + ", ".join(f"{k} {v:.2f}" for k, v in best.items())
        + f" (update {summary['best']['update']})"
    )
    if "test" in summary:
        typer.echo(f"test BLEU {summary['test']['bleu']:.2f}  {summary['test']['signature']}")
    typer.echo(f"model: {summary['checkpoint_best']}")


class TrainProgress:
    """Renders the training loop's events with rich on stderr (also used by finetune)."""

    def __enter__(self) -> "TrainProgress":
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True, highlight=False)
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "loss {task.fields[loss]:.3f}  {task.fields[tps]:,.0f} tok/s  "
                "lr {task.fields[lr]:.2e}"
            ),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.task = None
        self.said: set[str] = set()
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "start":
            self.task = self.progress.add_task(
                "train",
                total=event["total"],
                completed=event["updates"],
                epoch=event["epoch"],
                loss=float("nan"),
                tps=0.0,
                lr=0.0,
            )
            if event["resumed"]:
                self.console.print(
                    f"resuming at update {event['updates']} (epoch {event['epoch']})"
                )
        elif kind == "step" and self.task is not None:
            self.progress.update(
                self.task,
                completed=event["update"],
                epoch=event["epoch"],
                loss=event["loss"],
                tps=event["tokens_per_s"],
                lr=event["lr"],
            )
        elif kind == "skip":  # a non-finite loss/gradient: the update was not applied
            what = (
                f"loss {event['loss']}"
                if event["loss"] != event["loss"] or abs(event["loss"]) == float("inf")
                else f"gradient norm {event['gnorm']}"
            )
            self.console.print(
                f"[yellow]warning:[/] update {event['update']} skipped ({what}); "
                f"{event['bad']} in a row, stopping at {event['max_bad']}"
            )
        elif kind == "impl" and event["impl"] not in self.said:  # once per command
            self.said.add(event["impl"])
            what = {"torch": "PyTorch reference", "triton": "Triton kernels"}[event["impl"]]
            self.console.print(f"soft-embedding: {what} ({event['reason']})", markup=False)
        elif kind == "valid":
            metrics = "  ".join(f"{k} {event[k]:.2f}" for k in ("bleu", "bertscore") if k in event)
            mark = "  [green]best[/]" if event["is_best"] else f"  (no gain: {event['bad']})"
            self.console.print(
                f"epoch {event['epoch']} update {event['update']}: valid loss "
                f"{event['valid_loss']:.3f}  {metrics}{mark}"
            )
