"""Trackers fed by the training loop: a real local MLflow store (sqlite) and TensorBoard event
files, read back through ``mlflow.MlflowClient`` and tensorboard's ``EventAccumulator``."""
from __future__ import annotations

import functools
import json
import logging
import os
import socket
import sys
import threading

import pytest
import torch

from bertune_cli.core.tracking import sinks as trackers
from bertune_cli.core.tracking import tracker as tracking

mlflow = pytest.importorskip("mlflow")  # imported once per module (several seconds)
from mlflow import MlflowClient  # noqa: E402

from tiny import cli_sets, copy_runs, tiny_recipe  # noqa: E402

torch.set_num_threads(1)  # tiny models; spinning OpenMP threads crawl on shared cores


class Crash(Exception):
    pass


def recipe(*extra: str):
    return tiny_recipe(*extra)


def rows(run, kind):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


def history(client, run_id, key):
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One sqlite MLflow store for the module (creating one costs seconds: done once, in a
    thread): the default store of runs root ``root``, also named by $MLFLOW_TRACKING_URI.
    Yields (client(), root, wait until created)."""
    root = tmp_path_factory.mktemp("store")
    uri = trackers.default_tracking_uri(root)
    client = functools.cache(lambda: MlflowClient(uri))
    creating = threading.Thread(target=client)  # meanwhile the runs root is set up
    creating.start()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        yield client, root, creating.join


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(tracking, "_warned", set())


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_data_dir, store):
    """runs/demo/data (a copy of the session's) and a tracked (MLflow + TensorBoard) tiny
    baseline in runs/demo/baseline: its own, not the shared tiny_baseline, since the tests read
    what this training sent to the trackers."""
    from bertune_cli.core.loops.train_baseline import train_baseline

    root = copy_runs(tiny_data_dir, None, tmp_path_factory.mktemp("track") / "runs")
    store[2]()
    summary = train_baseline(recipe("tracking=[mlflow, tensorboard]"), root / "demo" / "data",
                             root / "demo" / "baseline", device="cpu", max_steps=6,
                             valid_every_steps=4, runs_root=root)
    return root, summary


def test_a_baseline_round_trips_through_a_local_mlflow_store(runs, store):
    client = store[0]()
    root, summary = runs
    run_dir = root / "demo" / "baseline"
    state = json.loads((run_dir / "tracking.json").read_text())["mlflow"]
    run = client.get_run(state["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "baseline"
    assert client.get_experiment(run.info.experiment_id).name == "demo"
    # params: the resolved config, flattened
    want = trackers.flatten(recipe("tracking=[mlflow, tensorboard]").to_dict())
    assert run.data.params == want and run.data.params["train.lr"] == "0.003"
    # metrics: every metrics.jsonl row at its update
    train, valid = rows(run_dir, "train"), rows(run_dir, "valid")
    assert [u for u, _ in history(client, run.info.run_id, "train/loss")] == [2, 4, 6]
    for key in ("loss", "nll", "lr", "gnorm", "tokens_per_s"):
        assert history(client, run.info.run_id, f"train/{key}") == \
            [(r["update"], pytest.approx(r[key])) for r in train]
    for key, field in (("valid/bleu", "bleu"), ("valid/loss", "valid_loss"),
                       ("valid/nll", "valid_nll")):
        assert history(client, run.info.run_id, key) == \
            [(r["update"], pytest.approx(r[field])) for r in valid]
    assert [u for u, _ in history(client, run.info.run_id, "valid/bleu")] == [4, 6]
    assert run.data.metrics["test/bleu"] == pytest.approx(summary["test"]["bleu"])
    # tags
    tags = run.data.tags
    assert tags["recipe"] == "demo" and tags["stage"] == "baseline"
    assert tags["bertune.version"] == __import__("bertune_cli").__version__
    assert tags["data.manifest_hash"] == trackers.short_hash(root / "demo" / "data" /
                                                             "manifest.json")
    assert tags["valid/bleu_signature"].startswith("nrefs:1|case:lc")
    assert tags["stop_reason"] == "max_steps"
    # artifacts, checkpoint_best as a folder
    top = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "metrics.jsonl", "valid.hyp.txt", "test.hyp.txt",
            "checkpoint_best"} <= top
    best = {f.path for f in client.list_artifacts(run.info.run_id, "checkpoint_best")}
    assert {"checkpoint_best/model.safetensors", "checkpoint_best/bertune.json"} <= best


def test_tensorboard_gets_the_same_scalars(runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root, summary = runs
    run_dir = root / "demo" / "baseline"
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss", "train/tokens_per_s", "valid/bleu", "valid/loss", "test/bleu"} <= scalars
    got = [(e.step, e.value) for e in events.Scalars("train/loss")]
    train = rows(run_dir, "train")
    assert got == [(r["update"], pytest.approx(r["loss"], rel=1e-6)) for r in train]
    assert events.Scalars("test/bleu")[0].value == pytest.approx(summary["test"]["bleu"], rel=1e-6)


def test_a_resumed_run_continues_the_same_mlflow_run(runs, store, tmp_path):
    """Crash at update 5 (last save at 4), re-run: one MLflow run, each update logged once."""
    from bertune_cli.core.loops.train_baseline import train_baseline

    client = store[0]()
    root, _ = runs
    r, run_dir = recipe("tracking=[mlflow]"), tmp_path / "baseline"
    kw = dict(device="cpu", max_steps=8, save_every_steps=2, runs_root=root)

    def crash(event):
        if event["event"] == "step" and event["update"] == 5:
            raise Crash

    with pytest.raises(Crash):
        train_baseline(r, root / "demo" / "data", run_dir, on_event=crash, **kw)
    first = json.loads((run_dir / "tracking.json").read_text())["mlflow"]["run_id"]
    assert client.get_run(first).info.status == "FAILED"
    events = []
    train_baseline(r, root / "demo" / "data", run_dir, on_event=events.append, **kw)
    assert events[0]["resumed"] and events[0]["updates"] == 4
    state = json.loads((run_dir / "tracking.json").read_text())["mlflow"]
    assert state["run_id"] == first and state["logged"]["train"] == 8
    run = client.get_run(first)
    assert run.info.status == "FINISHED"
    assert [u for u, _ in history(client, first, "train/loss")] == [2, 4, 6, 8]
    assert [u for u, _ in history(client, first, "valid/bleu")] == [8]
    same_dir = client.search_runs([run.info.experiment_id],
                                  filter_string=f"tags.run_dir = '{run_dir.resolve()}'")
    assert len(same_dir) == 1


def test_a_failing_tracker_warns_once_and_training_finishes(runs, monkeypatch, tmp_path, caplog):
    """MLflow server down (closed port) and TensorBoard not importable: one warning each."""
    from bertune_cli.core.loops.train_baseline import train_baseline
    from bertune_cli.core.loops.trainer import is_complete

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    root, _ = runs
    with caplog.at_level(logging.WARNING, logger="bertune.tracking"):
        summary = train_baseline(recipe("tracking=[mlflow, tensorboard]"), root / "demo" / "data",
                                 tmp_path / "b", device="cpu", max_steps=4, runs_root=root)
    assert is_complete(tmp_path / "b") and summary["updates"] == 4 and "test" in summary
    assert [r["update"] for r in rows(tmp_path / "b", "train")] == [2, 4]
    warnings = [r.getMessage() for r in caplog.records if r.name == "bertune.tracking"]
    assert len(warnings) == 2, warnings
    assert any("mlflow failed" in w for w in warnings)
    assert any("tensorboard is not installed (pip install 'bertune[tensorboard]')" in w
               for w in warnings)
    assert all("metrics.jsonl has every number" in w for w in warnings)


def test_a_finetune_is_tagged_with_its_soft_mode_and_baseline_hash(runs, store):
    """Through the pipeline: fine-tuning metrics (valid F_BERT), tags, and the before/after
    report attached to the same run."""
    from bertune_cli.core.pipeline.run import run_pipeline

    client = store[0]()
    root, _ = runs
    result = run_pipeline(recipe("tracking=[mlflow]"), runs_root=root, device="cpu")
    assert [s["action"] for s in result["stages"]] == ["skip", "skip", "run"]
    run_dir = root / "demo" / "finetune-gumbel"
    run_id = json.loads((run_dir / "tracking.json").read_text())["mlflow"]["run_id"]
    run = client.get_run(run_id)
    tags = run.data.tags
    assert tags["stage"] == "finetune-gumbel" and tags["soft"] == "gumbel"
    base = root / "demo" / "baseline" / "checkpoint_best"
    assert tags["baseline.checkpoint_hash"] == trackers.short_hash(base / "model.safetensors")
    # the start (update 0) is validated first, then the end of the 2-update run
    assert [u for u, _ in history(client, run_id, "valid/bertscore")] == [0, 2]
    assert "test/bertscore" not in run.data.metrics     # the stage scores nothing on test
    assert run.data.metrics["report/finetuned_bertscore"] == \
        pytest.approx(result["report"]["scores"]["finetuned"]["bertscore"])
    assert run.data.metrics["report/p_BLEU"] == \
        pytest.approx(result["report"]["significance"]["p_values"]["BLEU"])
    assert "test_comparison.json" in {f.path for f in client.list_artifacts(run_id)}
    assert run.info.status == "FINISHED"


def test_track_on_the_command_line_uses_a_store_under_the_runs_dir(runs, store, monkeypatch):
    """No $MLFLOW_TRACKING_URI: the store is <runs-dir>/mlflow.db, artifacts <runs-dir>/mlartifacts
    (the module's store is that of runs root ``fresh``: already created, saves seconds)."""
    from typer.testing import CliRunner

    from bertune_cli.main import app

    client, fresh = store[0](), store[1]
    root, _ = runs
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    sets = cli_sets()
    result = CliRunner().invoke(app, [
        "train-baseline", "--pair", "demo", *sets, "--data", str(root / "demo" / "data"),
        "--runs-dir", str(fresh), "--track", "mlflow", "--track", "tensorboard",
        "--max-steps", "2", "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    run_dir = fresh / "demo" / "baseline"
    assert "- mlflow\n- tensorboard" in (run_dir / "config.yaml").read_text()
    state = json.loads((run_dir / "tracking.json").read_text())["mlflow"]
    assert state["tracking_uri"] == f"sqlite:///{fresh.resolve() / 'mlflow.db'}"
    run = client.get_run(state["run_id"])
    assert run.data.params["tracking"] == '["mlflow", "tensorboard"]'
    assert run.info.artifact_uri.startswith((fresh / "mlartifacts").resolve().as_uri())
    assert "config.yaml" in {f.path for f in client.list_artifacts(run.info.run_id)}
    assert any((run_dir / "tensorboard").iterdir())


def test_rows_become_scalars_and_a_partial_line_waits(tmp_path):
    scalars, texts = trackers.row_scalars(
        {"kind": "valid", "epoch": 1, "update": 40, "valid_loss": 2.5, "bleu": 30.1,
         "bleu_signature": "nrefs:1", "is_best": True, "best": 30.1})
    assert scalars == {"valid/epoch": 1.0, "valid/loss": 2.5, "valid/bleu": 30.1,
                       "valid/is_best": 1.0, "valid/best": 30.1}
    assert texts == {"valid/bleu_signature": "nrefs:1"}
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"kind": "train", "update": 2}\n{"kind": "tr')
    reader = tracking.RowReader(path)
    assert reader.new_rows() == [{"kind": "train", "update": 2}]
    with open(path, "a") as f:
        f.write('ain", "update": 4}\n')
    assert reader.new_rows() == [{"kind": "train", "update": 4}]
    assert reader.new_rows() == []


def test_a_tracker_that_failed_is_not_tried_again_in_the_process(monkeypatch, tmp_path, caplog):
    """After the first failure the tracker is off for the run: the later stages of a pipeline
    and the report attached at the end do not wait on a dead server again (before: each
    opened it anew, each time through MLflow's retries)."""
    opened = []

    class Down(trackers.Sink):
        name = "mlflow"

        def open(self, info, state, resume):
            opened.append(info.stage)
            raise ConnectionError("tracking server unreachable")

    monkeypatch.setitem(trackers.TRACKERS, "mlflow", Down)
    with caplog.at_level(logging.WARNING, logger="bertune.tracking"):
        for stage in ("baseline", "finetune-dense", "report"):
            info = trackers.RunInfo({"name": "demo"}, tmp_path, stage, tmp_path)
            with tracking.Tracking(["mlflow"], info) as t:
                t({"event": "start", "resumed": False})
                t.finish({"updates": 1})
    assert opened == ["baseline"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "bertune.tracking"]
    assert len(warnings) == 1 and "mlflow failed" in warnings[0]


def test_mlflow_requests_are_bounded_unless_the_user_says_otherwise(monkeypatch, tmp_path):
    """MLflow's defaults (120 s per request, 7 retries with exponential backoff) kept a
    finished fine-tune waiting ~4 minutes on an unreachable server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    for key in trackers.MLFLOW_HTTP:   # unset, and restored after the test
        monkeypatch.setenv(key, "0")
        monkeypatch.delenv(key)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")      # the user's own value
    sink = trackers.MlflowSink()
    with pytest.raises(Exception):
        sink.open(trackers.RunInfo({"name": "demo"}, tmp_path, "baseline", tmp_path), {}, False)
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "10"
    assert os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == "1"
