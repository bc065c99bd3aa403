"""`bertune finetune`: BERTTune — fine-tune on −F_BERT of soft predictions (stages first)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from bertune_cli._options import (
    Device,
    Json,
    Layer,
    Lm,
    MaxEpochs,
    MaxSteps,
    MaxTime,
    Overrides,
    Pair,
    RawDataDir,
    RunsDir,
    number,
    path,
    seed_list,
)
from bertune_cli.commands.train_baseline import Track


class SoftMode(str, Enum):
    dense = "dense"
    sparsemax = "sparsemax"
    gumbel = "gumbel"


class ImplChoice(str, Enum):
    auto = "auto"
    torch = "torch"
    triton = "triton"


Soft = Annotated[
    Optional[str],
    typer.Option(
        "--soft",
        help="Soft prediction fed to the LM as p·E: dense (softmax), sparsemax or gumbel "
        "(Gumbel-softmax); default: the recipe's. Several, comma-separated "
        "(dense,sparsemax,gumbel), run the grid with --seeds.",
    ),
]
Seeds = Annotated[
    Optional[str],
    typer.Option(
        "--seeds",
        help="Comma-separated run seeds (e.g. 1,2,3): one independent run per mode and "
        "seed in finetune-<soft>-seed<k>/, then a mean ± sd summary (grid.md).",
    ),
]
Tau = Annotated[
    Optional[float],
    typer.Option(
        "--tau",
        parser=number(0, low_open=True),
        help="Gumbel-softmax temperature, > 0 (default 0.1).",
    ),
]
Hard = Annotated[
    Optional[bool],
    typer.Option(
        "--hard/--soft-sample", help="Straight-through Gumbel (one-hot forward, soft backward)."
    ),
]
CeWeight = Annotated[
    Optional[float],
    typer.Option(
        "--ce-weight",
        parser=number(0, 1),
        help="λ: loss = (1−λ)·(−F_BERT) + λ·label-smoothed CE (default 0, the paper).",
    ),
]
From = Annotated[
    Optional[Path],
    typer.Option(
        "--from",
        parser=path,
        help="Checkpoint or run folder to start from (default: the recipe's baseline "
        "best checkpoint, trained first if missing).",
    ),
]
Impl = Annotated[
    Optional[ImplChoice],
    typer.Option("--impl", help="Soft-embedding kernels: torch reference, Triton (GPU), or auto."),
]


def finetune(
    pair: Pair = "demo",
    overrides: Overrides = None,
    runs_dir: RunsDir = None,
    data_dir: RawDataDir = None,
    soft: Soft = None,
    seeds: Seeds = None,
    tau: Tau = None,
    hard: Hard = None,
    ce_weight: CeWeight = None,
    lm: Lm = None,
    layer: Layer = None,
    init_from: From = None,
    impl: Impl = None,
    max_epochs: MaxEpochs = None,
    max_steps: MaxSteps = None,
    max_time: MaxTime = None,
    track: Track = None,
    device: Device = "auto",
    json_out: Json = False,
) -> None:
    """BERTTune: fine-tune by maximising a differentiable BERTScore (F_BERT) of soft predictions.

    Runs the missing stages first: prepare → train-baseline → finetune
    (each skipped when complete, resumed when interrupted).
    Validates BLEU and F_BERT every epoch (early stopping on BLEU),
    then scores the test set before and after fine-tuning.
    Output: runs/<recipe>/finetune-<soft>/ (test.hyp.txt, test_comparison.json, checkpoints).
    With several modes and/or --seeds: one run per mode and seed, then a summary
    (mean ± sd over seeds, paired bootstrap of every run) in runs/<recipe>/grid.md.

    Examples:
      [bold]bertune finetune --pair demo --soft gumbel[/]
      [bold]bertune finetune --pair iwslt14-de-en --soft sparsemax --max-epochs 3[/]
      [bold]bertune finetune --pair demo --soft dense --from runs/demo/baseline --ce-weight 0.5[/]
      [bold]bertune finetune --pair multi30k-de-en --data-dir ../shared/data/multi30k[/]
      [bold]bertune finetune --pair demo --soft dense,sparsemax,gumbel --seeds 1,2,3[/]
    """
    from bertune_cli.commands.train_baseline import TrainProgress, with_trackers
    from bertune_cli.core.config.recipe import load_recipe
    from bertune_cli.core.pipeline.run import run_pipeline

    softs, seed_list = _grid_values(soft, seeds)
    sets = {
        "finetune.soft": softs[0] if len(softs) == 1 else None,
        "finetune.tau": tau,
        "finetune.hard": hard,
        "finetune.ce_weight": ce_weight,
        "finetune.impl": impl,
        "lm.name": lm,
        "lm.layer": layer,
    }
    recipe = load_recipe(pair, overrides or [], values=sets)  # typed: never read as YAML
    recipe = with_trackers(recipe, track)
    with TrainProgress() as progress:
        common = dict(
            runs_root=runs_dir,
            init_from=init_from,
            device=device,
            raw_data_dir=data_dir,
            on_event=progress,
            max_epochs=max_epochs,
            max_steps=max_steps,
            max_time=max_time,
            say=lambda line: progress.console.print(line, markup=False),
        )
        if len(softs) > 1 or seed_list:
            from bertune_cli.core.pipeline.grid import run_grid

            grid = run_grid(recipe, softs or [recipe.finetune.soft], seed_list or [None], **common)
        else:
            result = run_pipeline(recipe, **common)
    if len(softs) > 1 or seed_list:
        print_grid(grid, json_out)
    else:
        print_result(result, json_out)


def _grid_values(soft: str | None, seeds: str | None) -> tuple[list[str], list[int]]:
    """``--soft a,b`` and ``--seeds 1,2`` as lists (usage errors name the bad value)."""
    softs = [s.strip() for s in soft.split(",")] if soft is not None else []
    for s in softs:
        if s not in SoftMode.__members__:
            raise typer.BadParameter(
                f"{s[:40]!r} is not one of dense, sparsemax, gumbel "
                "(e.g. --soft gumbel or --soft dense,sparsemax,gumbel)",
                param_hint="--soft",
            )
    return softs, seed_list(seeds)


def print_grid(grid: dict[str, Any], json_out: bool) -> None:
    """The grid's summary table (or everything as JSON)."""
    import json

    if json_out:
        typer.echo(json.dumps(grid, indent=1, default=str))
        return
    summary = grid["summary"]
    for run in summary.get("runs", []):
        typer.echo(
            f"{run['soft']} seed {run['seed']}: {run['updates']} updates "
            f"({run['reason']}); {run['run_dir']}"
        )
    if summary:
        from bertune_cli.core.pipeline.grid import render_markdown

        typer.echo(render_markdown(summary))
        typer.echo(f"summary: {summary['files']['markdown']} (and {summary['files']['json']})")


