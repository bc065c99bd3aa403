"""`bertune score`: BLEU / chrF / TER (sacrebleu), F_BERT (exact BERTScore) and MoverScore,
signed."""

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
    Tokenize,
    existing_file,
    number,
    path,
)

Hyp = Annotated[
    Path, typer.Argument(help="Hypothesis file, one segment per line.", show_default=False)
]
Refs = Annotated[
    list[Path],
    typer.Argument(
        help="Reference file(s); several files = several references per segment.",
        show_default=False,
    ),
]
SentenceLevel = Annotated[
    Optional[Path],
    typer.Option(
        "--sentence-level",
        parser=path,
        help="Also write per-sentence scores here (.tsv, or .jsonl) for "
        "`bertune significance --scores`; other extensions are refused.",
    ),
]
Cache = Annotated[
    Optional[Path],
    typer.Option(
        "--cache",
        parser=path,
        help="Folder caching F_BERT's reference embeddings (keyed by LM, layer, "
        "tokenizer and text), so scoring more systems against the same references later embeds "
        "them once. Safe for concurrent runs.",
        show_default=False,
    ),
]
# MoverScore's options (also used by `bertune significance`)
MsLm = Annotated[
    Optional[str],
    typer.Option(
        "--ms-lm",
        help="LM for MoverScore (-m moverscore; its last layer): 'minilm' (bundled, "
        "default), an HF model id or a folder. Independent of --lm, as in the paper.",
    ),
]
MsStopWords = Annotated[
    Optional[Path],
    typer.Option(
        "--ms-stop-words",
        parser=existing_file,
        help="MoverScore stop-word file (words separated by spaces/newlines; they get weight 0).",
        show_default=False,
    ),
]
CacheSize = Annotated[
    float,
    typer.Option(
        "--cache-size-mb",
        parser=number(1),
        help="Size bound of --cache; least recently used entries are evicted.",
    ),
]
Bf16 = Annotated[
    bool,
    typer.Option(
        "--bf16",
        help="Run F_BERT's LM under bf16 autocast (faster on a GPU, not the float32 "
        "numbers; signed '_bf16'). Default: float32 on every device.",
    ),
]


def score(
    hyp: Hyp,
    refs: Refs,
    metrics: Metrics = None,
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
    sentence_level: SentenceLevel = None,
    cache: Cache = None,
    cache_size_mb: CacheSize = 1024.0,
    ms_lm: MsLm = None,
    ms_stop_words: MsStopWords = None,
    bf16: Bf16 = False,
) -> None:
    """Score a hypothesis file against one or more reference files, every number signed.

    BLEU, chrF and TER are sacrebleu's (same numbers and signatures); F_BERT is bertune's
    BERTScore, equal to bert_score's F1 for the same LM, layer and idf setting (100 × mean
    F; P and R beside it). Default LM: the bundled MiniLM, layer 5 (offline). MoverScore
    (-m moverscore) is moverscore_v2's (idf, last layer, 100 × mean) with its own --ms-lm.
    --model scores as the run's recipe does (LM, layer, lowercase, tokenizer, MoverScore LM);
    options given win.

    Examples:
      [bold]bertune score out.en test.en[/]
      [bold]bertune score out.en test.en test2.en -m bleu -m chrf -m ter -m bertscore[/]
      [bold]bertune score out.en test.en -m bertscore --idf --lm bert-base-uncased --layer 9[/]
      [bold]bertune score out.en test.en --model runs/demo/finetune-gumbel --sentence-level out.tsv --json[/]
      [bold]bertune score sys2.en test.en -m bertscore --cache ~/.cache/bertune/emb[/]
      [bold]bertune score out.en test.en -m bleu,bertscore,moverscore --ms-lm bert-base-uncased[/]
    """
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bar
    from bertune_cli.commands.prepare import PrepareProgress
    from bertune_cli.core.evaluation.files import score_files

    with PrepareProgress() as progress:
        report = score_files(
            hyp,
            refs,
            metrics,
            lm=lm,
            layer=layer,
            model=model,
            idf=idf,
            rescale=rescale,
            lowercase=lowercase,
            tokenize=tokenize,
            batch_size=batch_size,
            device=device,
            sentence_level=sentence_level,
            cache=cache,
            cache_size_mb=cache_size_mb,
            ms_lm=ms_lm,
            ms_stop_words=ms_stop_words,
            bf16=bf16,
            progress=progress,
        )
    _print(report, json_out)
    if report.output_error is not None:  # the table is out; now the side file's one line
        raise report.output_error


def _print(report, json_out: bool) -> None:
    import json

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    say_settings(err, report.to_dict()["settings"])
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return
    table = Table(
        title=f"{escape(report.hyp)} vs {escape(', '.join(report.refs))} ({report.lines} segments)",
        title_justify="left",
    )
    for col, justify in (("metric", "left"), ("score", "right"), ("details", "left")):
        table.add_column(col, justify=justify)
    for r in report.results:
        table.add_row(r.name, f"{r.score:.2f}", escape(_details(r)))
    out = Console(highlight=False)
    out.print(table)
    for r in report.results:
        out.print(f"{escape(r.name)}: {escape(r.signature)}", soft_wrap=True)
    if report.sentence_level:
        err.print(f"sentence-level scores: {escape(report.sentence_level)}")


def say_settings(err, settings: dict | None) -> None:
    """One stderr line when the settings came from a run's recipe (``--model``)."""
    from rich.markup import escape

    if settings and settings["source"] != "options":
        err.print(
            f"evaluation settings of the {escape(settings['source'])}: "
            f"{'lowercase' if settings['lowercase'] else 'cased'}, tokenizer "
            f"{settings['tokenize']}"
        )


def _details(r) -> str:
    d = r.details
    if "precisions" in d:
        return (
            "/".join(f"{p:.1f}" for p in d["precisions"])
            + f" BP {d['bp']:.3f} ratio {d['ratio']:.3f}"
        )
    if "P" in d:
        return f"P {d['P']:.2f} R {d['R']:.2f}"
    return ""
