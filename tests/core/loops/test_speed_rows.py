"""Training speed in metrics.jsonl: updates/s and target tokens/s over update time only."""
from __future__ import annotations

import json
import time
import types

import torch

from bertune_cli.core.data.store import Ragged, Split
from bertune_cli.core.loops import trainer
from bertune_cli.core.loops.train_baseline import ce_loss, setup_baseline

from tiny import tiny_recipe


def test_train_rows_report_updates_and_tokens_per_second_without_validation_time(
        tiny_data_dir, tmp_path, monkeypatch):
    """Each validation takes 1000 s on the loop's clock (a metric that moves the clock);
    before, a train row divided by the time since the previous row, validation included, so a
    fine-tuning run validating every 50 updates logged a fraction of its real speed."""
    torch.set_num_threads(1)
    recipe = tiny_recipe()
    data, model, ctx = setup_baseline(recipe, tiny_data_dir)
    offset = [0.0]
    monkeypatch.setattr(trainer, "time", types.SimpleNamespace(
        time=lambda: time.time() + offset[0]))

    def slow_metric(hyps, refs):
        offset[0] += 1000.0
        return 1.0

    settings = trainer.LoopSettings.from_config(recipe.train, max_steps=4, max_epochs=1,
                                                valid_every_steps=1, log_every=2,
                                                autosave_seconds=1e9, patience=0)
    full = data.split("valid")
    valid = Split("valid", Ragged.from_lists([full.src[i] for i in range(4)]),
                  Ragged.from_lists([full.tgt[i] for i in range(4)]), full.src_text[:4],
                  full.tgt_text[:4])
    trainer.train_loop(model, train=data.split("train", with_text=False), valid=valid,
                       loss_fn=ce_loss(0.1), settings=settings, run_dir=tmp_path / "run",
                       ctx=ctx, device="cpu", metrics={"bleu": slow_metric})
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text()
            .splitlines()]
    train = [r for r in rows if r["kind"] == "train"]
    assert [r["update"] for r in train] == [2, 4]
    assert offset[0] >= 4000                         # every update was validated
    for row in train:
        assert row["updates_per_s"] > 2 / 900        # the 1000 s validations are not counted
        per_update = row["tokens_per_s"] / row["updates_per_s"]
        assert 1 <= per_update <= recipe.train.max_tokens  # target tokens of one update
