"""The training loop shared by ``train-baseline`` and ``finetune``: one function, top to bottom.

``train_loop(model, train=..., valid=..., loss_fn=..., settings=..., run_dir=..., ctx=...)``
trains any MarianMTModel with any loss. The loss is a callable
``loss_fn(model, batch) -> (loss, logs)`` where ``loss`` is a *sum* over the batch's units and
``logs["sample_size"]`` counts those units (target tokens for cross-entropy, sentences for
F_BERT); other numeric ``logs`` entries (``nll``, ...) are summed and reported per unit. The loop
divides gradients by the global sample size of an update (all micro-batches of all ranks), as
fairseq does, so gradient accumulation and DDP give the same update as one big batch.

Run directory (only rank 0 writes)::

    config.yaml        the resolved recipe
    metrics.jsonl      one JSON row per log step ({"kind": "train", ...}) and per validation
                       ({"kind": "valid", ...})
    checkpoint_last/   the latest state, with trainer_state.{json,safetensors} (optimizer,
                       schedule position, RNG of every rank, epoch and batch position; no
                       pickle): re-running resumes from it
    checkpoint_best/   the best validation score so far (``settings.select_metric``), with the
                       optimizer state and update count there (``best_only``: a continuation
                       that keeps the optimizer starts from it; never resumed)
    valid.hyp.txt      the translations of the latest validation
    DONE               JSON summary, written when training has finished (the completion
                       marker: ``is_complete(run_dir)``); a re-run then returns the summary

Non-finite updates: when the loss or the gradient norm of an update is NaN/inf, the update is
skipped (no optimizer step; a ``skip`` event and a ``{"kind": "skip"}`` row say so) and its
batches are consumed; ``settings.max_bad_updates`` skips in a row stop training with a
TrainingError that keeps the last good checkpoint_last (the parameters are never touched by a
bad update). Under fp16 a non-finite gradient with a finite loss is the GradScaler's business
(it skips the step and lowers the scale), so only the loss counts there.

Resume: checkpoint_last is written at every validation, every ``save_every_steps`` updates,
every ``autosave_seconds`` and on Ctrl-C (after the current update). A re-run rebuilds the
epoch's batch list from (seed, epoch), skips the batches already done and restores the
optimizer, the schedule and the RNG, so an interrupted and resumed run gives the same
parameters as an uninterrupted one (CPU; GPU kernels may be nondeterministic).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bertune_cli.core.data.batching import EpochBatches, collate
from bertune_cli.core.errors import ConfigError
from bertune_cli.core.io.outputs import AtomicFile
from bertune_cli.core.loops.gradients import finish_gradients
from bertune_cli.core.loops.process import (
    InterruptFlag,
    gather,
    precision_autocast,
    rng_state,
    set_rng_state,
)
from bertune_cli.core.loops.run_files import (
    _check_resumable,
    _skip_update,
    _start_run_dir,
)
from bertune_cli.core.loops.settings import BASELINE_ONLY, LoopSettings  # noqa: F401
from bertune_cli.core.loops.validation import (
    LoopDecoder,
    MetricFn,
    Selection,
    append_row,
    bleu_metric,
    checkpoint_meta,
    validate_and_select,
)
from bertune_cli.core.model.checkpoint import (
    BEST,
    LAST,
    load_trainer_state,
    load_weights,
    read_meta,
    save_checkpoint,
)
from bertune_cli.core.system.distributed import is_master, rank_and_world

DONE = "DONE"
LossFn = Callable[[Any, Any], tuple[Any, dict[str, float]]]


@dataclass
class RunContext:
    """What validation and checkpoints need besides the model."""

    vocab: Any  # TargetVocab
    source: Any  # SourceEncoder
    codec: Any  # TargetCodec
    eval: Any  # EvalConfig (beam, lenpen, max_len_a/b, batch_tokens, lowercase)
    meta: dict[str, Any]  # bertune.json base: config, lm, data (the loop adds "training")


def inverse_sqrt_lr(update: int, lr: float, warmup: int, warmup_init_lr: float) -> float:
    """fairseq's inverse_sqrt: linear warm-up from ``warmup_init_lr`` to ``lr`` over ``warmup``
    updates, then ``lr·sqrt(warmup/update)``. ``update`` = updates done before this one."""
    if warmup > 0 and update < warmup:
        return warmup_init_lr + update * (lr - warmup_init_lr) / warmup
    return lr * math.sqrt(max(warmup, 1) / max(update, 1))


def init_distributed(device: str) -> str:
    """Join the process group when launched by ``torchrun`` (WORLD_SIZE > 1): gloo on CPU,
    NCCL on GPUs (rank i uses cuda:LOCAL_RANK). Returns the device this process uses."""
    import torch
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return device
    cuda = str(device).startswith("cuda")
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    return device


def is_complete(run_dir: Path) -> bool:
    """Whether the run in ``run_dir`` has finished (its DONE marker exists)."""
    return (Path(run_dir) / DONE).is_file()


def train_loop(model, *, run_dir: Path, **kwargs: Any) -> dict[str, Any]:
    """Train ``model`` on ``train`` (a Split) until a limit or early stopping; validate on
    ``valid``; return the DONE summary. Resumes from ``run_dir/checkpoint_last`` when present.
    Keyword arguments: train, valid, loss_fn, settings, ctx, device="cpu", metrics (name ->
    fn(hyps, refs); default sacreBLEU), on_event (progress callback, rank 0 only, receiving
    dicts with ``event`` in start | step | skip | valid | done), start_optimizer (an optimizer
    state_dict loaded at a fresh start: a continuation that keeps the start's Adam moments).

    Rank 0 holds the run directory's lock (core/io/locks.py) for the whole run: a second process
    on the same directory is refused (RunLocked, naming the holder's pid)."""
    from bertune_cli.core.io.locks import run_lock
    from bertune_cli.core.system.allocator import keep_freed_memory

    with keep_freed_memory():  # no page faults for the (B, T, V) tensors of every update
        if not is_master():
            return _train_loop(model, run_dir=Path(run_dir), **kwargs)
        with run_lock(run_dir):
            return _train_loop(model, run_dir=Path(run_dir), **kwargs)


def _train_loop(
    model,
    *,
    train,
    valid,
    loss_fn: LossFn,
    settings: LoopSettings,
    run_dir: Path,
    ctx: RunContext,
    device: str = "cpu",
    metrics: dict[str, MetricFn] | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    start_optimizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    import torch
    import torch.distributed as dist

    run_dir = Path(run_dir)
    if is_complete(run_dir):
        return {**json.loads((run_dir / DONE).read_text()), "already_complete": True}
    rank, world = rank_and_world()
    master = rank == 0
    emit = on_event if (on_event is not None and master) else (lambda event: None)
    metric_fns = metrics if metrics is not None else {"bleu": bleu_metric(ctx.eval)}
    if settings.select_metric not in metric_fns:
        raise ConfigError(
            f"validation metric {settings.select_metric!r} is not computed",
            f"choose one of: {', '.join(metric_fns)}",
        )

    # -- fresh start, or resume from checkpoint_last -----------------------------------------
    state = load_trainer_state(run_dir / LAST)
    if state is not None:
        _check_resumable(read_meta(run_dir / LAST), ctx.meta, state, world, run_dir)
        load_weights(model, run_dir / LAST)
    model.to(device).train()
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device] if "cuda" in str(device) else None)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params,
        lr=settings.lr,
        betas=tuple(settings.betas),
        eps=1e-8,
        weight_decay=settings.weight_decay,
    )
    scaler = torch.amp.GradScaler(enabled=settings.precision == "fp16")
    autocast = precision_autocast(settings.precision, device)
    epoch, pos, updates, elapsed, sel = 1, 0, 0, 0.0, Selection()
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        epoch, pos, updates, elapsed = (
            state["epoch"],
            state["pos"],
            state["updates"],
            state["elapsed"],
        )
        sel = Selection(**state["selection"])
        set_rng_state(state["rng"][rank])
    else:
        if start_optimizer is not None:  # a continuation: the start's optimizer moments
            optimizer.load_state_dict(start_optimizer)
        torch.manual_seed(settings.seed + rank)
    if master:
        _start_run_dir(run_dir, ctx.meta, updates)
    sampler = EpochBatches(
        train.src.lengths(),
        train.tgt.lengths() - 1,
        settings.max_tokens,
        settings.seed,
        rank,
        world,
    )
    per_epoch = math.ceil(len(sampler) / settings.update_freq)
    emit(
        {
            "event": "start",
            "epoch": epoch,
            "updates": updates,
            "updates_per_epoch": per_epoch,
            "total": _total_updates(settings, per_epoch),
            "resumed": state is not None,
        }
    )
    session_start = last_save = time.time()

    def save_last() -> None:
        nonlocal last_save
        rngs = gather(rng_state(), world)
        if master:
            save_checkpoint(
                run_dir / LAST,
                model,
                vocab=ctx.vocab,
                source=ctx.source,
                meta=checkpoint_meta(ctx, epoch, updates, sel),
                trainer_state=dict(
                    optimizer=optimizer.state_dict(),
                    scaler=scaler.state_dict(),
                    epoch=epoch,
                    pos=pos,
                    updates=updates,
                    elapsed=elapsed + time.time() - session_start,
                    selection=dataclasses.asdict(sel),
                    rng=rngs,
                    world_size=world,
                    settings=dataclasses.asdict(settings),
                ),
            )
        last_save = time.time()

    decoder = LoopDecoder(ctx, device)  # one Translator for every validation of this loop

    def validate_now(for_epoch: int) -> str | None:
        return validate_and_select(
            model,
            valid,
            loss_fn,
            ctx,
            metric_fns,
            settings,
            run_dir,
            device,
            for_epoch,
            updates,
            sel,
            world,
            emit,
            optimizer_state=lambda: dict(
                optimizer=optimizer.state_dict(),
                scaler=scaler.state_dict(),
                updates=updates,
                settings=dataclasses.asdict(settings),
                best_only=True,
            ),
            decoder=decoder,
        )

    stop = None
    if state is not None and pos == 0 and 0 < updates != sel.last_valid:
        stop = validate_now(epoch - 1)  # interrupted between an epoch's end and its validation
    elif updates == 0 and sel.last_valid < 0 and settings.validate_start:
        validate_now(0)  # the start competes for checkpoint_best
    # sample_size, loss, nll, ntokens, seconds in updates (not validation or saves), updates
    window = np.zeros(6)  # since the last train row
    bad_run = 0  # consecutive skipped (non-finite) updates
    with InterruptFlag() as interrupted:
        while stop is None:
            if epoch > settings.max_epochs:
                stop = "max_epochs"
                break
            batches = sampler.batches(epoch)
            while pos < len(batches) and stop is None:
                # -- one update: forward/backward over update_freq micro-batches ---------------
                t0 = time.time()
                group = batches[pos : pos + settings.update_freq]
                lr = inverse_sqrt_lr(
                    settings.schedule_offset + updates,
                    settings.lr,
                    settings.warmup_updates,
                    settings.warmup_init_lr,
                )
                for g in optimizer.param_groups:
                    g["lr"] = lr
                sums = np.zeros(4)
                for k, idx in enumerate(group):
                    batch = collate(train, idx, ctx.vocab.from_lm).to(device)
                    sync = net.no_sync() if world > 1 and k < len(group) - 1 else nullcontext()
                    with sync:
                        with autocast:
                            loss, logs = loss_fn(net, batch)
                        scaler.scale(loss).backward()
                    sums += (logs["sample_size"], loss.item(), logs.get("nll", 0.0), batch.ntokens)
                time_up = (
                    settings.max_time > 0
                    and elapsed + time.time() - session_start >= settings.max_time
                )
                autosave = master and time.time() - last_save >= settings.autosave_seconds
                totals = torch.tensor(
                    [*sums, time_up, autosave, interrupted.is_set()], dtype=torch.float64
                )
                if world > 1:  # global sample size and stop/save flags, one collective
                    dist.all_reduce(totals)
                sample_size, loss_sum, nll_sum, ntokens = totals[:4].tolist()
                scaler.unscale_(optimizer)
                # DDP averaged the ranks' sums: turn them into a per-unit mean, then norm/clip
                gnorm = finish_gradients(
                    params, world / max(sample_size, 1.0), settings.clip_norm or 0.0
                )
                # Same verdict on every rank: loss_sum is all-reduced, gnorm is computed on the
                # all-reduced gradients.
                if not math.isfinite(loss_sum) or (
                    not scaler.is_enabled() and not math.isfinite(float(gnorm))
                ):
                    scaler.update()  # fp16: closes this unscale_ (lowers the scale); else no-op
                    optimizer.zero_grad(set_to_none=True)
                    pos, bad_run = pos + len(group), bad_run + 1
                    _skip_update(
                        run_dir,
                        master,
                        on_event,
                        epoch,
                        updates,
                        loss_sum,
                        float(gnorm),
                        bad_run,
                        settings.max_bad_updates,
                    )
                    stop = "interrupted" if totals[6] > 0 else "max_time" if totals[4] > 0 else None
                    if pos >= len(batches) or stop:
                        break
                    continue
                bad_run = 0
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                updates, pos = updates + 1, pos + len(group)

                # -- bookkeeping: logs, progress, limits, mid-epoch validation and saves -------
                window += (sample_size, loss_sum, nll_sum, ntokens, time.time() - t0, 1)
                step = {
                    "epoch": epoch,
                    "update": updates,
                    "loss": loss_sum / max(sample_size, 1),
                    "lr": lr,
                    "gnorm": float(gnorm),
                    "pos": pos,
                    "batches": len(batches),
                    "tokens_per_s": ntokens / max(time.time() - t0, 1e-9),
                }
                if updates % settings.log_every == 0:
                    dt = max(window[4], 1e-9)
                    step["tokens_per_s"] = window[3] / dt
                    append_row(
                        run_dir,
                        master,
                        {
                            "kind": "train",
                            "epoch": epoch,
                            "update": updates,
                            "loss": window[1] / max(window[0], 1),
                            "nll": window[2] / max(window[3], 1),
                            "lr": lr,
                            "gnorm": float(gnorm),
                            "tokens_per_s": window[3] / dt,
                            "updates_per_s": window[5] / dt,
                            "elapsed": round(elapsed + time.time() - session_start, 2),
                        },
                    )
                    window = np.zeros(6)
                emit({"event": "step", **step})
                stop = (
                    "interrupted"
                    if totals[6] > 0
                    else "max_time"
                    if totals[4] > 0
                    else "max_steps"
                    if settings.max_steps and updates >= settings.max_steps
                    else None
                )
                if pos >= len(batches) or stop:
                    break
                if settings.valid_every_steps and updates % settings.valid_every_steps == 0:
                    stop = validate_now(epoch)
                    save_last()
                elif (
                    settings.save_every_steps and updates % settings.save_every_steps == 0
                ) or totals[5] > 0:
                    save_last()
            if pos >= len(batches):  # epoch complete: the saved state points at the next one
                epoch, pos = epoch + 1, 0
            if stop == "interrupted":
                save_last()
                raise interrupted.error()
            if sel.last_valid != updates:
                stop = validate_now(epoch - 1 if pos == 0 else epoch) or stop
            save_last()

    summary = {
        "reason": stop,
        "updates": updates,
        "epochs": epoch - 1 if pos == 0 else epoch,
        "best": {
            settings.select_metric: sel.best if math.isfinite(sel.best) else None,
            "update": sel.best_update,
        },
        "elapsed": round(elapsed + time.time() - session_start, 1),
        "run_dir": str(run_dir),
        "checkpoint_best": str(run_dir / BEST),
    }
    if master:
        with AtomicFile(run_dir / DONE, "the run's completion marker") as f:
            f.write(json.dumps(summary, indent=1))
    emit({"event": "done", **summary})
    return summary


# ----------------------------------------------------------------------------- helpers


def _total_updates(settings: LoopSettings, per_epoch: int) -> int:
    by_epochs = settings.max_epochs * per_epoch
    return min(by_epochs, settings.max_steps) if settings.max_steps else by_epochs
