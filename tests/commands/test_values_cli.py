"""Values: every numeric option is checked at the CLI edge (usage error, exit 2),
``--set`` without ``=`` is a usage error, recipe values are range-checked before anything is
created, and Ctrl-C prints main()'s one line and exits 130 (that test is in
test_train_translate_cli.py: it interrupts a translate blocked on its open stdin)."""
from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from bertune_cli.main import app

BAD = [
    # before: trained without limit / showed "1/-3"
    ["train-baseline", "--max-steps", "0"], ["train-baseline", "--max-steps", "-3"],
    ["train-baseline", "--max-epochs", "0"], ["train-baseline", "--max-time", "0"],
    ["finetune", "--max-steps", "0"], ["finetune", "--tau", "0"], ["finetune", "--tau", "-0.5"],
    ["finetune", "--ce-weight", "1.5"], ["finetune", "--layer", "0"],
    # before: --samples -5 silently used 1000; --alpha 5 was accepted; -m '' used the defaults
    ["significance", "r", "a", "b", "--samples", "-5"], ["significance", "r", "a", "b",
                                                          "--samples", "0"],
    ["significance", "r", "a", "b", "--alpha", "5"], ["significance", "r", "a", "b",
                                                       "--alpha", "0"],
    ["significance", "r", "a", "b", "-m", ""], ["score", "h", "r", "-m", ""],
    ["score", "h", "r", "-m", "bleu,"], ["score", "h", "r", "--batch-size", "0"],
    ["significance", "r", "a", "b", "--seed", "-1"],
    # before: --beam 0 reported an n-best problem, --n-best 0 crashed inside transformers
    ["translate", "-m", "x", "--beam", "0"], ["translate", "-m", "x", "--beam", "-1"],
    ["translate", "-m", "x", "--n-best", "0"], ["translate", "-m", "x", "--batch-tokens", "0"],
    # before: exit 1 (a ConfigError)
    ["prepare", "--set", "foo"], ["prepare", "--set", "=1"], ["finetune", "-s", "train.lr"],
]


@pytest.mark.parametrize("args", BAD, ids=[" ".join(a) for a in BAD])
def test_bad_values_are_usage_errors(args, runs_dir):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output
    assert not runs_dir.exists()                      # nothing was started


def test_finetune_tau_zero_is_refused_before_any_run_folder(runs_dir):
    """Before: the run started and left a folder whose config.yaml recorded tau 0."""
    for args in (["--tau", "0"], ["--set", "finetune.tau=0"]):
        result = CliRunner().invoke(app, ["finetune", "--pair", "demo", *args])
        assert result.exit_code != 0
        assert not runs_dir.exists(), list(runs_dir.rglob("*"))
    result = CliRunner().invoke(app, ["prepare", "--set", "finetune.tau=-0.5",
                                      "--set", "eval.beam=0"])
    assert result.exit_code == 1
    message = str(result.exception)
    assert "finetune.tau: must be > 0, got -0.5" in message
    assert "eval.beam: must be >= 1, got 0" in message          # every problem at once


def test_yaml_values_are_range_checked(tmp_path):
    from bertune_cli.core.config.recipe import load_recipe
    from bertune_cli.core.errors import ConfigError

    path = tmp_path / "r.yaml"
    path.write_text("description: x\nsrc: de\ntgt: en\nfinetune: {tau: 0}\n"
                    "train: {lr: -1, betas: [0.9, 1.5]}\n")
    with pytest.raises(ConfigError) as info:
        load_recipe(str(path))
    assert [p.split(":")[0] for p in info.value.problems] == ["train.lr", "finetune.tau",
                                                              "train.betas"]


def _bertune(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "bertune_cli.main", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_set_without_equals_exits_2_through_main():
    proc = _bertune("prepare", "--set", "foo")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "not KEY=VALUE" in err
