"""`bertune export`: convert a checkpoint for a faster inference engine (CTranslate2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bertune_cli._options import Json, path

ModelOpt = Annotated[
    Path,
    typer.Option(
        "--model",
        "-m",
        parser=path,
        help="Run directory (uses its checkpoint_best) or a checkpoint folder.",
    ),
]
Format = Annotated[str, typer.Option("--format", help="Target format: ctranslate2.")]
Quantization = Annotated[
    str,
    typer.Option(
        "--quantization", "-q", help="Weights: float32 (exact), int8, int8_float32, float16."
    ),
]
Out = Annotated[
    Path, typer.Option("--out", "-o", parser=path, help="Folder to write (atomically).")
]
Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Replace --out when it holds a bertune "
        "export (a folder of anything else is never replaced).",
    ),
]


def export(
    model: ModelOpt,
    out: Out,
    format: Format = "ctranslate2",
    quantization: Quantization = "float32",
    force: Force = False,
    json_out: Json = False,
) -> None:
    """Export a trained model to CTranslate2 for `translate --engine ct2` / `serve --engine ct2`.

    Writes the converted weights, the source and target vocabularies (a shortlist model lists
    its shortlist's WordPieces in model-id order), bertune.json (with the quantization and a
    signature) and the source tokenizer. Needs the optional extra: pip install 'bertune\\[ct2]'.

    Examples:
      [bold]bertune export -m runs/demo/baseline --out runs/demo/baseline-ct2[/]
      [bold]bertune export -m runs/demo/baseline -q int8 --out runs/demo/baseline-ct2-int8[/]
      [bold]bertune translate -m runs/demo/baseline-ct2-int8 --engine ct2 -i test.de[/]
    """
    import json

    from bertune_cli.core.engines.export import export_ctranslate2
    from bertune_cli.core.errors import UsageError

    if format != "ctranslate2":
        raise UsageError(f"unknown export format {format!r}", "use --format ctranslate2")
    record = export_ctranslate2(model, out, quantization, force=force)
    if json_out:
        typer.echo(json.dumps(record, indent=2))
    else:
        typer.echo(
            f"wrote {record['out']} ({record['quantization']}); signature: {record['signature']}"
        )
