"""Option values are checked in one place at the CLI edge (bertune_cli/_options.py): every float
option of every command refuses NaN and the infinities, every path option refuses '' (which
Path() reads as the current folder), seeds are 0 ... 2^32-1 — all usage errors (exit 2)
before anything is created. The float and path options are found by walking every command,
so an option added later is covered too."""
from __future__ import annotations

import inspect
import pathlib
import types
import typing

import pytest
from typer.testing import CliRunner

from bertune_cli.main import app


def _unwrap(tp):
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return inner[0] if len(inner) == 1 else tp
    return tp


def _params(command):
    """(name, type, info, required) of a registered command's parameters."""
    hints = typing.get_type_hints(command.callback, include_extras=True)
    for name, param in inspect.signature(command.callback).parameters.items():
        hint = hints[name]
        info = typing.get_args(hint)[1]
        yield name, _unwrap(typing.get_args(hint)[0]), info, param.default is inspect._empty


def _flag(info) -> str | None:
    decls = [d for d in (info.default, *(info.param_decls or ())) if isinstance(d, str)]
    return next((d for d in decls if d.startswith("--")), None)


def _required_args(command) -> list[str]:
    """Dummy values for the required parameters, so parsing reaches the option under test."""
    args: list[str] = []
    for _, _, info, required in _params(command):
        if required:
            flag = _flag(info)
            args += [flag, "x"] if flag else ["x"]
    return args


def _options(kind) -> list[tuple[str, str, list[str]]]:
    out = []
    for command in app.registered_commands:
        for name, tp, info, required in _params(command):
            flag = _flag(info)
            if flag and (tp is kind or typing.get_args(tp) == (kind,)):
                out.append((command.name, flag, _required_args(command)))
    return out


FLOATS = _options(float)
PATHS = _options(pathlib.Path)


def test_the_walk_finds_the_options():
    assert {("translate", "--lenpen"), ("finetune", "--tau"), ("finetune", "--ce-weight"),
            ("significance", "--alpha"), ("serve", "--timeout")} <= {o[:2] for o in FLOATS}
    assert {("export", "--out"), ("report", "--out"), ("translate", "--output"),
            ("prepare", "--runs-dir")} <= {o[:2] for o in PATHS}


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("command, flag, args", FLOATS, ids=[f"{c} {f}" for c, f, _ in FLOATS])
def test_every_float_option_refuses_non_finite_values(command, flag, args, value, runs_dir):
    """Before: --lenpen nan was accepted and changed the output; --ce-weight nan and
    serve --timeout nan passed their min/max checks."""
    result = CliRunner().invoke(app, [command, *args, f"{flag}={value}"])
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output and flag in result.output
    assert not runs_dir.exists()


@pytest.mark.parametrize("command, flag, args", PATHS, ids=[f"{c} {f}" for c, f, _ in PATHS])
def test_every_path_option_refuses_an_empty_path(command, flag, args, runs_dir):
    """Before: export --out '' was taken as '.' (and failed after the conversion)."""
    result = CliRunner().invoke(app, [command, *args, f"{flag}="])
    assert result.exit_code == 2, result.output
    assert "is empty" in result.output
    assert not runs_dir.exists()


@pytest.mark.parametrize("args", [
    ["finetune", "--seeds", "-1"], ["finetune", "--seeds", "1,99999999999999999999999"],
    ["finetune", "--seeds", "4294967296"], ["translate", "-m", "x", "--seed", "-1"],
    ["significance", "r", "a", "b", "--seed", "99999999999999999999999"],
    ["report", "runs", "--seed", "4294967296"],
    ["translate", "-m", "x", "--mc-dropout", "100000"],   # before: ran for ever
    ["translate", "-m", "x", "--mc-dropout", "33"],
])
def test_seeds_and_mc_dropout_are_bounded_before_anything_is_created(args, runs_dir):
    """Before: finetune --seeds -1 ran prepare and the baseline, created the run folder, then
    died with a numpy traceback; 99999999999999999999999 was an overflow traceback."""
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output
    assert not runs_dir.exists()


def test_the_seed_bounds_are_inclusive():
    import typer

    from bertune_cli.commands import finetune

    assert finetune._grid_values(None, "0,4294967295") == ([], [0, 2**32 - 1])
    with pytest.raises(typer.BadParameter, match="out of range"):
        finetune._grid_values(None, "4294967296")
