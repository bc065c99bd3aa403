"""BERTTune fine-tuning through the shared loop: F_BERT rises, validation, refusals, resume."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from bertune_cli.core.errors import CheckpointError

from tiny import copy_runs, tiny_recipe


def recipe(*extra: str):
    return tiny_recipe("finetune.max_steps=3", *extra)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_data_dir, tiny_baseline):
    """runs/demo/{data,baseline}: a copy of the session's tiny data and baseline (the tests
    fine-tune into this runs root)."""
    return copy_runs(tiny_data_dir, tiny_baseline, tmp_path_factory.mktemp("ft") / "runs")


def _finetune(runs: Path, out: Path, *extra: str, **kw):
    from bertune_cli.core.loops.finetune import finetune

    return finetune(recipe(*extra), runs / "demo" / "data", out, runs_root=runs, device="cpu",
                    **kw)


def _one_batch(runs: Path):
    from bertune_cli.core.data.batching import collate
    from bertune_cli.core.data.store import DataDir
    from bertune_cli.core.model.checkpoint import load_checkpoint

    loaded = load_checkpoint(runs / "demo" / "baseline")
    train = DataDir(runs / "demo" / "data").split("train", with_text=False)
    batch = collate(train, list(range(16)), loaded.vocab.from_lm)
    return loaded, batch


@pytest.mark.parametrize("soft", ["dense", "sparsemax", "gumbel"])
def test_a_few_finetune_steps_raise_the_training_batch_fbert(runs, minilm, soft):
    """Gradient test: the objective's gradient improves F_BERT on the batch it sees."""
    from bertune_cli.core.loops.finetune import fbert_objective

    loaded, batch = _one_batch(runs)
    cfg = recipe(f"finetune.soft={soft}").finetune
    loss_fn = fbert_objective(minilm, loaded.vocab, cfg)
    model = loaded.model

    def fbert() -> float:
        """The training objective's F (noise and dropout on) with common random numbers: the
        same seeds before and after, so the comparison sees the parameters only."""
        model.train()
        seeds = range(3 if soft == "gumbel" else 1)   # dense/sparsemax: only dropout varies
        total = 0.0
        with torch.no_grad():
            for seed in seeds:
                torch.manual_seed(seed)
                total += loss_fn(model, batch)[1]["fbert"] / batch.nsentences
        return total / len(seeds)

    before = fbert()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch.manual_seed(100)
    for _ in range(5):
        loss, logs = loss_fn(model, batch)
        opt.zero_grad()
        (loss / logs["sample_size"]).backward()
        opt.step()
    assert fbert() > before


def test_validation_loss_has_no_noise(runs, minilm):
    from bertune_cli.core.loops.finetune import fbert_objective

    loaded, batch = _one_batch(runs)
    loss_fn = fbert_objective(minilm, loaded.vocab, recipe("finetune.soft=gumbel").finetune)
    loaded.model.eval()
    with torch.no_grad():
        a, b = loss_fn(loaded.model, batch)[0], loss_fn(loaded.model, batch)[0]
    assert torch.equal(a, b)


