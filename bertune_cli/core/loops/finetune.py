"""BERTTune fine-tuning (method.md §4, §5) through the shared ``trainer.train_loop``.

``finetune(recipe, data_dir, out_dir)`` starts from a trained checkpoint (by default the
recipe's ``baseline/checkpoint_best``) with a fresh optimizer and schedule, and minimises
−F_BERT between the frozen LM's view of the reference and of the soft prediction
(``losses.fbert_loss``; ``finetune.soft`` = dense | sparsemax | gumbel). Every validation
computes BLEU *and* F_BERT (beam search through ``Translator``, F_BERT equal to
``bertune score``), the selection metric (``finetune.select_metric``, default BLEU) keeps
``checkpoint_best`` and drives early stopping. Logs, resume (re-run the same call), DDP and the
``DONE`` marker are the training loop's. Finally the test split is translated with
``checkpoint_best`` into ``test.hyp.txt`` (named in the DONE summary); the stage does not score
it: the pipeline's report does, once (``pipeline/run.py``).

Refusals (CheckpointError): a checkpoint whose decoder vocabulary belongs to another LM than
the recipe's (``--lm``), or whose F_BERT layer differs (``--layer``); data prepared for another
LM or other data; a run directory holding a run with other fine-tuning settings.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Callable

from bertune_cli.core.config.recipe import Recipe, resolve_finetune
from bertune_cli.core.errors import CheckpointError
from bertune_cli.core.loops.services import (
    LMCache,
    add_test_report,
    check_lm,
    evaluate_split,
    init_checkpoint,
    open_data,
    recipe_layer,
    run_context,
    stage_name,
)
from bertune_cli.core.loops.trainer import (
    DONE,
    LoopSettings,
    bleu_metric,
    init_distributed,
    is_complete,
    train_loop,
)
from bertune_cli.core.system.distributed import is_master

# What a fine-tuning run *is*: a run directory refuses to resume or report with other values.
OBJECTIVE_KEYS = ("soft", "tau", "hard", "ce_weight", "reduction")


def fbert_objective(lm, vocab, config, label_smoothing: float = 0.1, spill_dir=None):
    """The fine-tuning ``loss_fn(model, batch) -> (summed loss, logs)``.

    ``config``: the recipe's ``finetune`` section (soft, tau, hard, ce_weight, reduction,
    impl, ref_cache_mb, ref_spill_mb). Gumbel noise only while ``model.training`` (never at
    validation).
    The reference's LM states are computed once per sentence and kept (up to
    ``ref_cache_mb`` in memory, then up to ``ref_spill_mb`` in a spill file in ``spill_dir``,
    none without one) for the next epochs and validations: ``loss_fn.ref_cache``.
    """
    import torch

    from bertune_cli.core.lm.refcache import ReferenceCache
    from bertune_cli.core.loops.losses import fbert_loss

    cache = ReferenceCache(lm, config.ref_cache_mb, config.ref_spill_mb, spill_dir)
    E = lm.embeddings  # (V_LM, D)
    rows = (
        E if vocab.kind == "full" else E[torch.as_tensor(vocab.lm_ids, device=E.device)].detach()
    )  # (V', D)

    def loss_fn(model, batch):
        logits = model(
            input_ids=batch.src, attention_mask=batch.src_mask, decoder_input_ids=batch.tgt_in
        ).logits  # (B, T, V')
        if config.ce_weight == 1.0:  # CE only: the F_BERT term has weight 0, skip its LM passes
            return ce_only_loss(logits, batch.tgt_out, label_smoothing)
        tgt = vocab.to_lm(torch.cat([batch.tgt_in[:, :1], batch.tgt_out], 1))  # (B, T+1)
        return fbert_loss(
            logits,
            tgt,
            lm,
            rows,
            soft=config.soft,
            tau=config.tau,
            hard=config.hard,
            training=model.training,
            reduction=config.reduction,
            ce_weight=config.ce_weight,
            labels=batch.tgt_out,
            label_smoothing=label_smoothing,
            impl=config.impl,
            ref_cache=cache,
        )

    loss_fn.ref_cache = cache
    return loss_fn


def ce_only_loss(logits, labels, label_smoothing: float):
    """``fbert_loss`` at ``ce_weight`` 1 without computing F_BERT (its weight is 0): the same
    loss value and units (sentences), so a CE-only control is the same run either way."""
    from bertune_cli.core.loops.losses import label_smoothed_nll_loss

    ce, nll = label_smoothed_nll_loss(logits, labels, label_smoothing, 0)
    sentences = labels.size(0)
    ntokens = max(int(labels.ne(0).sum()), 1)
    return ce * (sentences / ntokens), {
        "sample_size": float(sentences),
        "nll": float(nll.detach()),
        "nsentences": sentences,
    }


def fbert_metric(lm) -> Callable[[list[str], list[str]], Any]:
    """Validation F_BERT of texts (100 × mean F), equal to ``bertune score``'s."""
    from bertune_cli.core.metrics.bertscore import score_bertscore

    def bertscore(hyps: list[str], refs: list[str]):
        return score_bertscore(hyps, [refs], lm=lm).corpus()

    return bertscore


