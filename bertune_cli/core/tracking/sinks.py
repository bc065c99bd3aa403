"""The trackers behind ``core.tracking``: MLflow and TensorBoard sinks, and what they log.

A sink receives metrics.jsonl rows and writes them as scalars ``<kind>/<key>`` at step = the
row's update (``row_scalars``); it keeps ``state["logged"]`` (the last update logged per row
kind, persisted by ``core.tracking`` in ``tracking.json``) and skips rows it has logged, so a
resumed run never logs a step twice. The registry ``TRACKERS`` names them for recipes
(``tracking: [mlflow, tensorboard]``) and ``--track``. mlflow and torch.utils.tensorboard are
imported only when a sink opens (in the tracking thread).

MLflow: one run per run directory through ``MlflowClient`` (no global active run); params =
the flattened resolved config, tags = recipe, stage, soft mode, bertune version, git commit,
data-manifest and starting-checkpoint hashes, signatures; artifacts at the end. The store is
``$MLFLOW_TRACKING_URI``, else ``sqlite:///<runs>/mlflow.db`` (MLflow 3 refuses a file store by
default); a new experiment (= recipe name) next to a sqlite store keeps its artifacts in
``mlartifacts/`` beside it. Requests to a tracking server are bounded (``MLFLOW_HTTP``: 10 s
per request, 2 retries; MLflow's own defaults, 120 s and 7 retries with exponential backoff,
kept a finished run waiting ~4 minutes for a server that is down); a value already in the
environment wins.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

# Bounds on MLflow's HTTP requests (its environment variables; defaults only).
MLFLOW_HTTP = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}

# ----------------------------------------------------------------------------- what is logged


@dataclass
class RunInfo:
    """What a sink needs to open its run: the resolved config, the stage, where things are."""

    config: dict[str, Any]
    run_dir: Path
    stage: str  # baseline | finetune-<soft>[...]
    runs_root: Path  # the default MLflow store lives here
    data_dir: Path | None = None  # its manifest hash is a tag
    init: Path | None = None  # the checkpoint a fine-tuning starts from (hash: a tag)


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"train": {"lr": 1e-3}}`` -> ``{"train.lr": "0.001"}`` (MLflow params are strings)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value if isinstance(value, str) else json.dumps(value)
    return out


def row_scalars(row: dict[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    """A metrics.jsonl row -> (scalars ``<kind>/<key>``, text values such as signatures).
    ``valid_loss`` of a valid row becomes ``valid/loss``; booleans become 0/1."""
    kind = row.get("kind", "train")
    scalars, texts = {}, {}
    for key, value in row.items():
        if key in ("kind", "update") or value is None:
            continue
        name = f"{kind}/{key[len(kind) + 1 :] if key.startswith(kind + '_') else key}"
        if isinstance(value, str):
            texts[name] = value
        elif isinstance(value, (bool, int, float)) and math.isfinite(float(value)):
            scalars[name] = float(value)
    return scalars, texts


def summary_points(summary: dict[str, Any]) -> list[tuple[int, dict[str, float], dict[str, str]]]:
    """The end-of-run numbers — ``summary["test"]`` (test/bleu, test/bertscore) and a pipeline
    ``summary["report"]`` (report/baseline_bleu, report/p_BLEU, ...) — at the last update."""
    scalars: dict[str, float] = {}
    texts: dict[str, str] = {}
    for kind in ("test", "report"):
        more, words = row_scalars({"kind": kind, **(summary.get(kind) or {})})
        scalars.update(more)
        texts.update(words)
    return [(int(summary.get("updates") or 0), scalars, texts)]


def default_tracking_uri(runs_root: Path) -> str:
    """The local MLflow store under the runs directory (absolute: ``sqlite:////abs/mlflow.db``)."""
    return f"sqlite:///{Path(runs_root).resolve() / 'mlflow.db'}"


def artifact_root(uri: str) -> str | None:
    """Where a new experiment keeps artifacts: ``mlartifacts/`` beside a sqlite store (MLflow's
    own default is ./mlruns in the current directory); a server or other database decides."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri[len("sqlite:///") :]).resolve().parent / "mlartifacts").as_uri()


def short_hash(path: Path) -> str | None:
    """First 16 hex digits of the file's sha256 (None when it does not exist)."""
    path = Path(path)
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def git_commit() -> str | None:
    """The commit of the bertune source tree, when it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def run_tags(info: RunInfo) -> dict[str, str]:
    """recipe, stage, soft mode, versions, git commit, data-manifest and starting-checkpoint
    hashes (computed in the worker thread: a checkpoint can be large)."""
    from bertune_cli import __version__

    config = info.config
    tags = {
        "recipe": config.get("name", ""),
        "stage": info.stage,
        "bertune.version": __version__,
        "run_dir": str(Path(info.run_dir).resolve()),
    }
    if info.stage.startswith("finetune"):
        tags["soft"] = str(config.get("finetune", {}).get("soft"))
    commit = git_commit()
    if commit:
        tags["git.commit"] = tags["mlflow.source.git.commit"] = commit
    if info.data_dir is not None:
        tags["data.manifest_hash"] = short_hash(Path(info.data_dir) / "manifest.json") or ""
    if info.init is not None:
        tags["baseline.checkpoint"] = str(Path(info.init).resolve())
        tags["baseline.checkpoint_hash"] = short_hash(Path(info.init) / "model.safetensors") or ""
    return tags


class Sink:
    """Base: keeps ``state["logged"]`` (last update logged per row kind) and skips older rows.

    A sink implements ``open(info, state, resume)`` (``state``: its part of tracking.json;
    ``resume``: continue that run, else start a new one), ``write(points)`` with points
    ``(update, scalars, texts)``, ``finish(summary, run_dir, files)`` and ``close(status)``
    (FINISHED | FAILED | KILLED). Any exception switches the sink off (``core.tracking``)."""

    name = ""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}
        self.failed = False

    def log_rows(self, rows: list[dict[str, Any]]) -> None:
        logged = self.state.setdefault("logged", {})
        new = [r for r in rows if r.get("update", 0) > logged.get(r.get("kind", "train"), -1)]
        if new:
            self.write([(r.get("update", 0), *row_scalars(r)) for r in new])
            for r in new:
                logged[r.get("kind", "train")] = r.get("update", 0)

    def write(self, points: list[tuple[int, dict[str, float], dict[str, str]]]) -> None:
        raise NotImplementedError


class MlflowSink(Sink):
    """One MLflow run per run directory, through ``MlflowClient`` (no global active run)."""

    name = "mlflow"

    def open(self, info: RunInfo, state: dict[str, Any], resume: bool) -> None:
        for noisy in ("mlflow.store.db.utils", "alembic"):  # DB-creation chatter on stderr
            logging.getLogger(noisy).setLevel(logging.WARNING)
        for key, value in MLFLOW_HTTP.items():  # read by MLflow at each request
            os.environ.setdefault(key, value)
        from mlflow import MlflowClient
        from mlflow.entities import RunStatus

        env = os.environ.get("MLFLOW_TRACKING_URI")
        uri = env or default_tracking_uri(info.runs_root)
        if not env:
            info.runs_root.mkdir(parents=True, exist_ok=True)
        self.client = client = MlflowClient(tracking_uri=uri)
        run = None
        if resume and state.get("run_id") and state.get("tracking_uri") == uri:
            run = self._existing(state["run_id"])
        if run is None:
            experiment = self._experiment(info.config.get("name", "bertune"), uri)
            run = client.create_run(experiment, run_name=info.stage)
            state = {"run_id": run.info.run_id, "experiment_id": experiment, "tracking_uri": uri}
        else:
            client.update_run(run.info.run_id, status=RunStatus.to_string(RunStatus.RUNNING))
        self.state = {**state, "finished": False}
        self.run_id = run.info.run_id
        params = flatten(info.config)
        old = run.data.params
        changed = sorted(k for k in params if k in old and old[k] != params[k][:6000])
        tags = run_tags(info)
        if changed:  # MLflow params are immutable: a resume with other values records them as tags
            tags.update({f"changed_on_resume.{k}": params[k] for k in changed})
        self._batch(params={k: v[:6000] for k, v in params.items() if k not in old}, tags=tags)

    def _existing(self, run_id: str):
        from mlflow.exceptions import MlflowException

        try:
            run = self.client.get_run(run_id)
        except MlflowException:
            return None  # deleted store or run: start a new one
        return run if run.info.lifecycle_stage == "active" else None

    def _experiment(self, name: str, uri: str) -> str:
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return self.client.create_experiment(name, artifact_location=artifact_root(uri))
        except MlflowException:  # created meanwhile by a parallel run
            return self.client.get_experiment_by_name(name).experiment_id

    def _batch(
        self, metrics=(), params: dict[str, str] | None = None, tags: dict[str, str] | None = None
    ) -> None:
        from mlflow.entities import Param, RunTag

        params, tags = list((params or {}).items()), list((tags or {}).items())
        metrics = list(metrics)
        # log_batch takes at most 1000 metrics, 100 params and 100 tags per call
        for k in range(max(-(-len(metrics) // 1000), -(-len(params) // 100), -(-len(tags) // 100))):
            self.client.log_batch(
                self.run_id,
                metrics=metrics[k * 1000 : (k + 1) * 1000],
                params=[Param(n, v) for n, v in params[k * 100 : (k + 1) * 100]],
                tags=[RunTag(n, str(v)) for n, v in tags[k * 100 : (k + 1) * 100]],
            )

    def write(self, points) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(k, v, now, step) for step, scalars, _ in points for k, v in scalars.items()
        ]
        # signatures (sacreBLEU, F_BERT settings) as tags: the latest one stays
        texts = {k: v for _, _, t in points for k, v in t.items() if k.endswith("signature")}
        self._batch(metrics=metrics, tags=texts)

    def finish(self, summary: dict[str, Any], run_dir: Path, files: Iterable[str]) -> None:
        self.write(summary_points(summary))
        self._batch(
            tags={
                k: v
                for k, v in (
                    ("stop_reason", summary.get("reason")),
                    ("model.parameters", summary.get("parameters")),
                )
                if v is not None
            }
        )
        for name in files:
            path = Path(run_dir) / name
            if path.is_dir():
                self.client.log_artifacts(self.run_id, str(path), artifact_path=path.name)
            elif path.is_file():
                self.client.log_artifact(self.run_id, str(path))

    def close(self, status: str) -> None:
        self.client.set_terminated(self.run_id, status=status)
        self.state["finished"] = status == "FINISHED"


class TensorBoardSink(Sink):
    """The same scalars in ``<run_dir>/tensorboard/`` through ``torch.utils.tensorboard``."""

    name = "tensorboard"

    def open(self, info: RunInfo, state: dict[str, Any], resume: bool) -> None:
        from torch.utils.tensorboard import SummaryWriter

        log_dir = str((info.run_dir / "tensorboard").resolve())
        self.state = {**(state if resume else {}), "log_dir": log_dir, "finished": False}
        # a fresh training hides what an earlier one in this directory logged
        self.writer = SummaryWriter(self.state["log_dir"], purge_step=None if resume else 0)
        if not self.state.get("logged"):
            tags = run_tags(info)
            self.writer.add_text("run", "\n".join(f"    {k}: {v}" for k, v in tags.items()), 0)

    def write(self, points) -> None:
        for step, scalars, _ in points:
            for key, value in scalars.items():
                self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def finish(self, summary: dict[str, Any], run_dir: Path, files: Iterable[str]) -> None:
        self.write(summary_points(summary))  # scalars only: TensorBoard holds no files

    def close(self, status: str) -> None:
        self.writer.close()
        self.state["finished"] = status == "FINISHED"


TRACKERS: dict[str, type[Sink]] = {"mlflow": MlflowSink, "tensorboard": TensorBoardSink}
