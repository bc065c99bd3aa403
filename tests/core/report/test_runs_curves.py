"""Loading and checking runs for a report; learning curves from metrics.jsonl rows."""
from __future__ import annotations

import json
import shutil

import pytest

from bertune_cli.core.errors import CheckpointError, DataError, UsageError
from bertune_cli.core.report.curves import learning_curves
from bertune_cli.core.report.runs import expand_inputs, load_runs, read_metrics, resolve_inputs


def _copy(runs_tree, tmp_path, *names):
    """A private copy of some runs (and the data) that a test may damage."""
    for name in ("data", *names):
        shutil.copytree(runs_tree / name, tmp_path / "demo" / name)
    return tmp_path / "demo"


def test_read_metrics_last_row_per_update_wins_and_a_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = [{"kind": "train", "update": 1, "loss": 3.0},
            {"kind": "train", "update": 2, "loss": 9.0},
            {"kind": "valid", "update": 2, "bleu": 1.0},
            {"kind": "train", "update": 2, "loss": 2.0},
            {"kind": "skip", "epoch": 1}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"kind": "tra')
    out = read_metrics(path)
    assert [(r["kind"], r["update"]) for r in out] == [("train", 1), ("train", 2), ("valid", 2)]
    assert out[1]["loss"] == 2.0                       # the resumed session's row
    path.write_text('{"kind": "train", "update": 1}\nnot json\n{"kind": "train", "update": 2}\n')
    with pytest.raises(DataError, match=r"metrics.jsonl:2"):
        read_metrics(path)


def test_inputs_resolve_a_recipe_folder_a_recipe_name_and_single_runs(runs_tree, tmp_path):
    names = [p.name for p in resolve_inputs([runs_tree])]
    assert names == ["baseline", "finetune-dense", "finetune-gumbel"]
    assert [p.name for p in resolve_inputs(["demo"], runs_root=runs_tree.parent)] == names
    assert [p.name for p in resolve_inputs([runs_tree / "finetune-gumbel", runs_tree])] == [
        "finetune-gumbel", "baseline", "finetune-dense"]       # no repeats
    with pytest.raises(UsageError, match="no such run directory"):
        resolve_inputs([tmp_path / "nothing"])
    with pytest.raises(UsageError, match="neither a run directory"):
        resolve_inputs([runs_tree / "data"])


def test_runs_load_with_the_baseline_first_and_the_data_found(runs_tree):
    runs = load_runs(resolve_inputs([runs_tree / "finetune-gumbel", runs_tree / "baseline"]))
    assert runs.baseline.name == "baseline" and [r.name for r in runs.finetunes] == [
        "finetune-gumbel"]
    ft = runs.finetunes[0]
    assert ft.soft == "gumbel" and ft.label == "BERTTune gumbel τ 0.1"
    assert runs.data_dir == runs_tree / "data" and runs.warnings == []
    # no baseline given: the checkpoint the fine-tune started from, with a warning
    alone = load_runs([runs_tree / "finetune-dense"])
    assert alone.baseline.path == runs_tree / "baseline"
    assert "no baseline run given" in alone.warnings[0]


def test_a_run_without_validation_rows_is_refused_by_name(runs_tree, tmp_path):
    root = _copy(runs_tree, tmp_path, "baseline", "finetune-dense")
    rows = [json.loads(x) for x in (root / "finetune-dense" / "metrics.jsonl").read_text()
            .splitlines()]
    (root / "finetune-dense" / "metrics.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows if r["kind"] == "train"))
    with pytest.raises(CheckpointError, match=r"finetune-dense: metrics.jsonl has no validation"):
        load_runs(resolve_inputs([root / "baseline", root / "finetune-dense"]))
    # found in a runs/<recipe> folder (not named): a run still starting is left out, warned
    runs = load_runs(*expand_inputs([root]))
    assert runs.finetunes == [] and "left out" in runs.warnings[0]
    assert "finetune-dense: metrics.jsonl has no validation rows" in runs.warnings[0]


def test_two_baselines_other_data_and_another_recipe(runs_tree, tmp_path):
    root = _copy(runs_tree, tmp_path, "baseline", "finetune-gumbel")
    shutil.copytree(root / "baseline", root / "baseline-2")
    with pytest.raises(UsageError, match="more than one baseline"):
        load_runs([root / "baseline", root / "baseline-2"])
    meta_file = root / "finetune-gumbel" / "checkpoint_best" / "bertune.json"
    meta = json.loads(meta_file.read_text())
    meta["config"]["name"] = "demo-copy"
    meta_file.write_text(json.dumps(meta))
    runs = load_runs([root / "baseline", root / "finetune-gumbel"])
    assert "recipe 'demo-copy'" in runs.warnings[0]          # same data: a warning only
    meta["data"]["fingerprint"] = "elsewhere"
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"finetune-gumbel was trained on other data .* test sets"):
        load_runs([root / "baseline", root / "finetune-gumbel"])


def test_learning_curves_start_at_the_baseline_and_mark_finished_epochs(runs_tree):
    runs = load_runs(resolve_inputs([runs_tree]))
    lc = learning_curves(runs, {"bertscore": 90.0})
    assert lc.metrics == ["bleu", "bertscore"]
    base, dense, gumbel = lc.runs
    # baseline: best logged validation BLEU is step 0 of every fine-tune's BLEU curve
    assert gumbel.valid["bleu"].x == [0, 4, 8] and gumbel.valid["bleu"].y == [30.0, 31.0, 30.5]
    assert gumbel.valid["bertscore"].y == [90.0, 91.0, 91.5]
    assert base.epoch_ends == [30, 60] and gumbel.epoch_ends == [8]
    assert dense.epoch_ends == []                    # no DONE: its last epoch may be unfinished
    # the resumed row (loss 99 logged first for update 20) lost to the later one
    assert 99.0 not in base.train_loss.y and base.train_loss.x == [10, 20, 30, 40, 50, 60]
    assert base.best_update == 60 and gumbel.best_update == 4
    assert "F_BERT" in gumbel.loss_name and "nats/token" in base.loss_name