def moverscore_metric(
    name: str, device: str, lms: LMCache | None = None
) -> Callable[[list[str], list[str]], Any]:
    """Validation MoverScore of texts (100 × mean), equal to ``bertune score -m moverscore
    --ms-lm NAME``'s; the LM is loaded (into ``lms``) at the first validation."""
    from bertune_cli.core.metrics.moverscore import score_moverscore

    lms = lms if lms is not None else LMCache()

    def moverscore(hyps: list[str], refs: list[str]):
        return score_moverscore(hyps, [refs], lms.ms_lm(name, device)).corpus()

    return moverscore


def loop_settings(recipe: Recipe, **overrides: Any) -> LoopSettings:
    """The loop settings of ``recipe``'s fine-tuning: its finetune section with the unset keys
    taken from the train section (``config.resolve_finetune``), then ``overrides``."""
    return LoopSettings.from_config(resolve_finetune(recipe).finetune, **overrides)


def finetune(
    recipe: Recipe,
    data_dir: Path,
    out_dir: Path,
    *,
    init_from: Path | None = None,
    runs_root: Path | None = None,
    device: str = "auto",
    max_epochs: int | None = None,
    max_steps: int | None = None,
    max_time: float | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    arm: str | None = None,
    start_optimizer: dict[str, Any] | None = None,
    lms: LMCache | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Fine-tune (or resume, or report) ``recipe``'s BERTTune run; returns the DONE summary.

    ``init_from``: a checkpoint or run folder (default: ``<runs>/<recipe>/baseline``).
    ``settings``: LoopSettings overrides (e.g. ``valid_every_steps``, ``schedule_offset``).
    ``arm``: the study arm this run belongs to (core/pipeline/arms.py; recorded, and a run
    directory refuses another arm); ``start_optimizer``: an optimizer state to start from.
    ``lms``: the caller's LM cache (the pipeline evaluates with the same LMs afterwards).
    """
    import torch

    from bertune_cli.core.lm.model import resolve_device
    from bertune_cli.core.model.checkpoint import (
        LAST,
        check_data_compatible,
        load_checkpoint,
        read_meta,
    )
    from bertune_cli.core.ops import choose_impl

    out_dir = Path(out_dir)
    stage = stage_name(recipe)  # before resolution: only a seed set in the recipe names it
    recipe = resolve_finetune(recipe)  # the train section's values where finetune has none
    cfg = recipe.finetune
    objective = {k: getattr(cfg, k) for k in OBJECTIVE_KEYS}
    if arm is not None:
        objective["arm"] = arm
    if is_complete(out_dir):
        _check_same_run(out_dir, objective)
        done = json.loads((out_dir / DONE).read_text(encoding="utf-8"))
        if "test" in done:  # else: finished training, the test evaluation is still to do
            return {**done, "already_complete": True}
    init = init_checkpoint(recipe, runs_root, init_from)
    check_lm(read_meta(init), recipe, recipe_layer(recipe), init)
    data = open_data(recipe, data_dir)
    device = init_distributed(resolve_device(device))
    # the soft-embedding implementation, resolved once: said (an "impl" event) and recorded
    # in bertune.json and DONE as what ran, not as "auto"
    impl, impl_reason = choose_impl(cfg.impl, device)
    if on_event is not None and is_master():
        on_event({"event": "impl", "impl": impl, "requested": cfg.impl, "reason": impl_reason})
    cfg = dataclasses.replace(cfg, impl=impl)
    loaded = load_checkpoint(init, "cpu")
    lms = lms if lms is not None else LMCache()
    lm = lms.lm(recipe.lm.name, recipe.lm.layer, device)
    check_data_compatible(loaded.meta, data.lm_name, data.fingerprint, f"data directory {data_dir}")
    if (out_dir / LAST).is_dir():
        _check_same_run(out_dir, {**objective, "init_from": str(init)})

    ctx = run_context(recipe, data, loaded.vocab, stage)
    ctx.meta["lm"]["layer"] = lm.layer
    ctx.meta["model"] = loaded.meta.get("model", {})
    ctx.meta["finetune"] = {**objective, "init_from": str(init), "impl": impl}
    loop = loop_settings(
        recipe, max_epochs=max_epochs, max_steps=max_steps, max_time=max_time, **settings
    )
    loss_fn = fbert_objective(lm, loaded.vocab, cfg, cfg.label_smoothing, spill_dir=out_dir)
    metrics = {"bleu": bleu_metric(recipe.eval), "bertscore": fbert_metric(lm)}
    if cfg.select_metric == "moverscore":  # else not computed: it costs another LM pass
        metrics["moverscore"] = moverscore_metric(recipe.eval.ms_lm, device, lms)
    from bertune_cli.core.tracking.tracker import track

    tracker = track(
        recipe,
        out_dir,
        stage=stage,
        data_dir=data.path,
        init=init,
        runs_root=runs_root,
        on_event=on_event,
    )
    timer = _StepTimer(tracker)
    model = loaded.model
    torch.manual_seed(loop.seed)
    with tracker:
        summary = train_loop(
            model,
            train=data.split("train", with_text=False),
            valid=data.split("valid"),
            loss_fn=loss_fn,
            settings=loop,
            run_dir=out_dir,
            ctx=ctx,
            device=device,
            metrics=metrics,
            on_event=timer,
            start_optimizer=start_optimizer,
        )
        summary.setdefault("init_from", str(init))
        summary.setdefault("soft", cfg.soft)
        summary.setdefault("impl", impl)
        summary.setdefault("steps_per_s", timer.rate())
        summary.setdefault("ref_cache", loss_fn.ref_cache.stats())  # sentences, MiB, hits
        loss_fn.ref_cache.close()  # the spill file goes now, not when the objective does
        if "test" in data.splits and "test" not in summary and is_master():
            # test.hyp.txt only: the pipeline's report scores the test set (once)
            add_test_report(
                out_dir,
                summary,
                lambda: evaluate_split(out_dir, data, "test", ctx, device, score=False),
            )
        tracker.finish(summary)
    return summary


def _check_same_run(out_dir: Path, objective: dict[str, Any]) -> None:
    """A run directory holds one fine-tuning objective; refuse to mix them."""
    from bertune_cli.core.model.checkpoint import BEST, LAST, read_meta

    for name in (LAST, BEST):
        if (out_dir / name).is_dir():
            stored = read_meta(out_dir / name).get("finetune", {})
            differ = {
                k: (stored.get(k), v)
                for k, v in objective.items()
                if k in stored and stored[k] != v
            }
            if differ:
                shown = ", ".join(
                    f"{k.replace('_', ' ')} {a!r} (asked: {b!r})" for k, (a, b) in differ.items()
                )
                raise CheckpointError(
                    f"{out_dir} holds a fine-tuning run with {shown}",
                    "use --runs-dir for a separate run, or delete that folder",
                )
            return


class _StepTimer:
    """Forwards loop events; measures updates/s over training steps only (not validation)."""

    def __init__(self, on_event: Callable[[dict[str, Any]], None] | None):
        self.on_event = on_event
        self.steps, self.seconds, self.last = 0, 0.0, None

    def __call__(self, event: dict[str, Any]) -> None:
        now = time.perf_counter()
        if event["event"] == "step" and self.last is not None:
            self.steps, self.seconds = self.steps + 1, self.seconds + now - self.last
        self.last = now if event["event"] in ("start", "step") else None
        if self.on_event is not None:
            self.on_event(event)

    def rate(self) -> float | None:
        return round(self.steps / self.seconds, 3) if self.seconds > 0 else None
