"""The paper's protocol: every soft mode x seed in its own run, then mean ± sd over seeds with a
paired bootstrap of every run against the baseline (core/pipeline/grid.py, `finetune --seeds`)."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from bertune_cli.core.errors import UsageError
from bertune_cli.core.pipeline.grid import grid_recipes, run_grid

from tiny import tiny_recipe

# kept from this module's recipe: train.log_every=1, the fine-tuning runs log every update
# (test_seeds_give_independent_runs compares the two seeds' logged losses)
GRID = ["train.log_every=1"]


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """The grid from nothing: it trains its own baseline, not the shared tiny_baseline (the
    first test checks that one grid trains the baseline once)."""
    root = tmp_path_factory.mktemp("grid") / "runs"
    lines: list[str] = []
    out = run_grid(tiny_recipe(*GRID), ["dense", "gumbel"], [1, 2], runs_root=root,
                   device="cpu", say=lines.append)
    return root, out, lines


def test_each_mode_and_seed_has_its_own_run_directory(grid):
    root, out, lines = grid
    for soft in ("dense", "gumbel"):
        for seed in (1, 2):
            run = root / "demo" / f"finetune-{soft}-seed{seed}"
            assert (run / "DONE").is_file() and (run / "test.hyp.txt").is_file()
            stored = json.loads((run / "checkpoint_best" / "bertune.json").read_text())
            assert stored["config"]["finetune"]["seed"] == seed
    assert [line for line in lines if line.startswith("grid run")] == [
        "grid run 1/4: soft dense, seed 1", "grid run 2/4: soft dense, seed 2",
        "grid run 3/4: soft gumbel, seed 1", "grid run 4/4: soft gumbel, seed 2"]
    # one baseline for all: trained once
    assert sum(line.startswith("train-baseline: running") for line in lines) == 1


def test_seeds_give_independent_runs(grid):
    root, _, _ = grid
    a = (root / "demo" / "finetune-gumbel-seed1" / "metrics.jsonl").read_text()
    b = (root / "demo" / "finetune-gumbel-seed2" / "metrics.jsonl").read_text()
    assert [json.loads(r)["loss"] for r in a.splitlines() if '"train"' in r] != \
           [json.loads(r)["loss"] for r in b.splitlines() if '"train"' in r]


def test_summary_is_mean_and_sd_over_seeds_of_the_paired_test_scores(grid):
    root, out, _ = grid
    s = out["summary"]
    assert s["metrics"][:3] == ["BLEU", "chrF2", "F_BERT"]
    assert set(s["modes"]) == {"dense", "gumbel"} and len(s["runs"]) == 4
    # every row scores its own test translations: BLEU and chrF as sacrebleu computes them on
    # the files, with the recipe's lowercasing (the paired test itself is checked against
    # sacrebleu's PairedTest in tests/core/evaluation/test_significance.py)
    import sacrebleu

    ref = [(root / "demo" / "data" / "test.tgt.txt").read_text(encoding="utf-8").splitlines()]
    rows = [(s["baseline"]["scores"], s["baseline"]["hyp"]),
            *((r["scores"], f"{r['run_dir']}/test.hyp.txt") for r in s["runs"])]
    for scores, hyp in rows:
        lines = Path(hyp).read_text(encoding="utf-8").splitlines()
        assert scores["BLEU"] == pytest.approx(sacrebleu.corpus_bleu(lines, ref, lowercase=True).score)
        assert scores["chrF2"] == pytest.approx(
                sacrebleu.metrics.CHRF(lowercase=True).corpus_score(lines, ref).score)
    assert all(set(r["p_values"]) == set(s["metrics"]) for r in s["runs"])
    gum = [r["scores"]["F_BERT"] for r in s["runs"] if r["soft"] == "gumbel"]
    agg = s["modes"]["gumbel"]["F_BERT"]
    assert agg["mean"] == pytest.approx(statistics.fmean(gum))
    assert agg["sd"] == pytest.approx(statistics.stdev(gum))
    assert agg["delta"] == pytest.approx(agg["mean"] - s["baseline"]["scores"]["F_BERT"])
    md = (root / "demo" / "grid.md").read_text()
    assert "| gumbel | 2 |" in md and "F_BERT (mean ± sd)" in md and "paired bootstrap" in md
    assert json.loads((root / "demo" / "grid.json").read_text())["modes"].keys() == \
        {"dense", "gumbel"}


def test_a_rerun_reports_without_training_again(grid):
    root, out, _ = grid
    lines: list[str] = []
    again = run_grid(tiny_recipe(*GRID), ["dense", "gumbel"], [1, 2], runs_root=root,
                     device="cpu", say=lines.append)
    assert not any("running" in line for line in lines if line.startswith(("train-baseline", "finetune")))
    assert again["summary"]["modes"] == out["summary"]["modes"]


@pytest.mark.parametrize("softs, seeds, msg", [
    ([], [1], "--soft needs at least one value"),
    (["dense", "dense"], [1], "--soft repeats a value"),
    (["dense"], [1, 1], "--seeds repeats a value")])
def test_bad_grids_are_usage_errors(softs, seeds, msg):
    with pytest.raises(UsageError, match=msg):
        grid_recipes(tiny_recipe(*GRID), softs, seeds)
