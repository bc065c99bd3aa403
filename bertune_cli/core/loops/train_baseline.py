"""Train the NMT baseline (method.md §2): label-smoothed cross-entropy through ``train_loop``.

``train_baseline(recipe, data_dir, out_dir)`` opens the prepared data directory, builds the
recipe's model preset for the recipe's target vocabulary (``full`` or ``shortlist``), trains it
with ``trainer.train_loop`` and finally translates the test split with ``checkpoint_best``
(``test.hyp.txt`` and its BLEU go into the DONE summary). Re-running the same call resumes an
interrupted run; a finished one (``DONE`` exists) returns its summary at once.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from bertune_cli.core.config import Recipe
from bertune_cli.core.data.store import DataDir
from bertune_cli.core.errors import CheckpointError
from bertune_cli.core.loops.trainer import (DONE, LoopSettings, RunContext, bleu_metric,
                                            train_loop)
from bertune_cli.core.losses import label_smoothed_nll_loss


def ce_loss(epsilon: float, pad_id: int = 0):
    """The baseline ``loss_fn(model, batch) -> (summed loss, logs)``: label-smoothed CE,
    normalised by target tokens (``sample_size``)."""

    def loss_fn(model, batch):
        logits = model(input_ids=batch.src, attention_mask=batch.src_mask,
                       decoder_input_ids=batch.tgt_in).logits              # (B, T, V)
        loss, nll = label_smoothed_nll_loss(logits, batch.tgt_out, epsilon, pad_id)
        return loss, {"sample_size": batch.ntokens, "nll": nll.item()}
    return loss_fn


def open_data(recipe: Recipe, data_dir: Path) -> DataDir:
    """The prepared data for ``recipe``, checked against its LM."""
    if not (Path(data_dir) / "manifest.json").is_file():
        raise CheckpointError(f"no prepared data directory at {data_dir}",
                              f"run `bertune prepare --pair {recipe.name}` first (or pass --data)")
    data = DataDir(Path(data_dir))
    if data.lm_name != recipe.lm.name:
        raise CheckpointError(f"{data_dir} was prepared for LM {data.lm_name!r} but the recipe "
                              f"uses {recipe.lm.name!r} (the decoder vocabulary must match)",
                              f"re-run `bertune prepare --pair {recipe.name}` for this LM")
    return data


def run_context(recipe: Recipe, data: DataDir, vocab, stage: str) -> RunContext:
    """Everything checkpoints and validation need, for a run on ``data``."""
    from bertune_cli.core.data.source import SourceEncoder
    from bertune_cli.core.data.target import TargetCodec

    meta = {"config": recipe.to_dict(),
            "lm": {"name": recipe.lm.name, "layer": recipe.lm.layer},
            "data": {"fingerprint": data.fingerprint, "path": str(data.path)},
            "training": {"stage": stage}}
    return RunContext(vocab=vocab, source=SourceEncoder.load(data.path),
                      codec=TargetCodec.from_lm(recipe.lm.name, recipe.tgt), eval=recipe.eval,
                      meta=meta)


def setup_baseline(recipe: Recipe, data_dir: Path):
    """(data, fresh model, RunContext) for ``recipe`` on the prepared ``data_dir``."""
    import torch

    from bertune_cli.core.lm import load_tokenizer
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


def train_baseline(recipe: Recipe, data_dir: Path, out_dir: Path, device: str = "auto",
                   max_epochs: int | None = None, max_steps: int | None = None,
                   max_time: float | None = None,
                   on_event: Callable[[dict[str, Any]], None] | None = None,
                   runs_root: Path | None = None, **settings: Any) -> dict[str, Any]:
    """Train (or resume, or report) the baseline of ``recipe``; returns the DONE summary.
    ``settings`` override LoopSettings fields (e.g. ``save_every_steps``). ``recipe.tracking``
    names the trackers fed (``core.tracking``; the default MLflow store is under
    ``runs_root``)."""
    from bertune_cli.core.loops.trainer import init_distributed
    from bertune_cli.core.lm import resolve_device
    from bertune_cli.core.tracking import track

    device = init_distributed(resolve_device(device))
    data, model, ctx = setup_baseline(recipe, data_dir)
    loop = LoopSettings.from_config(recipe.train, max_epochs=max_epochs, max_steps=max_steps,
                                    max_time=max_time, **settings)
    with track(recipe, Path(out_dir), stage="baseline", data_dir=data.path, runs_root=runs_root,
               on_event=on_event) as tracker:
        summary = train_loop(model, train=data.split("train", with_text=False),
                             valid=data.split("valid"),
                             loss_fn=ce_loss(recipe.train.label_smoothing), settings=loop,
                             run_dir=Path(out_dir), ctx=ctx, device=device, on_event=tracker)
        summary["parameters"] = ctx.meta["model"]["parameters"]
        if "test" in data.splits and "test" not in summary and _is_master():
            add_test_report(Path(out_dir), summary,
                            lambda: evaluate_split(Path(out_dir), data, "test", ctx, device))
        tracker.finish(summary)
    return summary


def add_test_report(out_dir: Path, summary: dict[str, Any],
                    compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Put the test-set evaluation into a finished run's DONE summary, under the run lock.

    The training loop releases the lock when it writes DONE; the test translation comes after.
    Taking the lock again means a second process on the same run is refused (RunLocked), not
    translating the same test set at the same time, and one that waited sees the first one's
    result in DONE and reuses it. DONE and ``test.hyp.txt`` are replaced atomically, so a reader
    (a fine-tune reusing the baseline's test translations) never sees half a file."""
    from bertune_cli.core.rundir import run_lock

    with run_lock(out_dir):
        done = json.loads((out_dir / DONE).read_text(encoding="utf-8"))
        if "test" in done:
            summary["test"] = done["test"]
            return summary
        summary["test"] = compute()
        _replace(out_dir / DONE, json.dumps(summary, indent=1))
    return summary


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    from bertune_cli.core.outputs import write_text_atomic

    write_text_atomic(path, text, f"{path.name} of the run")


def evaluate_split(run_dir: Path, data: DataDir, split: str, ctx: RunContext,
                   device: str, score: bool = True) -> dict[str, Any]:
    """Translate ``split`` with the run's checkpoint_best; write ``<split>.hyp.txt``; its
    BLEU unless ``score`` is False (a fine-tune: the pipeline's report scores it)."""
    from bertune_cli.core.translation import Translator, from_eval

    translator = Translator.load(run_dir, device)
    pairs = data.split(split)
    e = ctx.eval
    hyps = translator.translate(pairs.src_text, from_eval(e))
    _replace(run_dir / f"{split}.hyp.txt", "".join(h + "\n" for h in hyps))
    if not score:
        return {"split": split, "hyp_file": str(run_dir / f"{split}.hyp.txt")}
    result = bleu_metric(e)(hyps, pairs.tgt_text)
    return {"split": split, "bleu": float(getattr(result, "score", result)),
            "signature": str(getattr(result, "signature", "")),
            "hyp_file": str(run_dir / f"{split}.hyp.txt")}


def _is_master() -> bool:
    import torch.distributed as dist

    return not dist.is_initialized() or dist.get_rank() == 0
