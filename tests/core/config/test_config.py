"""Recipes: every shipped recipe validates; overrides are type-checked; all problems at once."""
from __future__ import annotations

import pytest

from bertune_cli.core.config.recipe import (
    RECIPES_DIR,
    Recipe,
    list_recipes,
    load_recipe,
    recipe_from_dict,
    resolve_recipe_path,
)
from bertune_cli.core.errors import ConfigError

SHIPPED = sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def test_the_required_recipes_ship():
    assert {"demo", "multi30k-de-en", "iwslt14-de-en", "iwslt14-zh-en", "iwslt14-en-tr",
            "iwslt14-en-es", "hi-en", "en-hi"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_recipe_loads_and_opens_with_its_run_command(name):
    recipe = load_recipe(name)
    assert isinstance(recipe, Recipe) and recipe.name == name and recipe.description
    first = (RECIPES_DIR / f"{name}.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# Run: bertune ") and f"--pair {name}" in first
    assert recipe.src and recipe.tgt and recipe.src != recipe.tgt


def test_paper_settings_in_iwslt_recipes():
    r = load_recipe("iwslt14-de-en")
    assert (r.model.preset, r.data.bpe_vocab, r.data.target_vocab) == (
        "transformer_iwslt_de_en", 32000, "full")
    assert (r.train.lr, r.train.warmup_updates, r.train.label_smoothing) == (5e-4, 4000, 0.1)
    assert r.train.betas == (0.9, 0.98) and r.finetune.lr == 5e-5 and r.train.patience == 3
    # hi-en (English target) runs offline on the bundled MiniLM; en-hi keeps
    # the blog's multilingual LM (and scores MoverScore with it)
    assert load_recipe("hi-en").lm.name == "minilm"
    en_hi = load_recipe("en-hi")
    assert en_hi.lm.name == en_hi.eval.ms_lm == "bert-base-multilingual-cased"


def test_overrides_are_typed():
    r = load_recipe("demo", ["train.lr=3e-4", "finetune.soft=sparsemax", "train.betas=[0.9, 0.99]",
                             "eval.beam=4"])
    assert r.train.lr == 3e-4 and r.finetune.soft == "sparsemax"
    assert r.train.betas == (0.9, 0.99) and r.eval.beam == 4


def test_all_problems_reported_together():
    with pytest.raises(ConfigError) as info:
        load_recipe("demo", ["train.lr=abc", "foo.bar=1", "model.presett=x",
                             "data.target_vocab=huge", "train.betas=[1]", "eval.beam=2.5",
                             "noequals"])
    problems = info.value.problems
    assert len(problems) == 7, problems
    text = " | ".join(problems)
    for needle in ("train.lr", "unknown key foo", "unknown key model.presett",
                   "data.target_vocab", "train.betas", "eval.beam", "noequals"):
        assert needle in text


def test_missing_and_malformed_recipe_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        resolve_recipe_path(str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="unknown recipe"):
        resolve_recipe_path("klingon-en")
    bad = tmp_path / "bad.yaml"
    bad.write_text("src: de\n  tgt: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(str(bad))
    partial = tmp_path / "partial.yaml"
    partial.write_text("description: x\nsrc: de\n")
    with pytest.raises(ConfigError, match="missing key tgt"):
        load_recipe(str(partial))


def test_round_trip_through_dict_and_hash():
    r = load_recipe("multi30k-de-en")
    again = recipe_from_dict(r.to_dict())
    assert again == r
    assert r.section_hash("data", "lm") == again.section_hash("data", "lm")
    assert load_recipe("multi30k-de-en", ["data.bpe_vocab=4000"]).section_hash("data") != \
        r.section_hash("data")


def test_list_recipes_has_descriptions():
    rows = dict(list_recipes())
    assert set(rows) == set(SHIPPED) and all(rows.values())


@pytest.mark.parametrize("name", [n for n, _ in list_recipes()])
def test_every_shipped_recipe_has_an_f_bert_layer(name):
    """finetune needs the layer before it loads the LM: the recipe names it or bert_score's
    table (or bertune's) knows the LM's default."""
    from bertune_cli.core.loops.services import recipe_layer

    assert recipe_layer(load_recipe(name)) >= 1


def test_a_recipe_variant_names_only_what_differs_from_its_base():
    base, variant = load_recipe("multi30k-de-en"), load_recipe("multi30k-de-en-1100")
    assert variant.name == "multi30k-de-en-1100" and variant.train.max_steps == 1100
    assert (variant.data, variant.lm, variant.model, variant.finetune, variant.eval) == \
        (base.data, base.lm, base.model, base.finetune, base.eval)
    assert variant.train.lr == base.train.lr and variant.description != base.description


def test_recipe_bases_that_loop_are_refused(tmp_path):
    (tmp_path / "a.yaml").write_text(f"base: {tmp_path / 'b.yaml'}\nsrc: de\n")
    (tmp_path / "b.yaml").write_text(f"base: {tmp_path / 'a.yaml'}\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_recipe(str(tmp_path / "a.yaml"))
