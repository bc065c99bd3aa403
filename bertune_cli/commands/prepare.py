"""`bertune prepare`: raw parallel text -> the data directory that training reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from bertune_cli._options import Json, Overrides, Pair, RawDataDir, RunsDir, path

SrcFile = Annotated[
    Optional[list[str]],
    typer.Option(
        "--src-file",
        metavar="SPLIT=PATH",
        help="Source file of a split (train/valid/test; .gz "
        "or URL accepted), repeatable; switches the recipe to data.source=files.",
    ),
]
TgtFile = Annotated[
    Optional[list[str]],
    typer.Option("--tgt-file", metavar="SPLIT=PATH", help="Target file of a split, as --src-file."),
]
OutOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--out", parser=path, help="Data directory to write (default: <runs>/<recipe>/data)."
    ),
]
Force = Annotated[bool, typer.Option("--force", help="Rebuild even when the data is up to date.")]


def prepare(
    pair: Pair = "demo",
    overrides: Overrides = None,
    data_dir: RawDataDir = None,
    src_file: SrcFile = None,
    tgt_file: TgtFile = None,
    out: OutOpt = None,
    runs_dir: RunsDir = None,
    force: Force = False,
    json_out: Json = False,
) -> None:
    """Prepare a recipe's corpus: read/download, Moses-tokenize, clean (empty, > 175 tokens,
    ratio > 1.5), learn the source BPE, encode the target with the LM's WordPiece vocabulary,
    and write a data directory with a manifest. Re-running with the same inputs is a no-op.

    Examples:
      [bold]bertune prepare --pair demo[/]
      [bold]bertune prepare --pair multi30k-de-en --data-dir ../shared/data/multi30k[/]
      [bold]bertune prepare --pair iwslt14-de-en --data-dir ~/corpora   # holds de-en.tgz[/]
      [bold]bertune prepare --pair hi-en --set data.csv=Hindi_English_Truncated_Corpus.csv[/]
      [bold]bertune prepare --pair demo --src-file train=c.de.gz --tgt-file train=c.en.gz[/]
    """
    from bertune_cli.core.config.recipe import load_recipe, with_values
    from bertune_cli.core.data.prepare import prepare as run
    from bertune_cli.core.io.paths import stage_dir

    recipe = load_recipe(pair, list(overrides or []))
    recipe = with_values(recipe, file_values(recipe, src_file or [], tgt_file or []))
    # everything missing (corpus, LM), named at once before any work; for prepare it does
    # not depend on where the data goes, so --out is checked the same way
    from bertune_cli.core.pipeline.preflight import check_runnable

    check_runnable(recipe, "prepare", data_dir, runs_dir)
    with PrepareProgress(enabled=not json_out) as progress:
        result = run(
            recipe,
            out or stage_dir(recipe.name, "data", runs_dir),
            data_dir=data_dir,
            progress=progress,
            force=force,
        )
    print_result(result, json_out)


def file_values(recipe, src: list[str], tgt: list[str]) -> dict[str, Any]:
    """``--src-file/--tgt-file SPLIT=PATH`` -> typed recipe values (``data.files`` merged
    over the recipe's, absolute paths so data.root does not apply, ``data.source: files``)."""
    import dataclasses

    from bertune_cli.core.data.raw import is_url
    from bertune_cli.core.errors import UsageError

    files = {k: dataclasses.asdict(v) for k, v in recipe.data.files.items()}
    for side, items in (("src", src), ("tgt", tgt)):
        for item in items:
            split, sep, path = item.partition("=")
            if not sep or split not in ("train", "valid", "test") or not path:
                raise UsageError(
                    f"--{side}-file {item!r}: expected SPLIT=PATH with SPLIT one "
                    "of train, valid, test",
                    "e.g. --src-file train=corpus.de.gz",
                )
            where = path if is_url(path) else str(Path(path).expanduser().absolute())
            files.setdefault(split, {})[side] = where
    return {"data.files": files, "data.source": "files"} if src or tgt else {}


def print_result(result: Any, json_out: bool) -> None:
    """A table of counts per split (or the manifest as JSON) on stdout."""
    import json

    from rich.console import Console
    from rich.table import Table

    m = result.manifest
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "out_dir": str(result.out_dir),
                    "cached": result.cached,
                    "elapsed_s": round(result.elapsed, 2),
                    "manifest": m,
                },
                indent=1,
            )
        )
        return
    state = "up to date, nothing to do" if result.cached else f"prepared in {result.elapsed:.1f}s"
    table = Table(title=f"{result.out_dir}: {state}", title_justify="left")
    for col in ("split", "read", "dropped", "pairs", "src tokens", "tgt tokens"):
        table.add_column(col, justify="left" if col in ("split", "dropped") else "right")
    for name, split in m["splits"].items():
        clean = m["cleaning"].get(name)
        drops = ", ".join(
            f"{s['step'].replace('_', ' ')} {s['dropped']:,}"
            for s in (clean["steps"][1:] if clean else [])
            if s["dropped"]
        )
        table.add_row(
            name,
            f"{clean['read']:,}" if clean else "from train",
            drops or "-",
            f"{split['pairs']:,}",
            f"{split['src_tokens']:,}",
            f"{split['tgt_tokens']:,}",
        )
    console = Console(highlight=False)
    console.print(table)
    v = m["vocab"]
    console.print(
        f"source BPE vocab {v['source']:,} · target vocab {v['target']:,} "
        f"({m['lm']['name']}) · shortlist {v['shortlist']:,} · settings "
        f"{m['settings_hash']}"
    )


class PrepareProgress:
    """Renders ``progress(step, done, total)`` calls as rich progress bars on stderr."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> "PrepareProgress":
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
            disable=not self.enabled,
        )
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, step: str, done: int, total: int | None) -> None:
        if step not in self.tasks:
            self.tasks[step] = self.progress.add_task(step, total=total)
        self.progress.update(self.tasks[step], completed=done, total=total)
