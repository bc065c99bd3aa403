"""LM resolution: the bundled MiniLM loads offline, frozen, truncated to its BERTScore layer."""
from __future__ import annotations

import pytest

from bertune_cli.core.errors import LMUnavailable
from bertune_cli.core.lm.model import default_layer, load_lm, minilm_path, resolve_lm


def test_minilm_is_bundled_and_frozen(minilm):
    assert resolve_lm("minilm") == str(minilm_path())
    assert minilm.vocab_size == 30522 and minilm.layer == 5 and minilm.num_layers == 6
    assert (minilm.pad_id, minilm.cls_id, minilm.sep_id) == (0, 101, 102)
    assert minilm.do_lower_case
    assert not minilm.model.training
    assert not any(p.requires_grad for p in minilm.model.parameters())
    assert len(minilm.model.encoder.layer) == 5
    assert tuple(minilm.embeddings.shape) == (30522, 384)


def test_truncation_keeps_hidden_state_of_layer(minilm):
    import torch

    full = load_lm("minilm", layer=6)
    ids = torch.tensor([[101, 7592, 2088, 102]])
    with torch.inference_mode():
        h_full = full.model(ids, output_hidden_states=True).hidden_states[5]
        h_cut = minilm.model(ids).last_hidden_state
    assert torch.allclose(h_full, h_cut, atol=1e-6)


def test_unavailable_models_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(LMUnavailable, match="not available offline") as info:
        load_lm("no-such-org/no-such-model-xyz")
    assert "hf download" in str(info.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LMUnavailable, match="no config.json"):
        resolve_lm(str(empty))
    with pytest.raises(LMUnavailable, match="out of range"):
        load_lm("minilm", layer=7)


def test_default_layers():
    assert default_layer("minilm") == 5
    assert default_layer("bert-base-uncased") == 9
    assert default_layer("roberta-large") == 17  # from bert_score's own table
    with pytest.raises(LMUnavailable, match="--layer"):
        default_layer("some/unknown-lm")


@pytest.mark.parametrize("name", ["/no/such/folder", "./missing-lm", "../x", "~/nope",
                                  "models/bert/base", "missing/"])
def test_a_local_looking_path_that_does_not_exist_says_so(name, tmp_path, monkeypatch):
    """A missing local folder is "not found", not taken for an HF id (`hf download` advised).

    Relative paths and ~ are resolved inside an empty folder: from the repository root, "../x"
    is the checkout itself when the clone is named x (as CI's was)."""
    cwd = tmp_path / "a" / "b"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(LMUnavailable, match="does not exist") as info:
        resolve_lm(name)
    assert "hf download" not in str(info.value)


def test_hf_ids_are_not_taken_for_paths():
    assert resolve_lm("bert-base-uncased") == "bert-base-uncased"
    assert resolve_lm("google/bert_uncased_L-2_H-128_A-2") == "google/bert_uncased_L-2_H-128_A-2"
