"""`bertune ablate` on tiny models: arms, continuation, resume, failures, the tests, the JSON."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bertune_cli.core.errors import UsageError
from bertune_cli.core.evaluation.pvalues import holm
from bertune_cli.core.evaluation.significance import seed_paired_bootstrap
from bertune_cli.core.pipeline.ablate import run_ablate
from bertune_cli.core.pipeline.arms import ARMS, arm_loop, arm_recipe, parse_arms

from tiny import copy_runs, tiny_recipe

# train.log_every=1: the fine-tuning runs log every update (test_ce_cont_carries_the_start_
# optimizer_and_schedule_on checks the lr of update 1); the baseline's logging is not used
ABLATE = ["train.log_every=1", "finetune.valid_every_steps=1", "finetune.select_metric=bertscore"]


def recipe(*extra: str):
    return tiny_recipe(*ABLATE, *extra)


@pytest.fixture(scope="module")
def study(tmp_path_factory, tiny_data_dir, tiny_baseline):
    """A copy of the session's tiny baseline, then arms ce, ce-cont, dense-only × seeds 1, 2
    (one run fails)."""
    from bertune_cli.core.pipeline.ablate import run_ablate

    torch.set_num_threads(1)
    root = copy_runs(tiny_data_dir, tiny_baseline, tmp_path_factory.mktemp("ablate") / "runs")
    said: list[str] = []
    summary = run_ablate(recipe(), ["ce", "ce-cont", "dense-only"], [1, 2], runs_root=root,
                         device="cpu", say=said.append)
    return root, summary, said


def test_arm_names_and_seeds_are_checked_before_anything_runs():
    assert parse_arms("ce, dense,gumbel-only", "ce") == ["ce", "dense", "gumbel-only"]
    for bad, msg in [("ce,foo", "unknown arm 'foo'"), ("", "at least one"),
                     ("ce,ce", "repeats"), ("dense", "control arm 'ce' is not among")]:
        with pytest.raises(UsageError, match=msg):
            parse_arms(bad, "ce")
    # the study refuses repeated or no seeds before anything runs, as the grid does
    for seeds, message in (([1, 1], "--seeds repeats a value: 1, 1"),
                           ([], "--seeds needs at least one value")):
        with pytest.raises(UsageError, match=message):
            run_ablate(recipe(), ["ce", "dense"], seeds, runs_root=Path("/nonexistent"))


@pytest.mark.parametrize("seeds, message", [
    ("-1", "seed -1 is out of range: seeds are 0 ... 4294967295"),
    ("4294967296", "seed 4294967296 is out of range"),
    ("99999999999999999999999", "is out of range"),
    ("1,x", "'x' is not an integer"),
    ("1,1", "--seeds repeats a value: 1, 1")])
def test_cli_refuses_bad_seeds_with_exit_2_and_creates_nothing(tmp_path, seeds, message):
    """ablate and finetune read --seeds with one parser (the CLI's seed_list)."""
    proc = subprocess.run([sys.executable, "-m", "bertune_cli.main", "ablate", "--arms",
                           "ce,dense", "--seeds", seeds, "--runs-dir", str(tmp_path / "runs")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "runs").exists()


def test_cli_refuses_an_unknown_arm_with_exit_2_and_creates_nothing(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bertune_cli.main", "ablate", "--arms",
                           "ce,nope", "--runs-dir", str(tmp_path / "runs")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "unknown arm 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "runs").exists()


def test_the_seed_paired_bootstrap_calls_identical_arms_not_different():
    """An arm that returns the start, against a control that does too: p = 1 (the count of
    resamples at least as extreme), not sacreBLEU's 1/(n+1)."""
    from bertune_cli.core.metrics.stats import SacreMetric

    refs = ["a b c d", "e f g h", "a c e g"]
    bleu = SacreMetric("bleu", [refs])
    same = bleu.extract(["a b c x", "e f y h", "a c e g"])
    assert seed_paired_bootstrap(bleu, [same, same], [same, same], 1000, 12345) == (0.0, 1.0)
    assert seed_paired_bootstrap(bleu, [same], [same], 1000, 12345,
                                 strict_count=True)[1] == pytest.approx(1 / 1001)


def test_arms_share_start_budget_and_seeds_and_differ_only_as_named():
    r = recipe("finetune.ce_weight=0.5")
    ce, dense, only, paper = (arm_recipe(r, ARMS[a], 3) for a in
                              ("ce", "dense", "dense-only", "paper"))
    assert (ce.finetune.ce_weight, dense.finetune.ce_weight, only.finetune.ce_weight) == \
        (1.0, 0.5, 0.0)
    assert {x.finetune.seed for x in (ce, dense, only, paper)} == {3}
    assert ce.finetune.lr == dense.finetune.lr == r.finetune.lr
    assert ce.finetune.max_steps == paper.finetune.max_steps == r.finetune.max_steps
    assert (paper.finetune.lr, paper.finetune.warmup_updates, paper.finetune.soft,
            paper.finetune.tau, paper.finetune.ce_weight) == (5e-5, 4000, "gumbel", 0.1, 0.0)


def test_every_arm_and_seed_is_a_run_folder_and_the_summary_has_the_promised_shape(study):
    root, summary, _ = study
    folder = root / "demo" / "ablate"
    for arm in ("ce", "ce-cont", "dense-only"):
        for seed in (1, 2):
            run = folder / f"{arm}-seed{seed}"
            assert (run / "DONE").is_file() and (run / "test.hyp.txt").is_file(), run
            meta = json.loads((run / "checkpoint_best" / "bertune.json").read_text())
            assert meta["finetune"]["arm"] == arm
    on_disk = json.loads((folder / "ablate.json").read_text())
    assert [a["arm"] for a in on_disk["arms"]] == ["ce", "ce-cont", "dense-only"]
    metrics = {"BLEU", "chrF2", "F_BERT", "MoverScore"}
    for arm in on_disk["arms"]:
        assert arm["seeds"] == [1, 2]
        assert set(arm["metrics"]) == set(arm["sd"]) == metrics
        assert set(arm["entropy"]) == {"mean", "sd"} and arm["entropy"]["mean"] > 0
        if arm["arm"] == "ce":
            assert "vs_control" not in arm
        else:
            assert set(arm["vs_control"]) == metrics
            for test in arm["vs_control"].values():
                assert {"delta", "p", "p_holm"} <= set(test) and test["seeds"] == [1, 2]
                assert test["p"] <= test["p_holm"] <= 1
    raw = [t["p"] for a in on_disk["arms"] for t in a.get("vs_control", {}).values()]
    adj = [t["p_holm"] for a in on_disk["arms"] for t in a.get("vs_control", {}).values()]
    assert on_disk["test"]["family"] == 8 and adj == pytest.approx(holm(raw))
    assert (folder / "ablate.md").read_text().count("| ce-cont |") == 1
    assert (folder / "ablate_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_mean_over_seeds_is_the_mean_of_each_runs_scores(study):
    from bertune_cli.core.metrics.sacre import corpus_metric

    root, summary, _ = study
    refs = (root / "demo" / "data" / "test.tgt.txt").read_text().splitlines()
    ce = next(a for a in summary["arms"] if a["arm"] == "ce")
    bleus = [corpus_metric("bleu", (root / "demo" / "ablate" / f"ce-seed{s}" /
                                    "test.hyp.txt").read_text().splitlines(), [refs],
                           lowercase=True).score for s in (1, 2)]
    assert ce["metrics"]["BLEU"] == pytest.approx(sum(bleus) / 2)


def test_ce_cont_carries_the_start_optimizer_and_schedule_on(study):
    """ce-cont: lr = the baseline's inverse-sqrt schedule at (start update + u); Adam's step
    count continues from the start's; ce: the fine-tuning warm-up from a fresh optimizer."""
    from bertune_cli.core.loops.trainer import inverse_sqrt_lr
    from bertune_cli.core.model.checkpoint import load_trainer_state, read_meta

    root, _, _ = study
    start = root / "demo" / "baseline" / "checkpoint_best"
    u0 = read_meta(start)["training"]["updates"]
    r = recipe()
    rows = [json.loads(line) for line in (root / "demo" / "ablate" / "ce-cont-seed1" /
                                          "metrics.jsonl").read_text().splitlines()]
    train = [x for x in rows if x["kind"] == "train"]
    assert train[0]["lr"] == pytest.approx(inverse_sqrt_lr(
        u0, r.train.lr, r.train.warmup_updates, r.train.warmup_init_lr))
    steps = load_trainer_state(root / "demo" / "ablate" / "ce-cont-seed1" / "checkpoint_last")
    step0 = load_trainer_state(start)["optimizer"]["state"][0]["step"]
    assert float(steps["optimizer"]["state"][0]["step"]) == float(step0) + 2
    ce_rows = [json.loads(line) for line in (root / "demo" / "ablate" / "ce-seed1" /
                                             "metrics.jsonl").read_text().splitlines()]
    assert [x for x in ce_rows if x["kind"] == "train"][0]["lr"] < r.finetune.lr
    overrides, state = arm_loop(r, ARMS["ce-cont"], start)
    assert overrides["schedule_offset"] == u0 and state is not None


def test_a_rerun_reports_without_training_again(study):
    from bertune_cli.core.pipeline.ablate import run_ablate

    root, summary, _ = study
    done = {p: p.stat().st_mtime_ns for p in (root / "demo" / "ablate").glob("*/DONE")}
    again = run_ablate(recipe(), ["ce", "ce-cont", "dense-only"], [1, 2], runs_root=root,
                       device="cpu")
    assert {p: p.stat().st_mtime_ns for p in done} == done
    assert [a["metrics"] for a in again["arms"]] == [a["metrics"] for a in summary["arms"]]


def test_a_failing_arm_leaves_the_others_intact_and_is_listed(study, tmp_path):
    """ce-cont from a start without optimizer state fails; ce still runs and is reported."""
    from bertune_cli.core.pipeline.ablate import run_ablate

    root, _, _ = study
    start = tmp_path / "start"
    shutil.copytree(root / "demo" / "baseline" / "checkpoint_best", start)
    for f in start.glob("trainer_state.*"):
        f.unlink()
    said: list[str] = []
    summary = run_ablate(recipe(), ["ce", "ce-cont"], [1], runs_root=root, device="cpu",
                         init_from=start, out=tmp_path / "study", say=said.append)
    assert [f["arm"] for f in summary["failed"]] == ["ce-cont"]
    assert "holds no optimizer state" in summary["failed"][0]["error"]
    assert (tmp_path / "study" / "ce-seed1" / "DONE").is_file()
    assert not (tmp_path / "study" / "ce-cont-seed1").exists()
    ce_cont = next(a for a in summary["arms"] if a["arm"] == "ce-cont")
    assert ce_cont["seeds"] == [] and "FAILED ce-cont seed 1" in \
        (tmp_path / "study" / "ablate.md").read_text()


def test_report_only_summarizes_the_finished_runs_and_trains_nothing(study):
    """Arms with different seeds: --seeds 1,2,3 with --report-only reports seeds 1 and 2 of
    each arm (seed 3 was never run, and is not started), and tests them as the full run did."""
    from bertune_cli.core.pipeline.ablate import run_ablate

    root, summary, _ = study
    before = sorted(p.name for p in (root / "demo" / "ablate").iterdir())
    again = run_ablate(recipe(), ["ce", "ce-cont", "dense-only"], [1, 2, 3], runs_root=root,
                       device="cpu", report_only=True)
    assert sorted(p.name for p in (root / "demo" / "ablate").iterdir()) == before
    assert [a["seeds"] for a in again["arms"]] == [[1, 2]] * 3
    assert [a.get("vs_control") for a in again["arms"]] == \
        [a.get("vs_control") for a in summary["arms"]]


def test_report_only_without_a_finished_control_is_one_error(study, tmp_path):
    from bertune_cli.core.errors import BertuneError
    from bertune_cli.core.pipeline.ablate import run_ablate

    root, _, _ = study
    with pytest.raises(BertuneError, match="no finished run of the control arm 'ce'"):
        run_ablate(recipe(), ["ce", "dense"], [7], runs_root=root, device="cpu",
                   report_only=True, out=tmp_path / "empty")
