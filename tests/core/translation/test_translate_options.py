"""DecodeOptions: one value for every decoding, built from a recipe's eval section."""
from __future__ import annotations

import dataclasses

import pytest

from bertune_cli.core.config.recipe import EvalConfig, load_recipe
from bertune_cli.core.errors import UsageError
from bertune_cli.core.translation import DecodeOptions, from_eval


def test_the_defaults_are_the_recipe_defaults():
    """A model built without a recipe decodes as a recipe that sets nothing."""
    assert from_eval(EvalConfig()) == DecodeOptions() == from_eval(None) == from_eval({})


def test_an_eval_section_gives_its_decoding_keys_and_nothing_else():
    recipe = load_recipe("demo", ["eval.beam=3", "eval.lenpen=0.6", "eval.max_len_a=0.5",
                                  "eval.max_len_b=7", "eval.batch_tokens=64"])
    want = DecodeOptions(beam=3, lenpen=0.6, max_len_a=0.5, max_len_b=7, batch_tokens=64)
    assert from_eval(recipe.eval) == want
    # a checkpoint's bertune.json holds the section as a dict, scoring keys included
    assert from_eval(dataclasses.asdict(recipe.eval)) == want
    assert from_eval({"beam": 2, "lowercase": True}) == DecodeOptions(beam=2)


def test_given_options_override_and_unset_ones_keep_the_defaults():
    base = DecodeOptions(beam=4, lenpen=0.8)
    assert base.with_(beam=None, n_best=2) == DecodeOptions(beam=4, lenpen=0.8, n_best=2)
    assert base.with_(return_scores=False, lenpen=1.0) == DecodeOptions(beam=4)
    with pytest.raises(TypeError):
        base.with_(beams=3)                  # a misspelt option is never silently dropped
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.beam = 2                        # type: ignore[misc]
    assert len({base, base.with_(), DecodeOptions(beam=4, lenpen=0.8)}) == 1  # a batching key


def test_more_hypotheses_than_the_beam_is_a_usage_error():
    with pytest.raises(UsageError, match="--n-best 3 is larger than the beam"):
        DecodeOptions(beam=2, n_best=3).check()
    assert DecodeOptions(beam=3, n_best=3).check().n_best == 3
    assert DecodeOptions().plain() and not DecodeOptions(return_scores=True).plain()
