"""`--pair` as users write it (PAIR_ALIASES) and the preflight that names everything a pair
is missing at once (core/pipeline/preflight.py). No network: HF_HUB_OFFLINE=1 is set by the tests."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bertune_cli.core.config.recipe import PAIR_ALIASES, aliases_of, load_recipe
from bertune_cli.core.errors import DataError, LMUnavailable
from bertune_cli.core.pipeline.preflight import check_runnable, lm_missing


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.parametrize("pair, recipe", [("de-en", "iwslt14-de-en"), ("zh-en", "iwslt14-zh-en"),
                                          ("en-tr", "iwslt14-en-tr"), ("en-es", "iwslt14-en-es"),
                                          ("hi-en", "hi-en"), ("en-hi", "en-hi"),
                                          ("DE-EN", "iwslt14-de-en")])
def test_pairs_resolve_to_the_papers_and_the_blogs_recipes(pair, recipe):
    loaded = load_recipe(pair)
    assert loaded.name == recipe                  # one run tree whichever name is used
    assert pair.lower() in aliases_of(recipe)
    assert f"{loaded.src}-{loaded.tgt}" == pair.lower()


def test_one_message_names_the_archive_and_the_lm(tmp_path):
    recipe = load_recipe("zh-en")
    with pytest.raises(DataError) as exc:
        check_runnable(recipe, "finetune", None, tmp_path)
    msg = str(exc.value)
    assert "2 things are missing" in msg
    assert "zh-en.tgz" in msg and "--data-dir DIR" in msg
    assert "bert-base-uncased" in msg and "`hf download bert-base-uncased`" in msg


def test_archive_in_the_data_dir_leaves_only_the_lm(tmp_path):
    (tmp_path / "de-en.tgz").write_bytes(b"")
    with pytest.raises(LMUnavailable) as exc:      # only the LM is missing now
        check_runnable(load_recipe("de-en"), "prepare", tmp_path, tmp_path / "runs")
    assert "1 thing is missing" in str(exc.value) and "hf download" in str(exc.value)


def test_en_hi_names_the_multilingual_lm_and_the_csv(tmp_path):
    with pytest.raises(DataError) as exc:
        check_runnable(load_recipe("en-hi"), "finetune", None, tmp_path)
    msg = str(exc.value)
    assert "data.csv" in msg and "bert-base-multilingual-cased" in msg
    assert msg.count("bert-base-multilingual-cased: not in") == 1   # LM and MS LM: one entry


def test_hi_en_runs_offline_with_the_bundled_lm(tmp_path):
    csv = tmp_path / "Hindi_English_Truncated_Corpus.csv"
    csv.write_text("source,english_sentence,hindi_sentence\nted,Hello.,नमस्ते।\n",
                   encoding="utf-8")
    recipe = load_recipe("hi-en")
    assert recipe.lm.name == "minilm" and recipe.lm.layer == 5
    assert recipe.data.target_vocab == "shortlist" and recipe.eval.lowercase
    check_runnable(recipe, "finetune", tmp_path, tmp_path / "runs")      # nothing missing
    with pytest.raises(DataError, match="not found at .*nowhere.csv"):
        check_runnable(load_recipe("hi-en", ["data.csv=nowhere.csv"]), "prepare", tmp_path,
                       tmp_path / "runs")


def test_train_baseline_needs_prepared_data(tmp_path):
    with pytest.raises(DataError, match="bertune prepare --pair demo"):
        check_runnable(load_recipe("demo"), "train-baseline", None, tmp_path)
    check_runnable(load_recipe("demo"), "prepare", None, tmp_path)


def test_lm_checks(tmp_path):
    assert lm_missing("minilm") is None
    assert "no config.json" in lm_missing(str(tmp_path))
    assert "hf download some-org/no-such-model" in lm_missing("some-org/no-such-model")


def test_recipes_command_shows_the_aliases():
    out = subprocess.run([sys.executable, "-m", "bertune_cli.main", "recipes", "--json"],
                         capture_output=True, text=True, check=True)
    rows = {r["name"]: r["aliases"] for r in json.loads(out.stdout)["recipes"]}
    for pair, recipe in PAIR_ALIASES.items():
        assert pair in rows[recipe]
    text = subprocess.run([sys.executable, "-m", "bertune_cli.main", "recipes"],
                          capture_output=True, text=True, check=True).stdout
    assert "de-en → iwslt14-de-en" in text


@pytest.mark.parametrize("command, count", [("prepare", 2), ("train-baseline", 3)])
def test_prepare_and_train_baseline_name_everything_missing_at_once(tmp_path, command, count):
    """`bertune prepare/train-baseline --pair de-en` offline: one line naming the archive and
    the LM (train-baseline: also the prepared data), exit 1, no traceback, nothing written."""
    out = subprocess.run([sys.executable, "-m", "bertune_cli.main", command, "--pair", "de-en",
                          "--runs-dir", str(tmp_path / "runs")], capture_output=True, text=True)
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert out.returncode == 1 and len(lines) == 1, out.stderr
    assert f"{count} things are missing" in lines[0] and "de-en.tgz" in lines[0]
    assert "bert-base-uncased" in lines[0] and "Traceback" not in out.stderr
    assert not (tmp_path / "runs").exists()
