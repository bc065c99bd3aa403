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
    from bertune_cli.core.lm import load_lm

    return load_lm("minilm")


@pytest.fixture(scope="session")
def minilm_tokenizer():
    from bertune_cli.core.lm import load_tokenizer

    return load_tokenizer("minilm")


@pytest.fixture()
def runs_dir(tmp_path, monkeypatch):
    """An isolated runs root and data home for tests that run commands."""
    monkeypatch.setenv("BERTUNE_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("BERTUNE_HOME", str(tmp_path / "home"))
    return tmp_path / "runs"
