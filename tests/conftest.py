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
    `prepare` of ``tiny.TINY_DATA``, a few seconds) and returns the path. Tests that only read
    prepared data use ``tiny_data_dir`` (prepared once per session) instead."""
    from pathlib import Path

    from bertune_cli.core.config.recipe import load_recipe
    from bertune_cli.core.data.prepare import prepare_recipe

    from tiny import TINY_DATA

    def make(path: Path) -> Path:
        prepare_recipe(load_recipe("demo", TINY_DATA), path)
        return path

    return make


def _unchanged(folder, before, what: str) -> None:
    from tiny import digest

    after = digest(folder)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, (f"a test wrote into the session's shared {what} {folder} "
                         f"({', '.join(changed[:5])}): copy it to tmp_path first")


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory, tiny_data):
    """The session's prepared demo data of ``tiny.TINY_DATA``, built once and shared: read it
    as it is, copy it (``tiny.copy_runs``, ``shutil.copytree``) to change it. Checked
    unchanged at the end of the session."""
    from tiny import digest

    path = tiny_data(tmp_path_factory.mktemp("tiny") / "data")
    before = digest(path)
    yield path
    _unchanged(path, before, "tiny data dir")


@pytest.fixture(scope="session")
def tiny_baseline(tiny_data_dir):
    """The session's tiny baseline run folder: the real train-baseline stage of
    ``tiny.tiny_recipe()`` (transformer_tiny, one epoch of 32 updates, a few seconds) on
    ``tiny_data_dir``, trained once. Tests that only read it (load, translate, export, use it
    as a fine-tuning start) use it as it is; tests that finetune into, resume, damage or write
    into a run folder copy it first (``tiny.copy_runs`` for a runs root). Checked unchanged at
    the end of the session."""
    import torch

    from bertune_cli.core.loops.train_baseline import train_baseline

    from tiny import digest, tiny_recipe

    torch.set_num_threads(1)  # tiny models: a second OpenMP thread only spins on shared cores
    run = tiny_data_dir.parent / "baseline"
    train_baseline(tiny_recipe(), tiny_data_dir, run, device="cpu")
    before = digest(run)
    yield run
    _unchanged(run, before, "tiny baseline")
