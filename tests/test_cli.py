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


def test_recipes_lists_shipped_recipes_as_json_object():
    """`--json` promises a JSON object (its help says so): the recipes, the pair table and the
    folder they come from."""
    import json

    out = _run("recipes", "--json")
    assert out.returncode == 0
    doc = json.loads(out.stdout)
    assert isinstance(doc, dict) and set(doc) == {"recipes_dir", "recipes", "pairs"}
    names = {r["name"] for r in doc["recipes"]}
    assert {"demo", "multi30k-de-en", "iwslt14-de-en", "iwslt14-zh-en", "iwslt14-en-tr",
            "iwslt14-en-es", "hi-en", "en-hi"} <= names
    assert doc["pairs"]["de-en"] == "iwslt14-de-en"
    assert all(set(r) == {"name", "description", "aliases"} for r in doc["recipes"])
    assert "JSON object" in CliRunner().invoke(app, ["recipes", "--help"]).output


def _help_texts(command) -> list[str]:
    texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
    for sub in getattr(command, "commands", {}).values():
        texts += _help_texts(sub)
    return texts


def test_no_help_text_has_brackets_eaten_by_rich_markup():
    """Help is rendered as rich markup: a literal `[ct2]` (as in pip install 'bertune[ct2]')
    would be taken for a style tag and vanish; literal brackets must be escaped (\\[)."""
    import typer.main
    from rich.markup import _parse
    from rich.style import Style

    eaten = []
    for text in _help_texts(typer.main.get_command(app)):
        for _, _, tag in _parse(text):
            if tag is not None and not tag.name.startswith("/"):
                try:
                    Style.parse(tag.name)
                except Exception:
                    eaten.append((tag.name, text[:60]))
    assert eaten == []
    out = CliRunner().invoke(app, ["export", "--help"], env={"COLUMNS": "200"}).output
    assert "pip install 'bertune[ct2]'" in out


@pytest.mark.parametrize("cmd", ["recipes", "report", "translate", "score", "export"])
def test_help_draws_on_off_flags_without_a_value_type(cmd):
    """--json, --html, --help take no value: no `<bool>` after them, as click/argparse draw
    flags; options with a value keep their type."""
    out = CliRunner().invoke(app, [cmd, "--help"], env={"COLUMNS": "200"}).output
    assert "<bool>" not in out
    assert any("--json" in line for line in out.splitlines())
    root = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"}).output
    assert "<bool>" not in root and "--version" in root
    typed = CliRunner().invoke(app, ["translate", "--help"], env={"COLUMNS": "200"}).output
    assert any("--beam" in line and "<int" in line for line in typed.splitlines())


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