def test_finetune_writes_its_run_and_scores_bleu_and_fbert(runs, tmp_path):
    out = tmp_path / "finetune-dense"
    events = []
    summary = _finetune(runs, out, "finetune.soft=dense", on_event=events.append)
    for name in ("DONE", "metrics.jsonl", "config.yaml", "test.hyp.txt", "valid.hyp.txt",
                 "checkpoint_best/bertune.json", "checkpoint_last/trainer_state.json", "checkpoint_last/trainer_state.safetensors"):
        assert (out / name).exists(), name
    assert summary["updates"] == 3 and summary["reason"] == "max_steps"
    assert summary["steps_per_s"] > 0 and summary["soft"] == "dense"
    valid = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    valid = [r for r in valid if r["kind"] == "valid"]
    assert valid and {"bleu", "bertscore", "bleu_signature", "bertscore_signature"} <= set(valid[0])
    assert valid[0]["valid_loss"] < 0  # −F_BERT of the teacher-forced predictions
    # the stage translates the test set and scores nothing there: the pipeline's report does
    assert summary["test"] == {"split": "test", "hyp_file": str(out / "test.hyp.txt")}
    meta = json.loads((out / "checkpoint_best" / "bertune.json").read_text())
    assert meta["finetune"]["soft"] == "dense" and meta["lm"] == {"name": "minilm", "layer": 5}
    assert meta["finetune"]["init_from"].endswith("checkpoint_best")
    # config.yaml shows the settings the fine-tuning ran with: the keys the finetune section
    # leaves unset are the train section's, written out resolved (and the loop used them)
    import yaml

    ft = yaml.safe_load((out / "config.yaml").read_text())["finetune"]
    assert (ft["log_every"], ft["weight_decay"], ft["seed"], ft["betas"]) == (2, 1e-4, 1,
                                                                            [0.9, 0.98])
    assert (ft["save_every_steps"], ft["autosave_seconds"], ft["max_bad_updates"]) == (0, 600, 5)
    from bertune_cli.core.model.checkpoint import load_trainer_state

    settings = load_trainer_state(out / "checkpoint_last")["settings"]
    assert settings["log_every"] == 2 and settings["weight_decay"] == 1e-4
    # fresh optimizer and schedule: the first update uses the fine-tuning warm-up from ~0
    first = next(e for e in events if e["event"] == "step")
    assert first["lr"] < 1e-5
    # a finished run is reported, not retrained
    again = _finetune(runs, out, "finetune.soft=dense")
    assert again["already_complete"] and again["updates"] == 3


def test_select_metric_bertscore_and_every_n_steps(runs, tmp_path):
    out = tmp_path / "ft"
    summary = _finetune(runs, out, "finetune.soft=gumbel", "finetune.select_metric=bertscore",
                        "finetune.valid_every_steps=1", "finetune.max_steps=2")
    assert "bertscore" in summary["best"]
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    # the start (update 0) is validated first and competes for checkpoint_best
    assert [r["update"] for r in rows if r["kind"] == "valid"] == [0, 1, 2]
    # the later validations reuse the references' LM states the first one computed
    assert summary["ref_cache"]["hits"] >= 20 and summary["ref_cache"]["sentences"] > 0


