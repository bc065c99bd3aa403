"""Checkpoints: plain save_pretrained folders + bertune.json + source tokenizer; atomic saves."""
from __future__ import annotations

import errno
import hashlib
import shutil
from pathlib import Path

import pytest
import torch

from bertune_cli.core.errors import CheckpointError
from bertune_cli.core.model import checkpoint as ckpt

# Tiny models gain nothing from a second thread, and spinning OpenMP threads on shared cores
# make each op 100x slower (see commands/train_baseline.py).
torch.set_num_threads(1)

@pytest.fixture(scope="module")
def run(tiny_baseline):
    """The session's tiny baseline, read as it is: tests copy what they damage or save over."""
    return tiny_baseline


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_checkpoint_is_a_plain_marian_folder_plus_bertune_json(run):
    from transformers import MarianMTModel

    plain = MarianMTModel.from_pretrained(run / "checkpoint_best").eval()
    model, meta, vocab, source = ckpt.load_checkpoint(run)  # a run dir -> checkpoint_best
    x = torch.tensor([source.encode(["ein kleiner test"])[0]])
    dec = torch.tensor([[vocab.bos_id, 5, 6]])
    assert torch.equal(plain(input_ids=x, decoder_input_ids=dec).logits,
                       model(input_ids=x, decoder_input_ids=dec).logits)
    assert {"format", "bertune_version", "config", "lm", "target_vocab", "data",
            "training"} <= set(meta)
    assert meta["lm"] == {"name": "minilm", "layer": 5} and meta["data"]["fingerprint"]
    assert meta["config"]["model"]["preset"] == "transformer_tiny"
    assert meta["target_vocab"]["kind"] == "shortlist" and len(vocab) == model.config.decoder_vocab_size
    assert (run / "checkpoint_best" / ckpt.SOURCE_DIR).is_dir()


def test_disk_full_while_saving_keeps_the_previous_checkpoint(run, tmp_path, monkeypatch):
    target = tmp_path / "checkpoint_last"
    shutil.copytree(run / "checkpoint_last", target)
    before = _digest(target)
    model, meta, vocab, source = ckpt.load_checkpoint(target)
    with torch.no_grad():
        model.lm_head.weight.add_(1.0)  # a different model, which must not land

    def full_disk(folder, *args):
        (folder / "model.safetensors").write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt, "_write_checkpoint", full_disk)
    with pytest.raises(CheckpointError, match="No space left on device.*intact"):
        ckpt.save_checkpoint(target, model, vocab=vocab, source=source, meta=meta)
    assert _digest(target) == before
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint_last"]  # no temp folder left


def test_a_save_interrupted_between_the_two_renames_is_repaired(run, tmp_path):
    shutil.copytree(run / "checkpoint_best", tmp_path / ".checkpoint_best.old")
    model, *_ = ckpt.load_checkpoint(tmp_path / "checkpoint_best")
    assert (tmp_path / "checkpoint_best" / ckpt.META_FILE).is_file() and model is not None


def test_resave_replaces_the_checkpoint(run, tmp_path):
    target = tmp_path / "c"
    model, meta, vocab, source = ckpt.load_checkpoint(run / "checkpoint_best")
    ckpt.save_checkpoint(target, model, vocab=vocab, source=source, meta=meta)
    with torch.no_grad():
        model.lm_head.weight.mul_(2.0)
    ckpt.save_checkpoint(target, model, vocab=vocab, source=source, meta=meta)
    again = ckpt.load_checkpoint(target).model
    assert torch.equal(again.lm_head.weight, model.lm_head.weight)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


