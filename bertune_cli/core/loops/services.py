"""What the training stages and the orchestration around them share.

* ``LMCache``: the frozen LMs loaded during one command (F_BERT's, MoverScore's), created by the
  outermost caller (``run_pipeline``, ``run_grid``, ``run_ablate``) and passed down to the
  fine-tuning stage and the test evaluation, so the LM is loaded once, and nothing is kept
  in process-global state.
* the run folder of a fine-tuning (``stage_name``), the checkpoint it starts from
  (``init_checkpoint``) and the LM/layer checks against it (``recipe_layer``, ``check_lm``);
* the prepared data of a recipe (``open_data``), what checkpoints and validation need
  (``run_context``), and the test translation added to a finished run (``add_test_report``,
  ``evaluate_split``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from bertune_cli.core.config.recipe import Recipe
from bertune_cli.core.data.store import DataDir
from bertune_cli.core.errors import CheckpointError
from bertune_cli.core.loops.trainer import DONE, RunContext, bleu_metric


class LMCache:
    """Frozen LMs kept for the next caller that asks for the same one (safe to share: an LM
    is never modified). At most one LM per role (F_BERT's, MoverScore's): asking for another
    one replaces it, so a long study never accumulates LMs."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[tuple, Any]] = {}

    def _get(self, role: str, key: tuple, load: Callable[[], Any]) -> Any:
        kept = self._kept.get(role)
        if kept is None or kept[0] != key:
            self._kept.pop(role, None)  # let the previous one go before loading the next
            self._kept[role] = (key, load())
        return self._kept[role][1]

    def lm(self, name: str, layer: int | None, device: str):
        """``load_lm(name, layer, device)``, once; transformers' weight loading bar is kept
        off the terminal (the command draws its own progress)."""
        return self._get("fbert", (name, layer, str(device)), lambda: _load_lm(name, layer, device))

    def ms_lm(self, name: str, device: str):
        """MoverScore's LM with all its layers (``eval.ms_lm``), once."""
        from bertune_cli.core.metrics.moverscore import load_moverscore_lm

        return self._get(
            "moverscore", (name, str(device)), lambda: load_moverscore_lm(name, device)
        )

    def eval_cache(self, recipe: Recipe, settings: Any):
        """An ``EvalCache`` for ``evaluate`` that already holds this cache's F_BERT LM (the
        recipe's) and MoverScore LM for ``settings`` (``recipe_settings(recipe, device)``)."""
        from bertune_cli.core.evaluation import EvalCache

        cache = EvalCache()
        cache.keep_lm(
            "fbert",
            settings.lm,
            settings.layer,
            self.lm(recipe.lm.name, recipe.lm.layer, settings.device),
        )
        cache.keep_lm(
            "moverscore", settings.ms_lm, None, self.ms_lm(settings.ms_lm, settings.device)
        )
        return cache


def _load_lm(name: str, layer: int | None, device: str):
    from transformers.utils import logging as hf_logging

    from bertune_cli.core.lm.model import load_lm

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return load_lm(name, layer, device)
    finally:
        if shown:
            hf_logging.enable_progress_bar()


# ----------------------------------------------------------------------------- fine-tuning runs


def stage_name(recipe: Recipe) -> str:
    """The run directory of a fine-tuning run: ``finetune-<soft>`` (``-seed<k>`` when
    ``finetune.seed`` is set)."""
    cfg = recipe.finetune
    return f"finetune-{cfg.soft}" + ("" if cfg.seed is None else f"-seed{cfg.seed}")


def init_checkpoint(recipe: Recipe, runs_root: Path | None, init_from: Path | None) -> Path:
    """The checkpoint fine-tuning starts from: ``init_from`` or the baseline's best."""
    from bertune_cli.core.io.paths import stage_dir
    from bertune_cli.core.model.checkpoint import resolve_checkpoint

    path = Path(init_from) if init_from else stage_dir(recipe.name, "baseline", runs_root)
    try:
        return resolve_checkpoint(path)
    except CheckpointError as exc:
        if init_from:
            raise
        raise CheckpointError(
            f"no baseline checkpoint for recipe {recipe.name!r} at {path}",
            f"run `bertune train-baseline --pair {recipe.name}` first, or pass --from CHECKPOINT",
        ) from exc


