"""Issue #17, deterministic demo: the demo recipe is budgeted in updates/epochs, never in
seconds, so every machine trains the same model and gets the same numbers."""
from __future__ import annotations

from bertune_cli.core.config import load_recipe


def test_the_demo_recipe_has_no_time_budget():
    recipe = load_recipe("demo")
    assert recipe.train.max_time == 0 and recipe.finetune.max_time == 0
    assert recipe.train.max_steps > 0
    assert recipe.finetune.max_steps > 0 or recipe.finetune.max_epochs >= 1