def print_result(result: dict[str, Any], json_out: bool) -> None:
    """Where the outputs are and the before/after scores (or everything as JSON)."""
    import json

    if json_out:
        typer.echo(json.dumps(result, indent=1, default=str))
        return
    ft, report = result["finetune"], result["report"]
    done = "already complete" if ft.get("already_complete") else f"stopped: {ft['reason']}"
    rate = f", {ft['steps_per_s']:.2f} updates/s" if ft.get("steps_per_s") else ""
    typer.echo(
        f"finetune ({ft.get('soft', '')}) {done} after {ft['updates']} updates{rate}; "
        f"model: {ft['checkpoint_best']}"
    )
    if not report:
        return
    p = report.get("significance", {}).get("p_values", {})
    typer.echo(f"test set ({report['sentences']} sentences)      BLEU   F_BERT   MoverScore")
    for name, s in report["scores"].items():
        typer.echo(
            f"  {name:<27}{s['bleu']:6.2f}   {s['bertscore']:6.2f}   "
            f"{s.get('moverscore', float('nan')):6.2f}"
        )
    if p:
        typer.echo(
            f"  paired bootstrap p-value   {p.get('BLEU', float('nan')):6.4f}   "
            f"{p.get('F_BERT', float('nan')):6.4f}   "
            f"{p.get('MoverScore', float('nan')):6.4f}"
        )
    for name, where in report["outputs"].items():
        typer.echo(f"{name} translations: {where}")
    typer.echo(f"report: {report['report_file']}")
    typer.echo(f"BLEU: {report['signatures']['bleu']}\nF_BERT: {report['signatures']['bertscore']}")
    if "moverscore" in report["signatures"]:
        typer.echo(f"MoverScore: {report['signatures']['moverscore']}")
