"""Value ranges of recipe settings: one table, checked by ``config.load_recipe``.

Types are checked by the loader (``config._coerce``); this table says which *values* make
sense, so ``finetune.tau: 0`` in a YAML file, ``--set finetune.tau=0`` and ``--tau 0`` are all
refused before a run directory is created (the CLI options check the same bounds at the edge,
``bertune_cli/_options.py``). A bound is ``(low, high, low_open, high_open)``; None = unbounded.
No bound admits NaN or an infinity. Every numeric setting of every section has an entry here
or in ``EXEMPT`` (with the reason); tests/core/config/test_config_ranges.py checks that.
"""

from __future__ import annotations

import math
from typing import Any

from bertune_cli.core.config.input import shown

Bound = tuple[float | None, float | None, bool, bool]

POSITIVE: Bound = (0, None, True, False)  # > 0
NATURAL: Bound = (0, None, False, False)  # >= 0 (0 usually means "off" / "no limit")
COUNT: Bound = (1, None, False, False)  # >= 1
UNIT: Bound = (0, 1, False, False)  # [0, 1]
UNIT_RIGHT_OPEN: Bound = (0, 1, False, True)  # [0, 1)
FINITE: Bound = (None, None, False, False)  # any finite number
SEED: Bound = (0, 2**32 - 1, False, False)  # numpy's and torch's seeds are unsigned 32-bit

RANGES: dict[str, Bound] = {
    "data.valid_every": (2, None, False, False),  # every 2nd training pair at most
    "data.max_len": COUNT,
    "data.max_ratio": POSITIVE,
    "data.bpe_vocab": COUNT,
    "data.split_seed": SEED,
    "data.demo_seed": SEED,
    "lm.layer": COUNT,
    "model.dropout": UNIT_RIGHT_OPEN,
    "train.lr": POSITIVE,
    "train.warmup_updates": NATURAL,
    "train.warmup_init_lr": NATURAL,
    "train.weight_decay": NATURAL,
    "train.label_smoothing": UNIT_RIGHT_OPEN,
    "train.clip_norm": NATURAL,
    "train.max_tokens": COUNT,
    "train.update_freq": COUNT,
    "train.max_epochs": COUNT,
    "train.max_steps": NATURAL,
    "train.max_time": NATURAL,
    "train.patience": NATURAL,
    "train.valid_every_steps": NATURAL,
    "train.log_every": COUNT,
    "train.seed": SEED,
    "train.save_every_steps": NATURAL,
    "train.autosave_seconds": POSITIVE,
    "train.max_bad_updates": COUNT,
    "finetune.tau": POSITIVE,
    "finetune.ce_weight": UNIT,
    "finetune.lr": POSITIVE,
    "finetune.warmup_updates": NATURAL,
    "finetune.max_tokens": COUNT,
    "finetune.max_epochs": COUNT,
    "finetune.max_steps": NATURAL,
    "finetune.max_time": NATURAL,
    "finetune.patience": NATURAL,
    "finetune.valid_every_steps": NATURAL,
    "finetune.seed": SEED,
    "finetune.ref_cache_mb": NATURAL,
    "finetune.ref_spill_mb": NATURAL,
    # inherited from train when unset (config.INHERITED_FROM_TRAIN): the train section's ranges
    "finetune.warmup_init_lr": NATURAL,
    "finetune.weight_decay": NATURAL,
    "finetune.label_smoothing": UNIT_RIGHT_OPEN,
    "finetune.clip_norm": NATURAL,
    "finetune.update_freq": COUNT,
    "finetune.log_every": COUNT,
    "finetune.save_every_steps": NATURAL,
    "finetune.autosave_seconds": POSITIVE,
    "finetune.max_bad_updates": COUNT,
    "eval.beam": COUNT,
    "eval.lenpen": FINITE,
    "eval.max_len_a": NATURAL,
    "eval.max_len_b": NATURAL,
    "eval.batch_tokens": NATURAL,
}
# Each element of these tuples, each value of these mappings.
ELEMENT_RANGES: dict[str, Bound] = {
    "train.betas": UNIT_RIGHT_OPEN,
    "finetune.betas": UNIT_RIGHT_OPEN,
    "data.csv_split": UNIT,
    "data.demo_sizes": NATURAL,
}
# Numeric settings deliberately without a range, and why.
EXEMPT: dict[str, str] = {}


def describe(bound: Bound) -> str:
    """``> 0``, ``>= 1``, ``in [0, 1)``, ..."""
    low, high, low_open, high_open = bound
    if low is None and high is None:
        return "a finite number"
    if high is None:
        return f"{'>' if low_open else '>='} {_num(low)}"
    if low is None:
        return f"{'<' if high_open else '<='} {_num(high)}"
    return f"in {'(' if low_open else '['}{_num(low)}, {_num(high)}{')' if high_open else ']'}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def in_bound(value: Any, bound: Bound) -> bool:
    """Whether a number lies in ``bound`` (NaN and the infinities never do)."""
    low, high, low_open, high_open = bound
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    if low is not None and (value < low or (low_open and value == low)):
        return False
    return high is None or not (value > high or (high_open and value == high))


def range_problems(recipe: Any, known: list[str] | tuple[str, ...] = ()) -> list[str]:
    """One message per out-of-range setting of a built Recipe (empty: all in range); keys that
    already have a (type) problem in ``known`` are not reported twice."""
    problems = []
    for key, bound in RANGES.items():
        value = _get(recipe, key)
        if any(k.startswith(key + ":") for k in known):
            continue
        if value is not None and isinstance(value, (int, float)) and not in_bound(value, bound):
            problems.append(f"{key}: must be {describe(bound)}, got {shown(value)}")
    for key, bound in ELEMENT_RANGES.items():
        if any(k.startswith(key + ":") for k in known):
            continue
        values = _get(recipe, key) or ()
        values = list(values.values() if isinstance(values, dict) else values)
        bad = [v for v in values if isinstance(v, (int, float)) and not in_bound(v, bound)]
        if bad:
            problems.append(f"{key}: every value must be {describe(bound)}, got {shown(bad)}")
    return problems


def _get(recipe: Any, key: str) -> Any:
    section, name = key.split(".")
    return getattr(getattr(recipe, section, None), name, None)