def recipe_layer(recipe: Recipe) -> int:
    """The recipe's F_BERT layer (``lm.layer``, else the LM's default), without loading it."""
    from bertune_cli.core.lm.model import default_layer

    return recipe.lm.layer if recipe.lm.layer is not None else default_layer(recipe.lm.name)


def check_lm(meta: dict[str, Any], recipe: Recipe, layer: int, where: Path) -> None:
    """Refuse an LM or layer other than the checkpoint's (its vocabulary is that LM's)."""
    from bertune_cli.core.lm.model import default_layer, resolve_lm

    ckpt = meta.get("lm", {})
    name = ckpt.get("name")
    if name is None or (name != recipe.lm.name and resolve_lm(name) != resolve_lm(recipe.lm.name)):
        raise CheckpointError(
            f"{where} was trained with the vocabulary of LM {name!r}, not {recipe.lm.name!r}: "
            "p·E is only meaningful with the embeddings of the LM the decoder predicts",
            f"drop --lm (or pass --lm {name}), or train a baseline for {recipe.lm.name!r}",
        )
    ckpt_layer = ckpt.get("layer")
    ckpt_layer = default_layer(name) if ckpt_layer is None else ckpt_layer
    if ckpt_layer != layer:
        raise CheckpointError(
            f"{where} belongs to a recipe that scores F_BERT at layer {ckpt_layer} of {name}, "
            f"not {layer}",
            f"drop --layer (or pass --layer {ckpt_layer}); to use another layer, "
            "set lm.layer in the recipe and train its baseline",
        )


# ----------------------------------------------------------------------------- data and runs


def open_data(recipe: Recipe, data_dir: Path) -> DataDir:
    """The prepared data for ``recipe``, checked against its LM."""
    if not (Path(data_dir) / "manifest.json").is_file():
        raise CheckpointError(
            f"no prepared data directory at {data_dir}",
            f"run `bertune prepare --pair {recipe.name}` first (or pass --data)",
        )
    data = DataDir(Path(data_dir))
    if data.lm_name != recipe.lm.name:
        raise CheckpointError(
            f"{data_dir} was prepared for LM {data.lm_name!r} but the recipe "
            f"uses {recipe.lm.name!r} (the decoder vocabulary must match)",
            f"re-run `bertune prepare --pair {recipe.name}` for this LM",
        )
    return data


def run_context(recipe: Recipe, data: DataDir, vocab, stage: str) -> RunContext:
    """Everything checkpoints and validation need, for a run on ``data``."""
    from bertune_cli.core.data.source import SourceEncoder
    from bertune_cli.core.data.target import TargetCodec

    meta = {
        "config": recipe.to_dict(),
        "lm": {"name": recipe.lm.name, "layer": recipe.lm.layer},
        "data": {"fingerprint": data.fingerprint, "path": str(data.path)},
        "training": {"stage": stage},
    }
    return RunContext(
        vocab=vocab,
        source=SourceEncoder.load(data.path),
        codec=TargetCodec.from_lm(recipe.lm.name, recipe.tgt),
        eval=recipe.eval,
        meta=meta,
    )


def add_test_report(
    out_dir: Path, summary: dict[str, Any], compute: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Put the test-set evaluation into a finished run's DONE summary, under the run lock.

    The training loop releases the lock when it writes DONE; the test translation comes after.
    Taking the lock again means a second process on the same run is refused (RunLocked), not
    translating the same test set at the same time, and one that waited sees the first one's
    result in DONE and reuses it. DONE and ``test.hyp.txt`` are replaced atomically, so a reader
    (a fine-tune reusing the baseline's test translations) never sees half a file."""
    from bertune_cli.core.io.locks import run_lock

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
    from bertune_cli.core.io.outputs import write_text_atomic

    write_text_atomic(path, text, f"{path.name} of the run")


def evaluate_split(
    run_dir: Path, data: DataDir, split: str, ctx: RunContext, device: str, score: bool = True
) -> dict[str, Any]:
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
    return {
        "split": split,
        "bleu": float(getattr(result, "score", result)),
        "signature": str(getattr(result, "signature", "")),
        "hyp_file": str(run_dir / f"{split}.hyp.txt"),
    }
