"""Shared fixtures. Tests never touch the network or ../shared (CI has it, users do not)."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def minilm():
    """The bundled MiniLM (offline), truncated to bertune's default BERTScore layer (5)."""
    from bertune_cli.core.lm.model import load_lm

    return load_lm("minilm")


@pytest.fixture(scope="session")
def minilm_tokenizer():
    from bertune_cli.core.lm.model import load_tokenizer

    return load_tokenizer("minilm")


@pytest.fixture()
def runs_dir(tmp_path, monkeypatch):
    """An isolated runs root and data home for tests that run commands."""
    monkeypatch.setenv("BERTUNE_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("BERTUNE_HOME", str(tmp_path / "home"))
    return tmp_path / "runs"


@pytest.fixture(scope="session")
def tiny_data():
    """``tiny_data(path)`` writes a prepared demo data dir of 400/20/20 pairs there (the real
    `prepare`, a few seconds) and returns the path."""
    from pathlib import Path

    from bertune_cli.core.config.recipe import load_recipe
    from bertune_cli.core.data.prepare import prepare_recipe

    def make(path: Path) -> Path:
        recipe = load_recipe("demo", ["data.demo_sizes={train: 400, valid: 20, test: 20}",
                                      "data.bpe_vocab=300"])
        prepare_recipe(recipe, path)
        return path

    return make
