"""``explain``: translate lines and add the explanations asked for (see the package docstring).

Uses only ``Translator``'s public API: ``options``, ``translate``, ``encode``, ``generate``
(MC dropout), ``teacher_forced`` and ``with_model`` (the twin), and its model, vocabularies and
codec for naming pieces.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterable, Iterator

from bertune_cli.core.errors import UsageError
from bertune_cli.core.explain.attention import attention as attention_of
from bertune_cli.core.explain.attention import plot
from bertune_cli.core.explain.attribution import attribution as attribution_of
from bertune_cli.core.explain.attribution import attribution_empty
from bertune_cli.core.explain.common import twin
from bertune_cli.core.explain.confidence import confidence as confidence_of
from bertune_cli.core.explain.mc_dropout import mc_dropout as mc_dropout_of
from bertune_cli.core.explain.mc_dropout import mc_empty
from bertune_cli.core.translation import (
    DecodeOptions,
    Hypothesis,
    Translator,
    format_result,
    result_row,
    text_chunks,
)

VERSION = 1


def explain(
    translator: Translator,
    lines: list[str],
    options: DecodeOptions | None = None,
    *,
    confidence: bool = True,
    mc_dropout: int = 0,
    attention: bool = False,
    attention_layer: int = -1,
    attribution: bool = False,
    seed: int = 0,
    attention_matrix: bool = True,
    attention_dir: str | Path | None = None,
    attribution_steps: int = 50,
    first_line: int = 1,
    **given: Any,
) -> list[dict]:
    """Translate ``lines`` and explain each translation; dict i belongs to line i.

    Options: ``options`` how to decode (default: the translator's, i.e. the checkpoint
    recipe's) updated by the ``given`` DecodeOptions fields (beam, lenpen, n_best,
    return_scores, ...); ``mc_dropout`` N >= 0 passes; ``attention_layer`` a decoder layer
    (negative counts from the end); ``attention_matrix`` puts the matrix into the dict;
    ``attention_dir`` writes ``line-000001.png``... there (numbered from ``first_line``; none
    for empty lines); ``attribution_steps`` IG steps.

    Schema (keys present only when asked; floats are plain floats, None where undefined,
    e.g. for an empty line)::

        translation, [score, n_best]          # exactly translate --json's fields
        confidence: {tokens: [{piece, prob, logprob, word}],   # word: index into words / None
                     words: [{text, prob, min_prob, tokens}],  # prob = product over its pieces
                     mean_prob, min_prob, logprob, logprob_per_token, tokens_count}
        mc_dropout: {passes, seed, line_seed, logprob_mean, logprob_var, bleu_mean,
                     exact_match, outputs: [N texts], dropout: {rates}, bleu_signature}
        attention:  {layer, layers, heads, source: [S pieces], target: [T pieces],
                     alignment: [T argmax source index], [matrix: T x S], [png],
                     [missing_glyphs]}
        attribution: {method, steps, baseline, source_words: [W], target: [T pieces],
                      matrix: T x W, delta: [T]}  # delta: captum's completeness error
        explain_signature: "explain:1|..."
    """
    attention = bool(attention or attention_dir)
    check(translator, mc_dropout, attention_layer, attribution_steps)
    require(attribution, attention_dir)
    dec = (options if options is not None else translator.defaults).with_(**given)
    scores = dec.return_scores
    results = translator.translate(lines, dec.with_(return_scores=True), first_line=first_line)
    srcs = translator.encode(lines, first_line, warn=False)  # translate warned already
    best = [r[0] for r in results]
    rows = [result_row(r if scores else [_unscored(h) for h in r], scores) for r in results]
    todo = {i for i, s in enumerate(srcs) if s is not None and best[i].ids}
    layer = decoder_layer(translator, attention_layer)
    if confidence:
        for i, conf in enumerate(confidence_of(translator, srcs, best, sorted(todo))):
            rows[i]["confidence"] = conf
    if mc_dropout:
        eager, lock = twin(translator)
        for i in range(len(lines)):
            rows[i]["mc_dropout"] = (
                mc_dropout_of(eager, lock, lines[i], srcs[i], best[i], mc_dropout, seed, dec)
                if i in todo
                else mc_empty(mc_dropout, seed, eager)
            )
    if attention:
        for i, att in enumerate(attention_of(translator, srcs, best, sorted(todo), layer)):
            if attention_dir and i in todo:
                plot(
                    att,
                    Path(attention_dir) / f"line-{first_line + i:06d}.png",
                    lines[i],
                    best[i].text,
                )
            if not attention_matrix:
                att.pop("matrix")
            rows[i]["attention"] = att
    if attribution:
        for i in range(len(lines)):
            rows[i]["attribution"] = (
                attribution_of(translator, srcs[i], best[i].ids, attribution_steps)
                if i in todo
                else attribution_empty(attribution_steps)
            )
    if confidence or mc_dropout or attention or attribution:
        sig = signature(
            dec,
            mc_dropout,
            seed,
            layer if attention else None,
            attribution_steps if attribution else None,
        )
        for row in rows:
            row["explain_signature"] = sig
    return rows


def explain_stream(
    translator: Translator,
    lines: Iterable[str | bytes],
    options: DecodeOptions | None = None,
    *,
    chunk_lines: int = 64,
    wait: float = 0.05,
    **flags: Any,
) -> Iterator[dict]:
    """``explain`` over an iterable of lines, lazily and in order (as ``Translator.stream``)."""
    for lineno, texts in text_chunks(lines, chunk_lines, wait):
        yield from explain(translator, texts, options, first_line=lineno, **flags)


def format_explained(row: dict, scores: bool = False, as_json: bool = False) -> str:
    """One explained line as output text: its JSON object, or exactly the plain line(s)
    ``format_result`` writes for the same translation."""
    import json

    if as_json:
        return json.dumps(row, ensure_ascii=False) + "\n"
    result = (
        [Hypothesis(h["text"], h["score"], h["tokens"]) for h in row["n_best"]]
        if "n_best" in row
        else row["translation"]
    )
    return format_result(result, scores, False)


def check(tr: Translator, mc: int, layer: int, steps: int) -> None:
    """Refuse what cannot be explained before any work (UsageErrors)."""
    import torch

    if not isinstance(getattr(tr, "model", None), torch.nn.Module):
        raise UsageError(
            "explanations need the PyTorch model",
            "translate with the default engine (--engine torch)",
        )
    if mc < 0:
        raise UsageError(f"--mc-dropout {mc} is negative", "give a number of passes >= 0")
    if steps < 1:
        raise UsageError(f"attribution steps {steps} < 1", "use e.g. 50 (captum's default)")
    decoder_layer(tr, layer)


def require(attribution: bool, plots: Any) -> None:
    """The optional extra ``explain`` (captum, matplotlib), checked before any work."""
    from bertune_cli.core.system.extras import require_all

    for needed, module, option in (
        (attribution, "captum", "--attribution"),
        (plots, "matplotlib", "--attention"),
    ):
        if needed:
            require_all([module], option, extra="explain")


def decoder_layer(tr: Translator, layer: int) -> int:
    """``layer`` as a 0-based decoder layer (negative counts from the end), or a UsageError."""
    n = int(tr.model.config.decoder_layers)
    if not -n <= layer < n:
        raise UsageError(
            f"--attention-layer {layer} is out of range: the decoder has {n} layers",
            f"use 0..{n - 1}, or -1 for the last",
        )
    return layer % n


def signature(dec: DecodeOptions, mc: int, seed: int, layer: int | None, steps: int | None) -> str:
    """``explain:1|beam:…|lenpen:…|maxlen:…`` plus what was asked and the library versions."""
    import torch
    import transformers

    parts = [
        f"explain:{VERSION}",
        f"beam:{dec.beam}",
        f"lenpen:{dec.lenpen}",
        f"maxlen:{dec.max_len_a}x+{dec.max_len_b}",
    ]
    if mc:
        parts += [f"mc:{mc}", f"seed:{seed}"]
    if layer is not None:
        parts.append(f"attn_layer:{layer}")
    if steps is not None:
        import captum

        parts.append(f"ig:captum-{captum.__version__}-gausslegendre-{steps}")
    parts += [f"torch:{torch.__version__}", f"transformers:{transformers.__version__}"]
    return "|".join(parts)


def _unscored(h):
    """A hypothesis as translate reports it without --scores."""
    return dataclasses.replace(h, score=None)
