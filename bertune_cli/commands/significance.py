"""`bertune significance`: paired bootstrap / approximate randomization, as sacrebleu 2.6."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from bertune_cli._options import (
    BatchSize,
    Device,
    Idf,
    Json,
    Layer,
    Lm,
    LmRun,
    Lowercase,
    Metrics,
    Rescale,
    Seed,
    Tokenize,
    bounded,
    existing_file,
    path,
)
from bertune_cli.commands.score import Bf16, Cache, CacheSize, MsLm, MsStopWords, say_settings

Ref = Annotated[Path, typer.Argument(help="Reference file.", show_default=False)]
Systems = Annotated[
    list[Path],
    typer.Argument(
        help="BASE SYS [SYS ...]: the baseline's output first, then the systems to compare.",
        show_default=False,
    ),
]
Test = Annotated[
    str,
    typer.Option(
        "--test",
        help="bs: paired bootstrap; ar: paired approximate "
        "randomization (exact when at most 20 lines differ).",
    ),
]
StrictCount = Annotated[
    bool,
    typer.Option(
        "--strict-count",
        help="Count only resamples (bs) or shuffles (ar) strictly more extreme "
        "than the observed difference, as sacrebleu 2.6 does (its p-values bit for bit; identical "
        "systems then get p = 1/(n+1), and AR's p is far too small when few lines differ). "
        "Default: at least as extreme; ar is exact up to 20 differing lines.",
    ),
]
Names = Annotated[
    Optional[list[str]],
    typer.Option(
        "--names",
        help="Short names of BASE SYS ... for the table (comma-separated or repeated; "
        "default: the file names without extension).",
        show_default=False,
    ),
]
Samples = Annotated[
    Optional[int],
    typer.Option(
        "--samples", min=1, help="Resamples / trials (default: 1000 for bs, 10000 for ar)."
    ),
]
Alpha = Annotated[
    float,
    typer.Option(
        "--alpha",
        callback=bounded(0, 1, True, True),
        help="Mark p-values below this with *; in (0, 1).",
    ),
]
PairedT = Annotated[
    bool, typer.Option("--paired-t", help="Also a paired t-test on sentence-level scores.")
]
Scores = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--scores",
        parser=existing_file,
        help="Per-sentence F_BERT from `bertune score --sentence-level`, one file per "
        "system in order (repeat --scores).",
    ),
]
ExtraRef = Annotated[
    Optional[list[Path]],
    typer.Option("--ref", parser=path, help="An additional reference file (repeatable)."),
]


def significance(
    ref: Ref,
    systems: Systems,
    metrics: Metrics = None,
    test: Test = "bs",
    samples: Samples = None,
    seed: Seed = None,
    alpha: Alpha = 0.05,
    paired_t: PairedT = False,
    scores: Scores = None,
    extra_ref: ExtraRef = None,
    lm: Lm = None,
    layer: Layer = None,
    model: LmRun = None,
    idf: Idf = False,
    rescale: Rescale = None,
    lowercase: Lowercase = None,
    tokenize: Tokenize = None,
    batch_size: BatchSize = 64,
    device: Device = "auto",
    json_out: Json = False,
    ms_lm: MsLm = None,
    ms_stop_words: MsStopWords = None,
    cache: Cache = None,
    cache_size_mb: CacheSize = 1024.0,
    strict_count: StrictCount = False,
    names: Names = None,
    bf16: Bf16 = False,
) -> None:
    """Is a system's improvement over the baseline significant? Every SYS vs BASE.

    The paired bootstrap draws sacrebleu 2.6's resamples (same scores, means and 95% CIs
    for the same seed: --seed, else $SACREBLEU_SEED, else 12345), for BLEU, chrF, TER and
    the sentence means F_BERT and MoverScore (-m moverscore, LM --ms-lm). Both tests count
    resamples/shuffles at least as extreme as the observed difference (identical systems:
    p = 1); approximate randomization is exact when at most 20 lines differ.
    --strict-count: sacrebleu's strict count, its p-values bit for bit.
    F_BERT is read from --scores files when given.

    Examples:
      [bold]bertune significance test.en base.en sys.en[/]
      [bold]bertune significance test.en base.en sys1.en sys2.en -m bleu -m chrf --test ar[/]
      [bold]bertune significance test.en base.en sys.en -m bertscore --scores base.tsv --scores sys.tsv --json[/]
      [bold]bertune significance test.en base.en sys1.en sys2.en -m bleu,chrf,bertscore,moverscore[/]
      [bold]bertune significance test.en base.en sys.en -m bertscore --cache ~/.cache/bertune/emb[/]
    """
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bar
    from bertune_cli.commands.prepare import PrepareProgress
    from bertune_cli.core.errors import UsageError
    from bertune_cli.core.evaluation.files import significance_from_files

    labels = [n.strip() for item in names or [] for n in item.split(",")]
    if labels and (len(labels) != len(systems) or not all(labels)):
        raise UsageError(
            f"--names gives {len(labels)} name(s) for {len(systems)} system files",
            "give one non-empty name per system, baseline first",
        )
    with PrepareProgress() as progress:
        report = significance_from_files(
            [ref, *(extra_ref or [])],
            systems,
            metrics,
            test=test,
            n_samples=samples or 0,
            seed=seed,
            paired_t=paired_t,
            strict_count=strict_count,
            scores=scores or (),
            lm=lm,
            layer=layer,
            model=model,
            idf=idf,
            rescale=rescale,
            lowercase=lowercase,
            tokenize=tokenize,
            batch_size=batch_size,
            device=device,
            ms_lm=ms_lm,
            ms_stop_words=ms_stop_words,
            cache=cache,
            cache_size_mb=cache_size_mb,
            bf16=bf16,
            labels=labels,
            progress=progress,
        )
    _print(report, alpha, json_out)


def _print(report, alpha: float, json_out: bool) -> None:
    import json

    from rich.console import Console
    from rich.markup import escape

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    say_settings(err, report.settings)
    for warning in report.warnings:  # stderr, as `score` does: --json stays one document
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    if json_out:
        typer.echo(json.dumps(report.to_dict(alpha), indent=2, ensure_ascii=False))
        return
    console = Console(highlight=False)
    console.print(_table(report, alpha))
    width = max(len(label) for label in report.labels)
    for label, name in zip(report.labels, report.names):  # each full path once
        console.print(f"{escape(label):<{width}}  {escape(name)}", soft_wrap=True)
    for m, sig in report.signatures.items():
        console.print(f"{escape(m)}: {escape(sig)}", soft_wrap=True)


def _table(report, alpha: float):
    """Systems by short label (full paths under the table), one column per metric: score
    (μ ± 95% CI where there is an interval), then p (and the t-test's)."""
    from rich.markup import escape
    from rich.table import Table

    if report.test == "bs":
        kind = "paired bootstrap" + (" (sacrebleu's strict count)" if report.strict_count else "")
    else:
        kind = (
            "approximate randomization (sacrebleu's strict count)"
            if report.strict_count
            else "approximate randomization (exact when at most 20 lines differ)"
        )
    unit = "samples" if report.test == "bs" else "trials"
    table = Table(
        title=f"{kind}, {report.n_samples} {unit}, seed {report.seed}; * p < {alpha}",
        title_justify="left",
    )
    table.add_column("system", min_width=max(len(label) for label in report.labels))
    with_ci = any(r[m].mean is not None for r in report.results for m in report.metrics)
    for m in report.metrics:
        table.add_column(f"{m}\n(μ ± 95% CI)" if with_ci else m, justify="right")
    for i, (label, res) in enumerate(zip(report.labels, report.results)):
        cells = [("Baseline: " if i == 0 else "") + escape(label)]
        for m in report.metrics:
            r = res[m]
            lines = [f"{r.score:.2f}"]
            if r.mean is not None:
                lines.append(f"({r.mean:.2f} ± {r.ci:.2f})")
            if r.p_value is not None:
                lines.append(f"p = {r.p_value:.4f}" + ("*" if r.p_value < alpha else ""))
                lines += ["(exact)"] if r.exact else []
            if r.t_p_value is not None:
                lines.append(f"t-test p = {r.t_p_value:.4f}")
            cells.append("\n".join(lines))
        table.add_row(*cells)
    return table
