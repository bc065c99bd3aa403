"""`bertune finetune` runs the missing stages (prepare → train-baseline → finetune), says why,
skips what is complete, and compares the test scores before and after."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bertune_cli.core.config.recipe import load_recipe
from bertune_cli.core.errors import CheckpointError
from bertune_cli.core.pipeline.run import run_pipeline, stage_status

from tiny import tiny_recipe


def recipe(*extra: str):
    return tiny_recipe(*extra)


def _run(root, *extra, **kw):
    lines: list[str] = []
    result = run_pipeline(recipe(*extra), runs_root=root, device="cpu", say=lines.append, **kw)
    return result, lines


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """One pipeline run from nothing, and a second identical call (its own baseline, not the
    shared tiny_baseline: the tests check that the pipeline prepares and trains it)."""
    root = tmp_path_factory.mktemp("pipe") / "runs"
    result, lines = _run(root)
    again, lines_again = _run(root)
    return root, result, lines, again, lines_again


def test_first_run_runs_every_stage_and_says_why(first):
    root, result, lines, _, _ = first
    assert [s["stage"] for s in result["stages"]] == ["prepare", "train-baseline", "finetune"]
    assert [s["action"] for s in result["stages"]] == ["run", "run", "run"]
    assert lines[0].startswith("prepare: running — no prepared data in")
    assert any(line.startswith("train-baseline: running — no baseline run") for line in lines)
    assert any(line.startswith("finetune: running — no finetune run") for line in lines)
    for stage in ("data/manifest.json", "baseline/DONE", "finetune-gumbel/DONE",
                  "finetune-gumbel/test_comparison.json"):
        assert (root / "demo" / stage).is_file(), stage


def test_the_report_compares_baseline_and_finetuned_on_the_test_set(first):
    root, result, _, _, _ = first
    report = result["report"]
    assert report["sentences"] == 20
    assert set(report["scores"]) == {"baseline", "finetuned"}
    import sacrebleu  # each BLEU is sacrebleu's on that output file (the recipe lowercases)

    ref = [(root / "demo" / "data" / "test.tgt.txt").read_text(encoding="utf-8").splitlines()]
    for name, scores in report["scores"].items():
        hyps = Path(report["outputs"][name]).read_text(encoding="utf-8").splitlines()
        assert scores["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, ref, lowercase=True).score)
    assert report["outputs"]["baseline"] == str(root / "demo" / "baseline" / "test.hyp.txt")
    assert report["outputs"]["finetuned"] == str(root / "demo" / "finetune-gumbel" / "test.hyp.txt")
    assert report["signatures"]["bleu"].startswith("nrefs:1")
    assert report["signatures"]["bertscore"].startswith("minilm_L5_no-idf")
    p = report["significance"]["p_values"]
    assert set(p) == {"BLEU", "F_BERT", "MoverScore"}
    assert report["signatures"]["moverscore"].startswith("minilm_L6_idf_no-stop-words_1-gram")
    # the test set is scored once, by the report: the finetune stage only wrote test.hyp.txt
    assert result["finetune"]["test"] == {"split": "test",
                                          "hyp_file": report["outputs"]["finetuned"]}
    from bertune_cli.core.metrics.bertscore import score_bertscore

    refs = (root / "demo" / "data" / "test.tgt.txt").read_text(encoding="utf-8").splitlines()
    hyps = (root / "demo" / "finetune-gumbel" / "test.hyp.txt").read_text(
        encoding="utf-8").splitlines()
    assert report["scores"]["finetuned"]["bertscore"] == pytest.approx(
        score_bertscore(hyps, [refs]).corpus().score, abs=1e-4)
    stored = json.loads((root / "demo" / "finetune-gumbel" / "test_comparison.json").read_text())
    assert stored["scores"] == report["scores"]


def test_a_second_run_skips_every_stage_and_says_why(first):
    _, result, _, again, lines = first
    assert [s["action"] for s in again["stages"]] == ["skip", "skip", "skip"]
    assert lines[0].startswith("prepare: skipped — ") and "up to date" in lines[0]
    assert any(line.startswith("train-baseline: skipped — ") and "(DONE)" in line for line in lines)
    assert any(line.startswith("finetune: skipped — ") for line in lines)
    assert again["finetune"]["already_complete"]
    assert again["report"]["scores"] == result["report"]["scores"]


def test_an_interrupted_finetune_is_resumed_and_said_so(first, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(first[0] / "demo" / "data", root / "demo" / "data")
    shutil.copytree(first[0] / "demo" / "baseline", root / "demo" / "baseline")

    def stop(event):
        if event["event"] == "step" and event["update"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(root, "finetune.soft=dense", on_event=stop, save_every_steps=1)
    action, why = stage_status(root / "demo" / "finetune-dense", "finetune")
    assert action == "resume" and "from update 1" in why


def test_lm_mismatch_is_refused_before_any_stage_runs(first, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(first[0] / "demo" / "baseline", root / "demo" / "baseline")
    lines: list[str] = []
    with pytest.raises(CheckpointError, match="layer"):
        run_pipeline(recipe("lm.layer=3"), runs_root=root, device="cpu", say=lines.append)
    assert lines == [] and not (root / "demo" / "data").exists()


def test_stale_data_under_an_existing_baseline_is_not_rebuilt(first, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(first[0] / "demo" / "data", root / "demo" / "data")
    shutil.copytree(first[0] / "demo" / "baseline", root / "demo" / "baseline")
    before = (root / "demo" / "data" / "manifest.json").read_text()
    with pytest.raises(CheckpointError, match="orphan"):
        _run(root, "data.bpe_vocab=250")
    assert (root / "demo" / "data" / "manifest.json").read_text() == before


def test_the_data_stage_reads_the_raw_corpus_from_data_dir(tmp_path):
    """`finetune --data-dir DIR` prepares from DIR instead of the recipe's URLs, and the same
    --data-dir later is a cache hit (the data is keyed by content, not by location)."""
    import gzip

    from bertune_cli.core.pipeline.run import ensure_data

    raw = tmp_path / "m30k"
    raw.mkdir()
    de, en = ["Ein Mann fährt Fahrrad .", "Zwei Hunde spielen ."], ["A man rides a bike .",
                                                                    "Two dogs play ."]
    for split in ("train", "val", "test_2016_flickr"):
        for lang, lines in (("de", de), ("en", en)):
            text = "".join(f"{lines[i % 2]} {split} {i}\n" for i in range(30))
            (raw / f"{split}.{lang}.gz").write_bytes(gzip.compress(text.encode()))
    m30k = load_recipe("multi30k-de-en", ["data.bpe_vocab=100"])
    said: list[str] = []
    data = tmp_path / "runs" / "data"
    first = ensure_data(m30k, data, None, said.append, raw)
    again = ensure_data(m30k, data, None, said.append, raw)
    assert (first["action"], again["action"]) == ("run", "skip")
    assert json.loads((data / "manifest.json").read_text())["splits"]["test"]["pairs"] == 30
    assert said[1].startswith("prepare: skipped")


def test_a_run_finished_before_the_rename_reports_its_report_json(first, tmp_path):
    """Runs finished before the test comparison was named test_comparison.json hold it as
    report.json: a re-run reads that file and scores nothing again."""
    root = tmp_path / "runs"
    shutil.copytree(first[0] / "demo", root / "demo")
    ft = root / "demo" / "finetune-gumbel"
    stored = json.loads((ft / "test_comparison.json").read_text())
    (ft / "test_comparison.json").unlink()
    (ft / "report.json").write_text(json.dumps({**stored, "legacy": True}))
    result, lines = _run(root)
    assert result["report"]["legacy"] is True
    assert result["report"]["report_file"] == str(ft / "report.json")
    assert any("(already computed)" in line for line in lines)
    assert not (ft / "test_comparison.json").exists()
