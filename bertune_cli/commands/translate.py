"""`bertune translate`: translate a file or stdin with a trained model."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Optional

import typer

from bertune_cli._options import Device, Seed, existing_file, number, path
from bertune_cli.core.io.lines import stdin_lines

MC_DROPOUT_MAX = 32  # as the server's /explain (serve --help: max_mc_dropout)
ModelOpt = Annotated[
    Path,
    typer.Option(
        "--model",
        "-m",
        parser=path,
        help="Run directory (uses its checkpoint_best) or a checkpoint folder.",
    ),
]
InputOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--input",
        "-i",
        parser=existing_file,
        help="Source text, one sentence per line (default: stdin).",
    ),
]
OutputOpt = Annotated[
    Optional[Path],
    typer.Option("--output", "-o", parser=path, help="Write here (atomically) instead of stdout."),
]
Beam = Annotated[
    Optional[int], typer.Option("--beam", min=1, help="Beam size (default: the recipe's).")
]
Lenpen = Annotated[
    Optional[float], typer.Option("--lenpen", parser=number(), help="Length penalty exponent.")
]
NBest = Annotated[int, typer.Option("--n-best", min=1, help="Hypotheses per line (best first).")]
Scores = Annotated[bool, typer.Option("--scores", help="Prefix each output with its log-prob.")]
Engine = Annotated[
    str,
    typer.Option(
        "--engine",
        help="torch (exact, as validation) or ct2 (CTranslate2: a `bertune export` "
        "folder, or a run/checkpoint exported on the fly into $BERTUNE_HOME/ct2).",
    ),
]
BatchTokens = Annotated[
    Optional[int],
    typer.Option(
        "--batch-tokens",
        min=1,
        help="Padded source tokens per batch (default: 1024 on CPU, 4096 on GPU).",
    ),
]
Confidence = Annotated[
    bool,
    typer.Option(
        "--confidence", help="Per output token/word probability and sentence confidence (--json)."
    ),
]
McDropout = Annotated[
    int,
    typer.Option(
        "--mc-dropout",
        min=0,
        max=MC_DROPOUT_MAX,
        help="N Monte Carlo dropout passes (at most "
        f"{MC_DROPOUT_MAX}): log-prob mean/variance and agreement of N dropout beam outputs (--json).",
    ),
]
AttentionDir = Annotated[
    Optional[Path],
    typer.Option(
        "--attention", parser=path, help="Write one cross-attention heatmap PNG per line here."
    ),
]
AttentionLayer = Annotated[
    int,
    typer.Option("--attention-layer", help="Decoder layer of the attention (0-based; -1 = last)."),
]
AttentionMatrix = Annotated[
    bool,
    typer.Option(
        "--attention-matrix", help="Put the attention matrix into the JSON line (--json)."
    ),
]
Attribution = Annotated[
    bool,
    typer.Option(
        "--attribution",
        help="Integrated Gradients source-word importance per output token (captum; --json).",
    ),
]
AttributionSteps = Annotated[
    int,
    typer.Option(
        "--attribution-steps", min=1, help="Integrated Gradients steps (captum's n_steps)."
    ),
]


def translate(
    model: ModelOpt,
    input: InputOpt = None,
    output: OutputOpt = None,
    beam: Beam = None,
    lenpen: Lenpen = None,
    n_best: NBest = 1,
    scores: Scores = False,
    batch_tokens: BatchTokens = None,
    device: Device = "auto",
    engine: Engine = "torch",
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="JSON lines: {translation, score, n_best: [{text, score, "
            "tokens}]} (score: sentence log-prob; always present).",
        ),
    ] = False,
    confidence: Confidence = False,
    mc_dropout: McDropout = 0,
    attention: AttentionDir = None,
    attention_layer: AttentionLayer = -1,
    attention_matrix: AttentionMatrix = False,
    attribution: Attribution = False,
    attribution_steps: AttributionSteps = 50,
    seed: Seed = None,
) -> None:
    """Translate text with a trained model: one output line per input line, in order.

    Same preprocessing as training, length-sorted batches, beam search, detokenized output.
    Streams: output starts before the input ends; an empty input line gives an empty line.
    Over-long or non-UTF-8 lines are truncated/repaired with a warning, never a crash.
    Explanations of the chosen translation (--confidence, --mc-dropout, --attention-matrix,
    --attribution) go into the --json lines; --attention DIR also works with plain output.

    Examples:
      [bold]cat input.de | bertune translate --model runs/demo/baseline > output.en[/]
      [bold]bertune translate -m runs/demo/baseline -i test.de -o test.en --beam 5[/]
      [bold]bertune translate -m runs/demo/baseline/checkpoint_best --n-best 3 --scores --json[/]
      [bold]bertune translate -m runs/demo/baseline-ct2 --engine ct2 -i test.de -o test.en[/]
      [bold]bertune translate -m runs/demo/baseline -i a.de --json --confidence --mc-dropout 8[/]
      [bold]bertune translate -m runs/demo/baseline -i a.de -o a.en --attention heatmaps/[/]
    """
    import logging
    import sys

    from bertune_cli.core.translation import AtomicOutput, Translator, format_result

    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr)
    explain = dict(
        confidence=confidence,
        mc_dropout=mc_dropout,
        attention_matrix=attention_matrix,
        attribution=attribution,
    )
    scored = scores or json_out  # every --json line has score and n_best, as its help says
    sink = AtomicOutput(output)  # checks -o before the model loads (folders made on write)
    _check_request(model, engine, explain, json_out, attention, attention_layer, beam, n_best)
    translator = Translator.load(model, device, engine=engine)
    options = translator.options(
        beam=beam,
        lenpen=lenpen,
        batch_tokens=batch_tokens,
        n_best=n_best,
        return_scores=scored or None,
    )
    # stdin through os.read (lines.stdin_lines), not sys.stdin.buffer: on Ctrl-C the reader
    # thread is still blocked in a read, and a buffered stream's lock then hung the exit
    source = open(input, "rb") if input else contextlib.nullcontext(stdin_lines())
    with source as source, sink as out, _progress(input, output) as progress:
        if any(explain.values()) or attention:
            from bertune_cli.core.explain import explain_stream, format_explained

            results = explain_stream(
                translator,
                source,
                options,
                attention=attention_matrix,
                attention_dir=attention,
                attention_layer=attention_layer,
                attribution_steps=attribution_steps,
                seed=seed or 0,
                **explain,
            )
            lines = (format_explained(r, scored, json_out) for r in results)
        else:
            lines = (format_result(r, scored, json_out) for r in translator.stream(source, options))
        for line in lines:
            out.write(line)
            out.flush()
            progress.update(advance=1)


def _progress(input: Path | None, output: Path | None):
    """Lines translated, on stderr (bertune_cli/_progress.py: a bar on a terminal, plain lines
    when piped) — unless the translations themselves stream to the terminal."""
    import sys

    from bertune_cli._progress import NoProgress, Progress

    if output is None and sys.stdout.isatty():
        return NoProgress()
    return Progress(
        "translate", unit="lines", total=_count_lines(input) if input else None, idle_lines=False
    )  # no repeated line while an open stdin waits


def _count_lines(path: Path) -> int:
    """Lines as translate reads them (split at newline bytes; a last line without one counts)."""
    count, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            count, last = count + block.count(b"\n"), block[-1:]
    return count + (last != b"\n")


def _check_request(
    model: Path,
    engine: str,
    explain: dict,
    json_out: bool,
    attention: Optional[Path],
    attention_layer: int,
    beam: Optional[int],
    n_best: int,
) -> None:
    """Everything about the request that can be refused before the model loads (usage errors:
    exit 2); only the checkpoint's small JSON files are read."""
    from bertune_cli.core.engines import ENGINES
    from bertune_cli.core.errors import UsageError
    from bertune_cli.core.model.checkpoint import model_config, read_meta
    from bertune_cli.core.translation import from_eval

    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine[:40]!r}", f"use one of: {', '.join(ENGINES)}")
    explaining = any(explain.values()) or attention is not None
    if any(explain.values()) and not json_out:
        raise UsageError(
            f"--{next(k for k, v in explain.items() if v).replace('_', '-')} is "
            "written only into --json lines",
            "add --json (plain output is one "
            "translation per line; --attention DIR alone works without it)",
        )
    if engine != "torch" and explaining:
        raise UsageError(
            "explanations need the model's weights in torch",
            "drop --engine ct2 (use the run directory with the torch engine)",
        )
    if attention is not None and attention.exists() and not attention.is_dir():
        raise UsageError(f"--attention {attention} is a file", "pass a folder for the PNGs")
    meta = read_meta(model)  # the checkpoint recipe's options, as Translator.load reads them
    from_eval(meta.get("config", {}).get("eval")).with_(beam=beam, n_best=n_best).check()
    if explaining:
        layers = int(model_config(model).get("decoder_layers", 0))
        if layers and not -layers <= attention_layer < layers:
            raise UsageError(
                f"--attention-layer {attention_layer} is out of range: the decoder "
                f"has {layers} layers",
                f"use 0..{layers - 1}, or -1 for the last",
            )
