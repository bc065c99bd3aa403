"""Deterministic demo: the demo recipe is budgeted in updates/epochs, never in seconds, so every
machine trains the same model and gets the same numbers; the budgets are the ones `make demo`
announces."""
from __future__ import annotations

import re
from pathlib import Path

from bertune_cli.core.config.recipe import load_recipe

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"


def test_the_demo_recipe_has_no_time_budget():
    recipe = load_recipe("demo")
    assert recipe.train.max_time == 0 and recipe.finetune.max_time == 0


def test_the_demo_budgets_are_the_ones_make_demo_announces():
    """`make demo` says "train-baseline (N updates) -> finetune gumbel (K epoch...)": the
    baseline stops at N updates and fine-tuning runs K whole epochs, not a step count."""
    said = re.search(r"train-baseline \((\d+) updates\) -> finetune \w+ \((\d+) epochs?",
                     MAKEFILE.read_text(encoding="utf-8"))
    assert said, "the Makefile's demo target no longer announces its budgets"
    recipe = load_recipe("demo")
    assert recipe.train.max_steps == int(said.group(1))
    assert recipe.finetune.max_epochs == int(said.group(2)) and recipe.finetune.max_steps == 0
