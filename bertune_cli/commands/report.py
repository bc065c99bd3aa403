"""`bertune report`: learning curves, sparsity, results and error analysis of runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bertune_cli._options import Device, Json, RunsDir, Seed, path

Runs = Annotated[
    list[str],
    typer.Argument(
        help="Run directories (a baseline and fine-tunes), a runs/<recipe> folder (all its runs) "
        "or a recipe name.",
        show_default=False,
    ),
]
Out = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        parser=path,
        help="Folder for report.md, the PNGs and "
        "report.json (replaced if it holds an older report).",
    ),
]
Html = Annotated[
    bool,
    typer.Option(
        "--html", help="Also write report.html, one self-contained file with the images inlined."
    ),
]
MaxSentences = Annotated[
    int,
    typer.Option(
        "--max-sentences", min=1, help="Sentences used for the entropy analysis (CPU budget)."
    ),
]
EntropySplit = Annotated[
    str, typer.Option("--entropy-split", help="Split of the entropy analysis: valid or test.")
]
Top = Annotated[
    int, typer.Option("--top", min=0, help="Largest gains/losses to show per fine-tune.")
]
Samples = Annotated[int, typer.Option("--samples", min=1, help="Paired bootstrap resamples.")]
Mover = Annotated[
    bool, typer.Option("--moverscore/--no-moverscore", help="Add MoverScore to the results.")
]


def report(
    runs: Runs,
    out: Out = Path("report"),
    html: Html = False,
    max_sentences: MaxSentences = 200,
    entropy_split: EntropySplit = "valid",
    top: Top = 5,
    samples: Samples = 1000,
    seed: Seed = None,
    moverscore: Mover = True,
    device: Device = "auto",
    runs_dir: RunsDir = None,
    json_out: Json = False,
) -> None:
    """Report on runs: learning curves, sparsity of predictions, test results with p-values
    and an error analysis of every fine-tune against the baseline.

    Writes OUT/report.md with its PNGs and report.json (--html: one self-contained HTML file).

    Examples:
      [bold]bertune report runs/demo --out report/[/]
      [bold]bertune report demo --out report/ --html[/]
      [bold]bertune report runs/demo/baseline runs/demo/finetune-gumbel -o r/ --json[/]
    """
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from bertune_cli.core.report.build import check_report_out, make_report
    from bertune_cli.core.system.extras import require_all

    require_all(("matplotlib",), "bertune report")  # the figures; before any work
    check_report_out(out)

    with _StageProgress() as progress:
        summary = make_report(
            runs,
            out,
            runs_root=runs_dir,
            html=html,
            max_sentences=max_sentences,
            entropy_split=entropy_split,
            top=top,
            n_samples=samples,
            seed=seed,
            moverscore=moverscore,
            device=device,
            on_stage=progress,
        )
    _print(summary, json_out)


class _StageProgress:
    """The report's stages on stderr (bertune_cli/_progress.py): a bar on a terminal, plain
    lines when piped; the current stage as its description, stages done / total."""

    def __enter__(self) -> "_StageProgress":
        from bertune_cli._progress import Progress

        self.progress = Progress("report", description="loading the runs").__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, name: str, done: int, total: int) -> None:
        self.progress.update(description=name, completed=done, total=total)


def _print(summary: dict, json_out: bool) -> None:
    import json

    from rich.console import Console
    from rich.markup import escape

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for w in summary["warnings"]:
        err.print(f"[yellow]warning:[/] {escape(w)}")
    if json_out:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    res = summary["results"]
    out = Console(highlight=False, soft_wrap=True)
    for s in res["systems"]:
        cells = [
            f"{m} {s['scores'][m]:.2f}"
            + (f" (p {s['p_values'][m]:.3f})" if s["p_values"][m] is not None else "")
            for m in res["metrics"]
        ]
        out.print(f"{escape(s['label'])}: " + ", ".join(cells))
    out.print(
        f"report: {escape(summary['report'])}"
        + (f", {escape(summary['html'])}" if summary["html"] else "")
    )
