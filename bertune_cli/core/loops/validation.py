"""Validation and model selection for ``trainer.train_loop``.

Validation = the loss on the validation split (teacher forcing, eval mode) plus metrics of the
beam-search translations produced by ``Translator.translate`` — the code path of
``bertune translate``, with the recipe's ``eval`` section as its ``DecodeOptions`` and one
``Translator`` for all the validations of a training loop (``LoopDecoder``) — scored by
sacreBLEU through ``metrics.sacre.corpus_metric``, exactly as ``bertune score`` does, so the
BLEU in ``metrics.jsonl`` is the BLEU ``score`` reports on the same output. Other metrics (e.g.
BERTScore for fine-tuning) plug in as ``fn(hyps, refs)``
returning a float or a MetricResult. Higher is better for the selection metric.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bertune_cli.core.data.batching import collate, length_batches
from bertune_cli.core.io.outputs import write_text_atomic
from bertune_cli.core.model.checkpoint import BEST, save_checkpoint

MetricFn = Callable[[list[str], list[str]], Any]


@dataclass
class Selection:
    """Model selection state: best validation score, when, and validations since."""

    best: float = -math.inf
    best_update: int = 0
    bad: int = 0
    last_valid: int = -1  # update of the latest validation


def bleu_metric(eval_config) -> MetricFn:
    """sacreBLEU exactly as ``bertune score`` computes it (lowercase/tokenize from the recipe)."""
    from bertune_cli.core.metrics.sacre import corpus_metric

    def bleu(hyps: list[str], refs: list[str]):
        return corpus_metric(
            "bleu",
            hyps,
            [refs],
            lowercase=eval_config.lowercase,
            tokenize=eval_config.bleu_tokenize,
        )

    return bleu


class LoopDecoder:
    """Translates the validation split for one training loop: the recipe's decoding options
    and one ``Translator`` for all of the loop's validations, made at the first one (making it
    switches the model to eval mode, as validation does) and reused while the model is the
    same."""

    def __init__(self, ctx, device: str):
        from bertune_cli.core.translation import from_eval

        self.ctx, self.device, self.options = ctx, device, from_eval(ctx.eval)
        self.translator = None

    def __call__(self, model, lines: list[str]) -> list[str]:
        if self.translator is None or self.translator.model is not model:
            from bertune_cli.core.translation import Translator

            c = self.ctx
            self.translator = Translator(model, c.vocab, c.source, c.codec, self.device)
        return self.translator.translate(lines, self.options)


def validate(
    model,
    valid,
    loss_fn,
    ctx,
    metric_fns: dict[str, MetricFn],
    device: str,
    max_tokens: int,
    decoder: LoopDecoder | None = None,
) -> dict[str, Any]:
    """Validation loss (teacher forcing, no dropout) and metrics of beam decoding through
    ``Translator.translate`` — the code path of ``bertune translate`` — by ``decoder`` (the
    loop's; default: a new one). Returns the numbers plus ``hyps`` (the translations)."""
    import torch

    model.eval()
    sums = np.zeros(4)
    with torch.no_grad():
        for idx in length_batches(valid.src.lengths(), valid.tgt.lengths() - 1, max_tokens):
            batch = collate(valid, idx, ctx.vocab.from_lm).to(device)
            loss, logs = loss_fn(model, batch)
            sums += (logs["sample_size"], loss.item(), logs.get("nll", 0.0), batch.ntokens)
    hyps = (decoder or LoopDecoder(ctx, device))(model, valid.src_text)
    out: dict[str, Any] = {
        "valid_loss": sums[1] / max(sums[0], 1),
        "valid_nll": sums[2] / max(sums[3], 1),
    }
    for name, fn in metric_fns.items():
        result = fn(hyps, valid.tgt_text)
        out[name] = float(getattr(result, "score", result))
        if getattr(result, "signature", None):
            out[f"{name}_signature"] = str(result.signature)
    model.train()
    return {**out, "hyps": hyps}


def validate_and_select(
    model,
    valid,
    loss_fn,
    ctx,
    metric_fns,
    settings,
    run_dir: Path,
    device,
    epoch,
    updates,
    sel: Selection,
    world,
    emit,
    optimizer_state: Callable[[], dict[str, Any]] | None = None,
    decoder: LoopDecoder | None = None,
) -> str | None:
    """Validate (rank 0; translating with ``decoder``, the loop's), update ``sel``, save
    checkpoint_best on improvement (with ``optimizer_state()``: the optimizer and schedule
    position there, which a continuation without re-warm-up starts from); return
    ``"early_stopping"`` when patience is exhausted."""
    import torch.distributed as dist

    from bertune_cli.core.system.distributed import is_master

    master = is_master()
    result = None
    if master:
        result = validate(
            model, valid, loss_fn, ctx, metric_fns, device, settings.max_tokens, decoder
        )
        hyps = result.pop("hyps")
        write_text_atomic(
            run_dir / "valid.hyp.txt",
            "".join(h + "\n" for h in hyps),
            "the validation translations",
        )
    if world > 1:
        box = [result]
        dist.broadcast_object_list(box, src=0)
        result = box[0]
    score = result[settings.select_metric]
    improved = score > sel.best
    sel.best, sel.best_update, sel.bad = (
        (score, updates, 0) if improved else (sel.best, sel.best_update, sel.bad + 1)
    )
    sel.last_valid = updates
    if master and improved:
        save_checkpoint(
            run_dir / BEST,
            model,
            vocab=ctx.vocab,
            source=ctx.source,
            meta=checkpoint_meta(ctx, epoch, updates, sel, result),
            trainer_state=optimizer_state() if optimizer_state else None,
        )
    row = {
        "kind": "valid",
        "epoch": epoch,
        "update": updates,
        **result,
        "best": sel.best,
        "is_best": improved,
        "bad": sel.bad,
    }
    append_row(run_dir, master, row)
    emit({"event": "valid", **row})
    return "early_stopping" if settings.patience and sel.bad >= settings.patience else None


def checkpoint_meta(
    ctx, epoch: int, updates: int, sel: Selection, valid: dict[str, Any] | None = None
) -> dict[str, Any]:
    """bertune.json content: the run's base meta plus where training stands."""
    training = {
        "epoch": epoch,
        "updates": updates,
        "best": sel.best if math.isfinite(sel.best) else None,
        "best_update": sel.best_update,
    }
    if valid:
        training["valid"] = valid
    return {**ctx.meta, "training": {**ctx.meta.get("training", {}), **training}}


def append_row(run_dir: Path, master: bool, row: dict[str, Any]) -> None:
    """One line of ``metrics.jsonl`` (rank 0 only)."""
    if master:
        with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