def test_missing_unknown_and_foreign_checkpoints_are_refused(run, tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint or run directory"):
        ckpt.load_checkpoint(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="holds no bertune checkpoint"):
        ckpt.load_checkpoint(tmp_path / "empty")
    plain = tmp_path / "plain"
    shutil.copytree(run / "checkpoint_best", plain)
    (plain / ckpt.META_FILE).unlink()
    with pytest.raises(CheckpointError, match="not a bertune checkpoint"):
        ckpt.load_checkpoint(plain)


def test_data_prepared_for_another_lm_is_refused(run):
    meta = ckpt.read_meta(run)
    ckpt.check_data_compatible(meta, "minilm", meta["data"]["fingerprint"])
    with pytest.raises(CheckpointError, match="prepared for LM 'bert-base-cased'"):
        ckpt.check_data_compatible(meta, "bert-base-cased")
    with pytest.raises(CheckpointError, match="not the data"):
        ckpt.check_data_compatible(meta, "minilm", "0123abcd")


# ----------------------------------------------------------------- integrity
@pytest.mark.parametrize("damage", ["truncate", "random", "empty"])
def test_a_corrupt_weights_file_names_the_file_and_the_intact_sibling(run, tmp_path, damage):
    """Before: a safetensors traceback. Now one CheckpointError on load (translate, --from)
    and on resume (load_weights)."""
    copy = tmp_path / "baseline"
    shutil.copytree(run, copy)
    weights = copy / "checkpoint_best" / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes({"truncate": data[:len(data) // 2],
                         "random": bytes(range(256)) * 64, "empty": b""}[damage])
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(copy)                    # a run dir -> checkpoint_best
    message = str(info.value)
    assert "\n" not in message and "is corrupt" in message and str(weights) in message
    assert f"checkpoint_last is intact: use {copy / 'checkpoint_last'}" in message
    model, *_ = ckpt.load_checkpoint(copy / "checkpoint_last")
    with pytest.raises(CheckpointError, match="is corrupt"):
        ckpt.load_weights(model, copy / "checkpoint_best")
    (copy / "checkpoint_last" / "model.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError, match="no other checkpoint of this run is intact"):
        ckpt.load_checkpoint(copy)


def test_a_save_is_verified_before_it_replaces_the_previous_checkpoint(run, tmp_path,
                                                                       monkeypatch):
    target = tmp_path / "checkpoint_last"
    shutil.copytree(run / "checkpoint_last", target)
    before = _digest(target)
    model, meta, vocab, source = ckpt.load_checkpoint(target)
    real = ckpt._write_checkpoint

    def short_write(folder, *args):  # a filesystem that silently drops the end of the file
        real(folder, *args)
        file = folder / "model.safetensors"
        file.write_bytes(file.read_bytes()[:-100])

    monkeypatch.setattr(ckpt, "_write_checkpoint", short_write)
    with pytest.raises(CheckpointError, match="previous checkpoint there is intact") as info:
        ckpt.save_checkpoint(target, model, vocab=vocab, source=source, meta=meta)
    assert "truncated" in str(info.value)
    assert _digest(target) == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint_last"]


def test_a_loaded_model_trains_exactly_the_parameters_a_built_one_does(run):
    """The sinusoidal positions are not saved, so they must not be trained after a load
    either (transformers loads them trainable): the same trainable set as a fresh build."""
    from bertune_cli.core.model.builders import build_model

    loaded = ckpt.load_checkpoint(run)
    fresh = build_model("transformer_tiny", loaded.source.vocab_size, loaded.vocab)
    trainable = {n for n, p in loaded.model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, p in fresh.named_parameters() if p.requires_grad}
    assert not any("embed_positions" in n for n in trainable)


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_every_file_of_a_checkpoint_gets_the_umask_permissions(run, tmp_path):
    """Before: model.safetensors (and trainer_state.safetensors) were 0600, every other file
    0644 (safetensors writes through a private temporary file)."""
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    model, meta, vocab, source = ckpt.load_checkpoint(run / "checkpoint_last")
    state = ckpt.load_trainer_state(run / "checkpoint_last")
    ckpt.save_checkpoint(tmp_path / "c", model, vocab=vocab, source=source, meta=meta,
                         trainer_state=state)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "c").rglob("*")
             if p.is_file()}
    assert {"model.safetensors", "trainer_state.safetensors", "bertune.json"} <= set(modes)
    assert set(modes.values()) == {0o666 & ~mask}, modes


def test_a_swap_killed_between_its_renames_is_repaired(run, tmp_path):
    """The folder set aside by a process that died before renaming the new one in is put
    back by the next load (and by the next save: never a checkpoint lost)."""
    pid = _dead_pid()
    shutil.copytree(run / "checkpoint_best", tmp_path / f".checkpoint_best.{pid}-0a1b2c3d.old")
    shutil.copytree(run / "checkpoint_best", tmp_path / f".checkpoint_best.{pid}-99aa.tmp")
    assert ckpt.resolve_checkpoint(tmp_path) == tmp_path / "checkpoint_best"
    model, meta, vocab, source = ckpt.load_checkpoint(tmp_path / "checkpoint_best")
    ckpt.save_checkpoint(tmp_path / "checkpoint_best", model, vocab=vocab, source=source,
                         meta=meta)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_best"]


@pytest.mark.parametrize("content", ["[1, 2]", "[" * 100_000 + "]" * 100_000, '{"format": "' +
                                     "x" * 100_000 + '"}', "\udcff"])
def test_a_planted_bertune_json_is_one_checkpoint_error(tmp_path, content):
    """A run folder from someone else: a bertune.json that is not an object, nested to blow
    the JSON parser's recursion, or with a huge value is a CheckpointError (before: an
    AttributeError or RecursionError traceback)."""
    (tmp_path / "bertune.json").write_text(content, encoding="utf-8", errors="surrogateescape")
    with pytest.raises(CheckpointError) as info:
        ckpt.read_meta(tmp_path)
    assert len(str(info.value)) < 300
