"""`bertune finetune` on the command line: options -> recipe overrides, output, refusals."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from bertune_cli.main import app

from tiny import cli_sets


def _args(runs, *extra):
    return ["finetune", "--pair", "demo", "--runs-dir", str(runs), *cli_sets(), *extra]


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """One CLI run from nothing (prepare → train-baseline → finetune → report), as JSON: its
    own baseline, not the shared tiny_baseline (the first test checks that every stage ran)."""
    runs = tmp_path_factory.mktemp("cli") / "runs"
    result = CliRunner().invoke(app, _args(runs, "--soft", "sparsemax", "--max-steps", "2",
                                           "--device", "cpu", "--json"))
    assert result.exit_code == 0, result.output
    return runs, json.loads(result.stdout)


def test_json_result_has_stages_scores_and_outputs(done):
    runs, out = done
    assert [s["action"] for s in out["stages"]] == ["run", "run", "run"]
    assert out["finetune"]["soft"] == "sparsemax" and out["finetune"]["updates"] == 2
    assert set(out["report"]["scores"]) == {"baseline", "finetuned"}
    assert out["report"]["outputs"]["finetuned"] == str(
        runs / "demo" / "finetune-sparsemax" / "test.hyp.txt")
    meta = json.loads((runs / "demo" / "finetune-sparsemax" / "checkpoint_best" /
                       "bertune.json").read_text())
    assert meta["config"]["finetune"]["soft"] == "sparsemax"
    # what ran is recorded, not "auto" (the recipe's value stays in config)
    assert meta["config"]["finetune"]["impl"] == "auto" and meta["finetune"]["impl"] == "torch"
    done_file = json.loads((runs / "demo" / "finetune-sparsemax" / "DONE").read_text())
    assert done_file["impl"] == "torch"


def test_options_become_recipe_values_and_text_output_names_the_outputs(done):
    runs, _ = done
    result = CliRunner().invoke(app, _args(runs, "--soft", "gumbel", "--tau", "0.5", "--hard",
                                           "--ce-weight", "0.3", "--impl", "torch",
                                           "--max-steps", "1", "--device", "cpu"))
    assert result.exit_code == 0, result.output
    meta = json.loads((runs / "demo" / "finetune-gumbel" / "checkpoint_best" /
                       "bertune.json").read_text())
    ft = meta["config"]["finetune"]
    assert (ft["tau"], ft["hard"], ft["ce_weight"], ft["impl"]) == (0.5, True, 0.3, "torch")
    # the implementation that runs is said once, on stderr (before: an INFO log nobody saw)
    assert result.output.count("soft-embedding: PyTorch reference (impl=torch)") == 1
    assert "soft-embedding" not in result.stdout
    text = result.stdout
    # another soft mode reuses the data and the baseline
    assert "prepare: skipped" in result.output and "train-baseline: skipped" in result.output
    assert "finetune: running" in result.output
    assert "baseline" in text and "finetuned" in text and "BLEU" in text and "F_BERT" in text
    assert str(runs / "demo" / "finetune-gumbel" / "test.hyp.txt") in text
    assert "p-value" in text and "report:" in text


def test_lm_or_layer_mismatch_is_one_red_line(done):
    runs, _ = done
    env = {**os.environ, "BERTUNE_RUNS": str(runs)}
    args = [a for a in _args(runs, "--layer", "4", "--max-steps", "1")]
    out = subprocess.run([sys.executable, "-m", "bertune_cli.main", *args], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "layer 5" in lines[0]


def test_lm_option_names_a_folder_even_when_it_reads_as_a_yaml_word(tmp_path):
    """`--lm yes` is the folder `yes`, not the YAML boolean true: the one-line refusal names
    the folder (it holds no model), and nothing is created."""
    (tmp_path / "yes").mkdir()
    out = subprocess.run([sys.executable, "-m", "bertune_cli.main", "finetune", "--pair", "demo",
                          "--lm", "yes", "--runs-dir", str(tmp_path / "runs")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 1 and len(lines) == 1, out.stderr
    assert "yes is not a model folder" in lines[0] and "expected a string" not in lines[0]
    assert not (tmp_path / "runs").exists()


def test_bad_soft_mode_is_a_usage_error():
    result = CliRunner().invoke(app, ["finetune", "--pair", "demo", "--soft", "hardmax"])
    assert result.exit_code == 2


def test_help_shows_an_example_without_loading_torch():
    """`finetune --help` is instant because it imports no heavy library (checked in the
    process that prints it, not by a wall clock)."""
    script = ("import sys\nfrom bertune_cli.main import main\n"
              "sys.argv = ['bertune', 'finetune', '--help']\ncode = 0\n"
              "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
              "print('HEAVY', *[m for m in ('torch', 'transformers', 'sacrebleu') "
              "if m in sys.modules], file=sys.stderr)\nsys.exit(code)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    assert "bertune finetune --pair demo --soft gumbel" in out.stdout
    assert "--soft" in out.stdout and "--from" in out.stdout
    assert out.stderr.splitlines()[-1] == "HEAVY", out.stderr
