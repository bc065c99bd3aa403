"""The CLI shell: instant help, version, recipes, error mapping and exit codes."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from bertune_cli import __version__
from bertune_cli.main import app

COMMANDS = ["prepare", "train-baseline", "finetune", "translate", "score", "significance",
            "recipes", "serve", "report", "export"]


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "bertune_cli.main", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)


HEAVY = ("torch", "transformers", "sacrebleu", "fastapi", "mlflow", "matplotlib", "captum",
         "ctranslate2", "ot")


def _heavy_after(code: str) -> tuple[list[str], subprocess.CompletedProcess]:
    """The HEAVY modules loaded once ``code`` has run in a fresh interpreter (a SystemExit
    of ``code`` is caught and its exit code returned in the output's returncode)."""
    script = (f"import sys\ncode = 0\ntry:\n    exec({code!r})\n"
              "except SystemExit as e:\n    code = e.code\n"
              f"print('HEAVY', *[m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
              "sys.exit(code)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    line = [ln for ln in out.stderr.splitlines() if ln.startswith("HEAVY")]
    assert line, out.stderr
    return line[-1].split()[1:], out


def test_importing_cli_does_not_import_torch_or_transformers():
    heavy, out = _heavy_after("import bertune_cli.main")
    assert out.returncode == 0 and heavy == [], out.stderr


def test_help_is_fast_and_lists_every_command():
    """Fast = `bertune --help` imports none of the heavy libraries (checked in the process
    that prints the help; no wall-clock timing, which CPU steal makes meaningless)."""
    heavy, out = _heavy_after("from bertune_cli.main import main\n"
                              "sys.argv = ['bertune', '--help']\nmain()")
    for cmd in COMMANDS:
        assert cmd in out.stdout
    assert out.returncode == 0 and heavy == [], out.stderr


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_command_help_has_an_example(cmd):
    result = CliRunner().invoke(app, [cmd, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output and f"bertune {cmd}" in result.output


def test_version():
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"bertune {__version__}"


def test_recipes_lists_shipped_recipes_as_json():
    import json

    out = _run("recipes", "--json")
    assert out.returncode == 0
    names = {r["name"] for r in json.loads(out.stdout)}
    assert {"demo", "multi30k-de-en", "iwslt14-de-en", "iwslt14-zh-en", "iwslt14-en-tr",
            "iwslt14-en-es", "hi-en", "en-hi"} <= names


def test_usage_error_exits_2():
    out = _run("prepare", "--no-such-option")
    assert out.returncode == 2
    assert "No such option" in out.stderr


def test_bertune_error_is_one_red_line_and_debug_shows_traceback():
    out = _run("prepare", "--pair", "no-such-recipe")
    assert out.returncode == 2  # the request names no recipe: a usage error (docs/errors.md)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert "bertune recipes" in lines[0] or "shipped recipes" in lines[0]
    assert "Traceback" not in out.stderr
    debug = _run("prepare", "--pair", "no-such-recipe", env={"BERTUNE_DEBUG": "1"})
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_bad_recipe_override_lists_every_problem():
    out = _run("prepare", "--pair", "demo", "--set", "train.lr=abc", "--set", "nope.x=1",
               "--set", "data.target_vocab=huge")
    assert out.returncode == 2
    assert "train.lr" in out.stderr and "unknown key nope" in out.stderr
    assert "data.target_vocab" in out.stderr
