"""One set of defaults: the recipe's dataclasses. The loop's settings come from a recipe section
with no default of their own, the fine-tuning section inherits named train keys in one place,
the loop's bookkeeping knobs are recipe keys, and typed option values are never read as YAML."""
from __future__ import annotations

import dataclasses
import enum

import pytest

from bertune_cli.core.config.recipe import (
    INHERITED_FROM_TRAIN,
    FinetuneConfig,
    TrainConfig,
    load_recipe,
    resolve_finetune,
    with_values,
)
from bertune_cli.core.errors import ConfigError
from bertune_cli.core.loops.finetune import loop_settings
from bertune_cli.core.loops.trainer import BASELINE_ONLY, LoopSettings


def test_loop_settings_have_no_defaults_of_their_own():
    defaulted = [f.name for f in dataclasses.fields(LoopSettings)
                 if f.default is not dataclasses.MISSING
                 or f.default_factory is not dataclasses.MISSING]
    assert defaulted == ["schedule_offset"]   # not a recipe setting: a continuation's offset
    with pytest.raises(TypeError):            # a section without a field: no silent fallback
        LoopSettings.from_config(load_recipe("demo").eval)


def test_baseline_settings_are_the_train_section():
    train = load_recipe("demo", ["train.weight_decay=0.02", "train.save_every_steps=7",
                                 "train.autosave_seconds=30", "train.max_bad_updates=2"]).train
    loop = LoopSettings.from_config(train)
    for f in dataclasses.fields(LoopSettings):
        if f.name in BASELINE_ONLY:
            assert getattr(loop, f.name) == BASELINE_ONLY[f.name]
        elif f.name != "schedule_offset":
            assert getattr(loop, f.name) == getattr(train, f.name), f.name
    assert (loop.weight_decay, loop.save_every_steps, loop.autosave_seconds,
            loop.max_bad_updates) == (0.02, 7, 30.0, 2)
    assert (loop.select_metric, loop.validate_start) == ("bleu", False)


def test_shipped_defaults_of_both_stages_are_what_the_loop_used_before():
    """Where the three sets of defaults differed, the value the code ran with is kept."""
    recipe = load_recipe("iwslt14-de-en")   # a recipe that sets neither schedule
    base, ft = LoopSettings.from_config(recipe.train), loop_settings(recipe)
    assert (base.weight_decay, ft.weight_decay) == (1e-4, 1e-4)   # not the loop's old 0.0
    assert (base.max_epochs, ft.max_epochs) == (100, 10)
    assert (base.validate_start, ft.validate_start) == (False, True)
    assert (base.lr, ft.lr) == (5e-4, 5e-5)
    assert ft.seed == recipe.train.seed and ft.warmup_init_lr == 1e-7
    assert (ft.save_every_steps, ft.autosave_seconds, ft.max_bad_updates) == (0, 600.0, 5)


def test_finetune_inherits_exactly_the_listed_train_keys():
    train_only = {f.name for f in dataclasses.fields(TrainConfig)}
    ft_fields = {f.name: f for f in dataclasses.fields(FinetuneConfig)}
    assert set(INHERITED_FROM_TRAIN) <= train_only
    assert all(ft_fields[k].default is None for k in INHERITED_FROM_TRAIN)
    recipe = load_recipe("demo", ["train.weight_decay=0.03", "train.clip_norm=1.0",
                                  "train.log_every=7", "finetune.clip_norm=0.5"])
    assert recipe.finetune.weight_decay is None           # unset until resolved
    ft = resolve_finetune(recipe).finetune
    assert (ft.weight_decay, ft.log_every, ft.clip_norm) == (0.03, 7, 0.5)  # own value wins
    assert all(getattr(ft, k) is not None for k in INHERITED_FROM_TRAIN)
    assert resolve_finetune(resolve_finetune(recipe)) == resolve_finetune(recipe)
    loop = loop_settings(recipe, weight_decay=0.5)          # an explicit loop override wins
    assert (loop.weight_decay, loop.clip_norm, loop.log_every) == (0.5, 0.5, 7)
    assert loop_settings(load_recipe("demo", ["finetune.seed=9"])).seed == 9


def test_unresolved_finetune_section_is_refused():
    with pytest.raises(ValueError, match="resolve"):
        LoopSettings.from_config(load_recipe("demo").finetune)


@pytest.mark.parametrize("override, problem", [
    ("train.autosave_seconds=0", "train.autosave_seconds: must be > 0, got 0.0"),
    ("train.max_bad_updates=0", "train.max_bad_updates: must be >= 1, got 0"),
    ("train.save_every_steps=-1", "train.save_every_steps: must be >= 0, got -1"),
    ("finetune.max_bad_updates=0", "finetune.max_bad_updates: must be >= 1, got 0"),
    ("finetune.weight_decay=-1", "finetune.weight_decay: must be >= 0, got -1.0"),
    ("finetune.betas=[0.9, 1.0]", "finetune.betas: every value must be in [0, 1), got [1.0]"),
])
def test_new_keys_are_range_checked(override, problem):
    with pytest.raises(ConfigError) as info:
        load_recipe("demo", [override])
    assert info.value.problems == [problem]


class _Mode(str, enum.Enum):
    dense = "dense"


def test_typed_values_are_never_read_as_yaml():
    recipe = load_recipe("demo", ["lm.name=minilm"],
                         values={"lm.name": "yes", "finetune.tau": 0.5, "lm.layer": None,
                                 "finetune.soft": _Mode.dense})
    assert recipe.lm.name == "yes" and recipe.finetune.tau == 0.5
    assert recipe.lm.layer == 5 and recipe.finetune.soft == "dense"   # None: not given
    assert type(recipe.finetune.soft) is str           # the Enum stands for its value
    # the same text through --set is YAML: `yes` is the boolean true
    with pytest.raises(ConfigError, match="lm.name: expected a string, got True"):
        load_recipe("demo", ["lm.name=yes"])
    # typed values are type- and range-checked like the recipe's own, all problems at once
    with pytest.raises(ConfigError) as info:
        load_recipe("demo", values={"lm.name": True, "finetune.tau": 0.0})
    assert info.value.problems == ["lm.name: expected a string, got True",
                                   "finetune.tau: must be > 0, got 0.0"]
    with pytest.raises(ConfigError, match="finetune.ce_weight: must be in"):
        with_values(recipe, {"finetune.ce_weight": 2.0})
