"""`bertune translate`: translate a file or stdin with a trained model."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from bertune_cli._options import Device

ModelOpt = Annotated[Path, typer.Option(
    "--model", "-m", help="Run directory (uses its checkpoint_best) or a checkpoint folder.")]
InputOpt = Annotated[Optional[Path], typer.Option(
    "--input", "-i", exists=True, dir_okay=False, help="Source text, one sentence per line (default: stdin).")]
OutputOpt = Annotated[Optional[Path], typer.Option(
    "--output", "-o", help="Write here (atomically) instead of stdout.")]
Beam = Annotated[Optional[int], typer.Option("--beam", help="Beam size (default: the recipe's).")]
Lenpen = Annotated[Optional[float], typer.Option("--lenpen", help="Length penalty exponent.")]
NBest = Annotated[int, typer.Option("--n-best", help="Hypotheses per line (best first).")]
Scores = Annotated[bool, typer.Option("--scores", help="Prefix each output with its log-prob.")]
BatchTokens = Annotated[Optional[int], typer.Option(
    "--batch-tokens", help="Padded source tokens per batch (default: 1024 on CPU, "
                            "4096 on GPU).")]


def translate(model: ModelOpt, input: InputOpt = None, output: OutputOpt = None,
              beam: Beam = None, lenpen: Lenpen = None, n_best: NBest = 1,
              scores: Scores = False, batch_tokens: BatchTokens = None,
              device: Device = "auto", json_out: Annotated[bool, typer.Option(
                  "--json", help="JSON lines: {translation, score, n_best}.")] = False) -> None:
    """Translate text with a trained model: one output line per input line, in order.

    Same preprocessing as training, length-sorted batches, beam search, detokenized output.
    Streams: output starts before the input ends; an empty input line gives an empty line.
    Over-long or non-UTF-8 lines are truncated/repaired with a warning, never a crash.

    Examples:
      [bold]cat input.de | bertune translate --model runs/demo/baseline > output.en[/]
      [bold]bertune translate -m runs/demo/baseline -i test.de -o test.en --beam 5[/]
      [bold]bertune translate -m runs/demo/baseline/checkpoint_best --n-best 3 --scores --json[/]
    """
    import logging
    import os
    import sys

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see commands/train_baseline.py
    from bertune_cli.core.translate import AtomicOutput, Translator, format_result

    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr)
    translator = Translator.load(model, device)
    options = translator.options(beam=beam, lenpen=lenpen, batch_tokens=batch_tokens,
                                 n_best=n_best, return_scores=scores or None)
    source = open(input, "rb") if input else sys.stdin.buffer
    with source, AtomicOutput(output) as out:
        for result in translator.stream(source, **options):
            out.write(format_result(result, scores, json_out))
            out.flush()
