"""`bertune ablate`: does a fine-tuning objective beat continued training? Arms vs a control."""

from __future__ import annotations

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
    RawDataDir,
    RunsDir,
    path,
    seed_list,
)
from bertune_cli.commands.train_baseline import Track

Arms = Annotated[
    str,
    typer.Option(
        "--arms",
        help="Comma-separated arms: ce (CE continuation, the recipe's fine-tuning "
        "schedule: the control), ce-cont (CE, no re-warm-up: the start's optimizer and schedule), "
        "dense, sparsemax, gumbel (BERTTune with the recipe's ce_weight), dense-only, "
        "sparsemax-only, gumbel-only (F_BERT alone), paper (the authors' protocol).",
    ),
]
SeedList = Annotated[
    str,
    typer.Option(
        "--seeds", help="Comma-separated run seeds (0 … 2^32−1); every arm runs every seed."
    ),
]
Control = Annotated[
    str,
    typer.Option("--control", help="The arm every other arm is tested against (one of --arms)."),
]
From = Annotated[
    Optional[Path],
    typer.Option(
        "--from",
        parser=path,
        help="Checkpoint or run folder every arm starts from (default: the recipe's "
        "baseline best checkpoint, trained first if missing).",
    ),
]
Out = Annotated[
    Optional[Path],
    typer.Option(
        "--out",
        parser=path,
        help="Study folder (default: <runs>/<recipe>/ablate): one run folder per arm and "
        "seed, ablate.md, ablate.json, ablate_curves.png.",
    ),
]
ReportOnly = Annotated[
    bool,
    typer.Option(
        "--report-only",
        help="Train nothing: summarize the finished runs of --arms × --seeds (a "
        "study in progress, or arms run with different seeds).",
    ),
]


def ablate(
    pair: Pair = "demo",
    arms: Arms = "ce,dense,sparsemax,gumbel",
    seeds: SeedList = "1",
    control: Control = "ce",
    init_from: From = None,
    out: Out = None,
    overrides: Overrides = None,
    runs_dir: RunsDir = None,
    data_dir: RawDataDir = None,
    max_epochs: MaxEpochs = None,
    max_steps: MaxSteps = None,
    max_time: MaxTime = None,
    track: Track = None,
    device: Device = "auto",
    report_only: ReportOnly = False,
    json_out: Json = False,
) -> None:
    """A controlled study: arms from one checkpoint, each tested against a control.

    All arms share the start, the data order, the update budget,
    the validation schedule, the selection rule and the seeds.
    Each arm × seed is an ordinary fine-tuning run folder:
    re-run the same command to resume; finished runs are only reported,
    and a failed run leaves the others intact.
    Then the test set is scored (BLEU, chrF, F_BERT, MoverScore) and every
    arm is compared with the control: paired bootstrap (seed-paired),
    Holm-corrected over arms × metrics, beside each arm's output entropy.

    Examples:
      [bold]bertune ablate --pair demo --arms ce,dense,gumbel --seeds 1,2[/]
      [bold]bertune ablate --pair multi30k-de-en --data-dir ../shared/data/multi30k --arms ce,ce-cont,dense,sparsemax,gumbel,gumbel-only,paper --seeds 1,2[/]
      [bold]bertune ablate --pair demo --arms ce,dense,gumbel --seeds 1,2 --report-only[/]
    """
    from bertune_cli.commands.train_baseline import TrainProgress, with_trackers
    from bertune_cli.core.config.recipe import load_recipe
    from bertune_cli.core.pipeline.ablate import run_ablate
    from bertune_cli.core.pipeline.arms import parse_arms

    arm_list = parse_arms(arms, control)  # usage errors before anything is created
    seeds_given = seed_list(seeds)
    recipe = with_trackers(load_recipe(pair, overrides or []), track)
    with TrainProgress() as progress:
        summary = run_ablate(
            recipe,
            arm_list,
            seeds_given,
            control=control,
            runs_root=runs_dir,
            out=out,
            init_from=init_from,
            device=device,
            raw_data_dir=data_dir,
            on_event=progress,
            report_only=report_only,
            say=lambda line: progress.console.print(line, markup=False),
            max_epochs=max_epochs,
            max_steps=max_steps,
            max_time=max_time,
        )
    _print(summary, json_out)
    if summary.get("failed"):
        from bertune_cli.core.errors import TrainingError

        raise TrainingError(
            f"{len(summary['failed'])} run(s) of the study failed (listed in "
            f"{summary['files']['markdown']}); the others are summarized",
            "fix the cause and re-run the same command: finished runs are kept",
        )


def _print(summary: dict[str, Any], json_out: bool) -> None:
    import json

    if json_out:
        typer.echo(json.dumps(summary, indent=1, default=str))
        return
    from bertune_cli.core.pipeline.ablate_report import render_markdown

    typer.echo(render_markdown(summary))
    for kind, where in summary["files"].items():
        typer.echo(f"{kind}: {where}")
