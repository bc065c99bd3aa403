"""Train the NMT baseline (method.md §2): label-smoothed cross-entropy through ``train_loop``.

``train_baseline(recipe, data_dir, out_dir)`` opens the prepared data directory, builds the
recipe's model preset for the recipe's target vocabulary (``full`` or ``shortlist``), trains it
with ``trainer.train_loop`` and finally translates the test split with ``checkpoint_best``
(``test.hyp.txt`` and its BLEU go into the DONE summary). Re-running the same call resumes an
interrupted run; a finished one (``DONE`` exists) returns its summary at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from bertune_cli.core.config.recipe import Recipe
from bertune_cli.core.loops.losses import label_smoothed_nll_loss
from bertune_cli.core.loops.services import add_test_report, evaluate_split, open_data, run_context
from bertune_cli.core.loops.trainer import LoopSettings, train_loop
from bertune_cli.core.system.distributed import is_master


def ce_loss(epsilon: float, pad_id: int = 0):
    """The baseline ``loss_fn(model, batch) -> (summed loss, logs)``: label-smoothed CE,
    normalised by target tokens (``sample_size``)."""

    def loss_fn(model, batch):
        logits = model(
            input_ids=batch.src, attention_mask=batch.src_mask, decoder_input_ids=batch.tgt_in
        ).logits  # (B, T, V)
        loss, nll = label_smoothed_nll_loss(logits, batch.tgt_out, epsilon, pad_id)
        return loss, {"sample_size": batch.ntokens, "nll": nll.item()}

    return loss_fn


def setup_baseline(recipe: Recipe, data_dir: Path):
    """(data, fresh model, RunContext) for ``recipe`` on the prepared ``data_dir``."""
    import torch

    from bertune_cli.core.lm.model import load_tokenizer
    from bertune_cli.core.model.builders import build_model, count_parameters
    from bertune_cli.core.model.vocab import LMSpecials, TargetVocab

    data = open_data(recipe, data_dir)
    specials = LMSpecials.from_tokenizer(load_tokenizer(recipe.lm.name))
    kind = recipe.data.target_vocab
    vocab = TargetVocab.build(kind, specials, data.shortlist() if kind == "shortlist" else None)
    ctx = run_context(recipe, data, vocab, "baseline")
    torch.manual_seed(recipe.train.seed)
    model = build_model(recipe.model.preset, ctx.source.vocab_size, vocab, recipe.model.dropout)
    ctx.meta["model"] = {"preset": recipe.model.preset, "parameters": count_parameters(model)}
    return data, model, ctx


def train_baseline(
    recipe: Recipe,
    data_dir: Path,
    out_dir: Path,
    device: str = "auto",
    max_epochs: int | None = None,
    max_steps: int | None = None,
    max_time: float | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    runs_root: Path | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Train (or resume, or report) the baseline of ``recipe``; returns the DONE summary.
    ``settings`` override LoopSettings fields (e.g. ``save_every_steps``). ``recipe.tracking``
    names the trackers fed (``core.tracking``; the default MLflow store is under
    ``runs_root``)."""
    from bertune_cli.core.lm.model import resolve_device
    from bertune_cli.core.loops.trainer import init_distributed
    from bertune_cli.core.tracking.tracker import track

    device = init_distributed(resolve_device(device))
    data, model, ctx = setup_baseline(recipe, data_dir)
    loop = LoopSettings.from_config(
        recipe.train, max_epochs=max_epochs, max_steps=max_steps, max_time=max_time, **settings
    )
    with track(
        recipe,
        Path(out_dir),
        stage="baseline",
        data_dir=data.path,
        runs_root=runs_root,
        on_event=on_event,
    ) as tracker:
        summary = train_loop(
            model,
            train=data.split("train", with_text=False),
            valid=data.split("valid"),
            loss_fn=ce_loss(recipe.train.label_smoothing),
            settings=loop,
            run_dir=Path(out_dir),
            ctx=ctx,
            device=device,
            on_event=tracker,
        )
        summary["parameters"] = ctx.meta["model"]["parameters"]
        if "test" in data.splits and "test" not in summary and is_master():
            add_test_report(
                Path(out_dir),
                summary,
                lambda: evaluate_split(Path(out_dir), data, "test", ctx, device),
            )
        tracker.finish(summary)
    return summary
