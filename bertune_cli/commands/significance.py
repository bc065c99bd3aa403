"""`bertune significance`: paired bootstrap / approximate randomization, as sacrebleu 2.6."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from bertune_cli._options import (BatchSize, Device, Idf, Json, Layer, Lm, LmRun, Lowercase,
                                  Metrics, Rescale, Seed, Tokenize, bounded, existing_file,
                                  path)
from bertune_cli.commands.score import Cache, CacheSize, MsLm, MsStopWords

Ref = Annotated[Path, typer.Argument(help="Reference file.", show_default=False)]
Systems = Annotated[list[Path], typer.Argument(
    help="BASE SYS [SYS ...]: the baseline's output first, then the systems to compare.",
    show_default=False)]
Test = Annotated[str, typer.Option("--test", help="bs: paired bootstrap; ar: paired approximate "
                                   "randomization.")]
Samples = Annotated[Optional[int], typer.Option(
    "--samples", min=1, help="Resamples / trials (default: 1000 for bs, 10000 for ar).")]
Alpha = Annotated[float, typer.Option("--alpha", callback=bounded(0, 1, True, True),
                                      help="Mark p-values below this with *; in (0, 1).")]
PairedT = Annotated[bool, typer.Option("--paired-t", help="Also a paired t-test on sentence-level"
                                       " scores.")]
Scores = Annotated[Optional[list[Path]], typer.Option(
    "--scores", parser=existing_file, help="Per-sentence F_BERT from `bertune score --sentence-level`, one file per "
    "system in order (repeat --scores).")]
ExtraRef = Annotated[Optional[list[Path]], typer.Option(
    "--ref", parser=path, help="An additional reference file (repeatable).")]


def significance(ref: Ref, systems: Systems, metrics: Metrics = None, test: Test = "bs",
                 samples: Samples = None, seed: Seed = None, alpha: Alpha = 0.05,
                 paired_t: PairedT = False, scores: Scores = None, extra_ref: ExtraRef = None,
                 lm: Lm = None, layer: Layer = None, model: LmRun = None, idf: Idf = False,
                 rescale: Rescale = None, lowercase: Lowercase = False,
                 tokenize: Tokenize = None, batch_size: BatchSize = 64,
                 device: Device = "auto", json_out: Json = False, ms_lm: MsLm = None,
                 ms_stop_words: MsStopWords = None, cache: Cache = None,
                 cache_size_mb: CacheSize = 1024.0) -> None:
    """Is a system's improvement over the baseline significant? Every SYS vs BASE.

    Reproduces sacrebleu 2.6's paired tests exactly (same scores, p-values, means and 95%
    CIs for the same seed: --seed, else $SACREBLEU_SEED, else 12345), for BLEU, chrF, TER
    and the sentence means F_BERT and MoverScore (-m moverscore, LM --ms-lm). F_BERT is read
    from --scores files when given.

    Examples:
      [bold]bertune significance test.en base.en sys.en[/]
      [bold]bertune significance test.en base.en sys1.en sys2.en -m bleu -m chrf --test ar[/]
      [bold]bertune significance test.en base.en sys.en -m bertscore --scores base.tsv --scores sys.tsv --json[/]
      [bold]bertune significance test.en base.en sys1.en sys2.en -m bleu,chrf,bertscore,moverscore[/]
      [bold]bertune significance test.en base.en sys.en -m bertscore --cache ~/.cache/bertune/emb[/]
    """
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bar
    from bertune_cli.core.significance import significance_from_files

    report = significance_from_files(
        [ref, *(extra_ref or [])], systems, metrics, test=test, n_samples=samples or 0, seed=seed,
        paired_t=paired_t, scores=scores or (), lm=lm, layer=layer, model=model, idf=idf,
        rescale=rescale, lowercase=lowercase, tokenize=tokenize, batch_size=batch_size,
        device=device, ms_lm=ms_lm, ms_stop_words=ms_stop_words, cache=cache,
        cache_size_mb=cache_size_mb)
    _print(report, alpha, json_out)


def _print(report, alpha: float, json_out: bool) -> None:
    import json

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for warning in report.warnings:  # stderr, as `score` does: --json stays one document
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    if json_out:
        typer.echo(json.dumps(report.to_dict(alpha), indent=2, ensure_ascii=False))
        return
    kind = {"bs": "paired bootstrap", "ar": "approximate randomization"}[report.test]
    table = Table(title=f"{kind}, {report.n_samples} samples, seed {report.seed}; * p < {alpha}",
                  title_justify="left")
    table.add_column("system", overflow="fold")
    for m in report.metrics:
        table.add_column(f"{m} (μ ± 95% CI)", justify="right")
    for i, (name, res) in enumerate(zip(report.names, report.results)):
        cells = [("Baseline: " if i == 0 else "") + escape(name)]
        for m in report.metrics:
            r = res[m]
            text = f"{r.score:.2f}" + (f" ({r.mean:.2f} ± {r.ci:.2f})" if r.mean is not None
                                       else "")
            if r.p_value is not None:
                text += f"\np = {r.p_value:.4f}" + ("*" if r.p_value < alpha else "")
            if r.t_p_value is not None:
                text += f"\nt-test p = {r.t_p_value:.4f}"
            cells.append(text)
        table.add_row(*cells)
    console = Console(highlight=False)
    console.print(table)
    for m, sig in report.signatures.items():
        console.print(f"{escape(m)}: {escape(sig)}", soft_wrap=True)
