"""Every file of a run folder is written through core/io/outputs.py (AtomicFile / AtomicFolder):
a crash or a full disk leaves the previous version or the complete new one, never half a file.
Before: report.json, valid.hyp.txt, config.yaml and the metrics.jsonl rewrite on resume were
plain writes, and checkpoints had a third hand-written folder swap."""
from __future__ import annotations

import re
from pathlib import Path

import bertune_cli

WRITERS = ["core/loops/trainer.py", "core/loops/validation.py", "core/pipeline/run.py",
           "core/loops/train_baseline.py", "core/loops/finetune.py", "core/pipeline/grid.py",
           "core/model/checkpoint.py", "core/model/trainer_state.py", "core/tracking/tracker.py"]
PLAIN = re.compile(r"\.write_text\(|\.write_bytes\(|os\.replace\(|os\.rename\(|shutil\.rmtree\("
                   r"|open\([^)]*[\"'][wx]b?[\"']")


def test_run_folder_writers_use_the_atomic_writers():
    package = Path(bertune_cli.__file__).parent
    found = {name: PLAIN.findall((package / name).read_text(encoding="utf-8"))
             for name in WRITERS}
    # trainer_state writes into the checkpoint's build folder, which AtomicFolder publishes
    found.pop("core/model/trainer_state.py")
    # bertune.json into the build folder; the legacy ".<name>.old" repair
    assert found.pop("core/model/checkpoint.py") == [".write_text(", "os.replace("]
    assert {k: v for k, v in found.items() if v} == {}


def test_a_failed_rewrite_of_metrics_on_resume_keeps_the_file(tmp_path, monkeypatch):
    import json

    from bertune_cli.core.io import outputs
    from bertune_cli.core.loops import trainer

    run = tmp_path / "run"
    run.mkdir()
    rows = [{"kind": "train", "update": u} for u in (1, 2, 3)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = (run / "metrics.jsonl").read_text()

    real = outputs.os.replace

    def full_disk_for_metrics(src, dst):
        if Path(dst).name == "metrics.jsonl":
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(outputs.os, "replace", full_disk_for_metrics)
    try:
        trainer._start_run_dir(run, {"config": {"name": "x"}}, updates=2)
    except outputs.OutputError as exc:
        assert "no space left on device" in str(exc)
    else:
        raise AssertionError("the failed rewrite was not reported")
    assert (run / "metrics.jsonl").read_text() == before      # not truncated, not half-written
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml", "metrics.jsonl"]
