"""Every numeric recipe setting has a value range (or a stated exemption), and the ranges are
real entries of the table (two of them once sat inside a comment and checked nothing)."""
from __future__ import annotations

import dataclasses
import types
import typing

import pytest

from bertune_cli.core.config.ranges import ELEMENT_RANGES, EXEMPT, RANGES
from bertune_cli.core.config.recipe import Recipe, load_recipe
from bertune_cli.core.errors import ConfigError


def _unwrap(tp):
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return inner[0] if len(inner) == 1 else tp
    return tp


def numeric_settings() -> tuple[set[str], set[str]]:
    """(scalar numeric settings, settings holding numbers: tuples and mappings) of Recipe."""
    scalars, containers = set(), set()
    for section in dataclasses.fields(Recipe):
        tp = typing.get_type_hints(Recipe)[section.name]
        if not dataclasses.is_dataclass(tp):
            continue
        for f in dataclasses.fields(tp):
            hint = _unwrap(typing.get_type_hints(tp)[f.name])
            key = f"{section.name}.{f.name}"
            if hint in (int, float):
                scalars.add(key)
            elif typing.get_origin(hint) in (tuple, dict) and \
                    typing.get_args(hint)[-1] in (int, float):
                containers.add(key)
    return scalars, containers


def test_every_numeric_setting_has_a_range_or_an_exemption():
    scalars, containers = numeric_settings()
    assert scalars and containers
    assert scalars - set(RANGES) - set(EXEMPT) == set()
    assert containers - set(ELEMENT_RANGES) - set(EXEMPT) == set()


def test_every_range_names_a_numeric_setting():
    scalars, containers = numeric_settings()
    assert set(RANGES) <= scalars and set(ELEMENT_RANGES) <= containers
    assert set(EXEMPT) <= scalars | containers and all(EXEMPT.values())


@pytest.mark.parametrize("override, problem", [
    ("data.max_len=0", "data.max_len: must be >= 1, got 0"),        # before: loaded
    ("data.max_ratio=-1", "data.max_ratio: must be > 0, got -1.0"),  # before: loaded
    ("eval.lenpen=.nan", "eval.lenpen: must be a finite number, got nan"),
    ("train.lr=.inf", "train.lr: must be > 0, got inf"),
    ("train.seed=-1", "train.seed: must be in [0, 4294967295], got -1"),
    ("finetune.seed=4294967296", "finetune.seed: must be in [0, 4294967295], got 4294967296"),
    ("data.demo_sizes={train: -5}", "data.demo_sizes: every value must be >= 0, got [-5]"),
])
def test_out_of_range_values_are_refused(override, problem):
    with pytest.raises(ConfigError) as info:
        load_recipe("demo", [override])
    assert info.value.problems == [problem] and info.value.exit_code == 2


def test_the_largest_seed_is_accepted():
    assert load_recipe("demo", ["finetune.seed=4294967295"]).finetune.seed == 2**32 - 1
