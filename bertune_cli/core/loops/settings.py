"""``LoopSettings``: what one run of the training loop (core/loops/trainer.py) is told.

Built only by ``LoopSettings.from_config`` from a recipe section, so the recipe's dataclasses
(core/config/recipe.py) stay the one set of defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

# What the baseline stage fixes (the train section has no such keys): it validates by BLEU
# (the only metric it computes) and does not validate its random starting weights.
BASELINE_ONLY: dict[str, Any] = {"select_metric": "bleu", "validate_start": False}


@dataclass(frozen=True)
class LoopSettings:
    """Optimisation, schedule, limits and bookkeeping of one training run.

    No field has a default of its own: ``from_config`` takes every value from a recipe
    section (core/config/recipe.py's dataclasses are the one set of defaults), so a setting cannot
    silently differ between the recipe and the loop."""

    lr: float
    warmup_updates: int
    warmup_init_lr: float
    betas: tuple[float, float]
    weight_decay: float
    clip_norm: float
    max_tokens: int
    update_freq: int
    max_epochs: int
    max_steps: int  # 0: no limit
    max_time: float  # seconds of training (cumulative over resumes); 0: no limit
    patience: int  # validations without improvement; 0: never stop early
    valid_every_steps: int  # 0: validate at the end of every epoch only
    save_every_steps: int  # extra checkpoint_last saves (resume points); 0: none
    autosave_seconds: float  # checkpoint_last at least this often (wall time)
    log_every: int
    seed: int
    precision: str  # fp32 | bf16 | fp16 (autocast; fp16 with loss scaling)
    select_metric: str  # a key of the validation metrics, higher is better
    max_bad_updates: int  # consecutive non-finite updates (skipped) before stopping
    # validate the starting weights (update 0) before the first update, so the start competes
    # for checkpoint_best: a fine-tune that never beats it on validation returns its start
    validate_start: bool
    # not a recipe setting: updates done before this run, for the learning-rate schedule only
    # (a continuation that carries the baseline's schedule on: lr at update u =
    # schedule(schedule_offset + u))
    schedule_offset: int = 0

    @classmethod
    def from_config(cls, section: Any, **overrides: Any) -> "LoopSettings":
        """The settings of a run on a recipe section: ``recipe.train`` (the baseline, with
        ``BASELINE_ONLY``) or ``config.resolve_finetune(recipe).finetune``; ``overrides``
        (None: not given) replace section values. A field neither gives is a TypeError, an
        unset (None) inherited fine-tuning key a ValueError: there is no fallback default."""
        values = {
            f.name: getattr(section, f.name)
            for f in dataclasses.fields(cls)
            if hasattr(section, f.name)
        }
        for key, value in BASELINE_ONLY.items():
            values.setdefault(key, value)
        values.update({k: v for k, v in overrides.items() if v is not None})
        unset = [k for k, v in values.items() if v is None]
        if unset:
            raise ValueError(
                f"{', '.join(unset)} unset: resolve the section first (config.resolve_finetune)"
            )
        return cls(**values)