def test_references_past_the_memory_bound_are_read_back_from_the_spill_file(runs, tmp_path):
    """With nothing kept in memory, the stage spills every reference into its run folder and
    the validations read them back: the same run, update for update, as with no cache at all;
    the spill file leaves no entry in the folder."""
    base = ("finetune.soft=gumbel", "finetune.select_metric=bertscore",
            "finetune.valid_every_steps=1", "finetune.max_steps=2", "finetune.ref_cache_mb=0")
    spilled = _finetune(runs, tmp_path / "spill", *base)
    plain = _finetune(runs, tmp_path / "none", *base, "finetune.ref_spill_mb=0")
    stats = spilled["ref_cache"]
    assert stats["sentences"] == 0 and stats["spilled_sentences"] > 0
    assert stats["disk_hits"] >= 20 and stats["disk_hits"] == stats["hits"]
    assert plain["ref_cache"]["hits"] == 0 and plain["ref_cache"]["spilled_sentences"] == 0
    rows = [[json.loads(r) for r in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
            for run in ("spill", "none")]
    drop = ("updates_per_s", "tokens_per_s", "time", "elapsed", "wall")
    same = [[{k: v for k, v in r.items() if k not in drop} for r in run] for run in rows]
    assert same[0] == same[1]
    assert not [p.name for p in (tmp_path / "spill").iterdir() if "refcache" in p.name]


def test_a_finetune_that_never_beats_its_start_on_validation_returns_the_start(
        runs, tmp_path, monkeypatch):
    """Validation F_BERT falls after the start (50 -> 40 -> 30): the best checkpoint is the
    start, unchanged."""
    import itertools

    from safetensors.torch import load_file

    from bertune_cli.core.loops import finetune as ft

    scores = itertools.chain([50.0, 40.0], itertools.repeat(30.0))  # then the test report
    from types import SimpleNamespace

    monkeypatch.setattr(ft, "fbert_metric", lambda lm: lambda hyps, refs: SimpleNamespace(
        score=next(scores), signature="fake"))
    out = tmp_path / "ft-bad"
    summary = _finetune(runs, out, "finetune.soft=dense", "finetune.select_metric=bertscore",
                        "finetune.valid_every_steps=1", "finetune.max_steps=2")
    assert summary["best"]["update"] == 0
    start = load_file(str(runs / "demo" / "baseline" / "checkpoint_best" / "model.safetensors"))
    best = load_file(str(out / "checkpoint_best" / "model.safetensors"))
    assert start.keys() == best.keys() and all(torch.equal(start[k], best[k]) for k in start)
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    valid = [r for r in rows if r["kind"] == "valid"]
    assert valid[0]["update"] == 0 and valid[0]["is_best"]
    assert not any(r["is_best"] for r in valid[1:])


def test_ce_only_loss_equals_fbert_loss_at_ce_weight_one(runs, minilm):
    """The CE-only shortcut gives the loss, units and gradients of fbert_loss at ce_weight 1."""
    from bertune_cli.core.loops.finetune import fbert_objective
    from bertune_cli.core.loops.losses import fbert_loss

    loaded, batch = _one_batch(runs)
    model = loaded.model.eval()
    cfg = recipe("finetune.soft=dense", "finetune.ce_weight=1.0").finetune
    fast_loss, fast_logs = fbert_objective(minilm, loaded.vocab, cfg)(model, batch)
    params = [p for p in model.parameters() if p.requires_grad]
    fast = torch.autograd.grad(fast_loss, params, allow_unused=True)
    logits = model(input_ids=batch.src, attention_mask=batch.src_mask,
                   decoder_input_ids=batch.tgt_in).logits
    tgt = loaded.vocab.to_lm(torch.cat([batch.tgt_in[:, :1], batch.tgt_out], 1))
    slow_loss, slow_logs = fbert_loss(logits, tgt, minilm, minilm.embeddings[torch.as_tensor(
        loaded.vocab.lm_ids)], soft="dense", ce_weight=1.0, labels=batch.tgt_out,
        label_smoothing=0.1, training=False)
    slow = torch.autograd.grad(slow_loss, params, allow_unused=True)
    assert fast_logs["sample_size"] == slow_logs["sample_size"]
    assert torch.allclose(fast_loss, slow_loss, rtol=1e-6)
    for a, b in zip(fast, slow):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-8)


def test_another_lm_or_layer_is_refused(runs, tmp_path):
    with pytest.raises(CheckpointError, match="layer 5"):
        _finetune(runs, tmp_path / "a", "lm.layer=4")
    with pytest.raises(CheckpointError, match="vocabulary of LM 'minilm'"):
        _finetune(runs, tmp_path / "b", "lm.name=bert-base-uncased", "lm.layer=9")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_missing_baseline_says_what_to_run(tmp_path, runs):
    from bertune_cli.core.loops.finetune import finetune

    with pytest.raises(CheckpointError, match="train-baseline"):
        finetune(recipe(), runs / "demo" / "data", tmp_path / "ft", runs_root=tmp_path,
                 device="cpu")


def test_a_run_directory_keeps_its_objective(runs, tmp_path):
    out = tmp_path / "ft"
    _finetune(runs, out, "finetune.soft=sparsemax", "finetune.max_steps=1")
    with pytest.raises(CheckpointError, match="soft 'sparsemax'"):
        _finetune(runs, out, "finetune.soft=dense", "finetune.max_steps=1")


def test_from_checkpoint_and_resume(runs, tmp_path):
    """--from another folder; an interrupted run resumes from checkpoint_last."""
    start = tmp_path / "start"
    shutil.copytree(runs / "demo" / "baseline" / "checkpoint_best", start)
    out = tmp_path / "ft"

    def stop_at_2(event):
        if event["event"] == "step" and event["update"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _finetune(runs, out, init_from=start, on_event=stop_at_2, save_every_steps=1)
    assert not (out / "DONE").exists() and (out / "checkpoint_last").is_dir()
    events = []
    summary = _finetune(runs, out, init_from=start, on_event=events.append)
    begin = next(e for e in events if e["event"] == "start")
    assert begin["resumed"] and begin["updates"] >= 1
    assert summary["updates"] == 3 and summary["init_from"] == str(start)
