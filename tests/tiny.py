"""The test suite's one tiny recipe, and helpers for the session's shared tiny run.

``TINY`` is the demo recipe cut down to seconds: every test that prepares, trains or fine-tunes
loads it (``tiny_recipe(*extra)``), adding only the overrides its assertions need.
``tiny_data_dir`` and ``tiny_baseline`` (tests/conftest.py) are this recipe's prepared data
and trained baseline, built once per session. Tests read them as they are and copy
(``copy_runs``, ``shutil.copytree``) whatever they would write into: the session checks at
its end that neither folder changed. (Importable as ``tiny``: pyproject's pytest
``pythonpath`` puts tests/ on sys.path.)"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

TINY_DATA = ["data.demo_sizes={train: 400, valid: 20, test: 20}", "data.bpe_vocab=300"]
TINY = ["model.preset=transformer_tiny", "train.warmup_updates=10", "train.max_tokens=256",
        "train.lr=3e-3", "train.log_every=2", "train.max_epochs=1", "eval.beam=2", *TINY_DATA,
        "finetune.max_tokens=256", "finetune.warmup_updates=2", "finetune.lr=1e-3",
        "finetune.max_steps=2"]


def tiny_recipe(*extra: str):
    """The demo recipe with ``TINY`` and then ``extra`` (a later override wins)."""
    from bertune_cli.core.config.recipe import load_recipe

    return load_recipe("demo", [*TINY, *extra])


def cli_sets(*extra: str) -> list[str]:
    """``TINY`` and ``extra`` as command-line options: ``--set KEY=VALUE`` each."""
    return [arg for item in (*TINY, *extra) for arg in ("--set", item)]


def copy_runs(data_dir: Path, baseline: Path | None, root: Path) -> Path:
    """``root/demo/data`` (and ``root/demo/baseline``): copies of the shared data and baseline,
    the runs-root layout the pipeline stages read. Returns ``root``."""
    shutil.copytree(data_dir, root / "demo" / "data")
    if baseline is not None:
        shutil.copytree(baseline, root / "demo" / "baseline")
    return root


def digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (the read-only check of the shared folders)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def full_vocabulary_twin(short, vocab):
    """``(model, vocab)``: the shortlist model ``short`` embedded in a model over the whole LM
    vocabulary (30522 outputs). Its embedding and output rows sit at the shortlist's LM ids and
    every other output gets a -1e4 ``final_logits_bias``, so beam search picks the same LM ids."""
    import torch

    from bertune_cli.core.model.builders import build_model
    from bertune_cli.core.model.vocab import TargetVocab

    full_vocab = TargetVocab.full(vocab.specials)
    full = build_model("transformer_tiny", short.config.vocab_size, full_vocab)
    state = short.state_dict()
    lm_ids = torch.as_tensor(vocab.lm_ids)
    for key in ("model.decoder.embed_tokens.weight", "lm_head.weight"):
        grown = full.state_dict()[key].clone()
        grown[lm_ids] = state[key]
        state[key] = grown
    bias = torch.full((1, len(full_vocab)), -1e4)
    bias[0, lm_ids] = state["final_logits_bias"][0]
    state["final_logits_bias"] = bias
    full.load_state_dict(state)
    return full, full_vocab
