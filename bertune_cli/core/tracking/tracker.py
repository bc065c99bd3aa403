"""Experiment tracking: the trackers of ``core.trackers`` fed by the training loop's events.

``track(recipe, run_dir, stage=...)`` returns an ``on_event`` callable for ``train_loop``; the
loop never learns about MLflow. What the trackers log is ``metrics.jsonl`` itself — every row
becomes scalars ``<kind>/<key>`` (``train/loss``, ``train/tokens_per_s``, ``valid/bleu``,
``valid/bertscore``, ...) at step = the row's update — so a tracker shows exactly the numbers
of the source of truth. The file is tailed after each event (the loop appends a row before it
emits the event); ``finish(summary)`` adds the test scores and the artifacts.

The trackers run in one background thread: a slow or dead server never stalls training. One
that fails (import missing, server down, disk full) logs ONE warning on the
``bertune.tracking`` logger and is switched off for the rest of the process (the later stages
of a pipeline, the report attached at the end, the other runs of a grid do not try it again);
training and ``metrics.jsonl`` go on.

``<run_dir>/tracking.json`` keeps each tracker's state (MLflow run id and store, last update
logged per row kind). A resumed training continues the same MLflow run and logs only rows not
yet logged (no step twice); a fresh training in the directory starts a new run. A run that was
complete before this process started is not tracked after the fact.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

from bertune_cli.core.io.outputs import AtomicFile
from bertune_cli.core.system.distributed import is_master
from bertune_cli.core.tracking.sinks import TRACKERS, RunInfo

log = logging.getLogger("bertune.tracking")

STATE_FILE = "tracking.json"
ARTIFACTS = (
    "config.yaml",
    "metrics.jsonl",
    "valid.hyp.txt",
    "test.hyp.txt",
    "test.init.hyp.txt",
    "test_comparison.json",
    "checkpoint_best",
)
FINISH_TIMEOUT_S = 600.0  # an artifact upload may be slow; a dead server fails sooner
ABORT_TIMEOUT_S = 30.0
_warned: set[str] = set()  # trackers that failed in this process: warned once, then off


def read_state(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((Path(run_dir) / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}


def _write_state(run_dir: Path, states: dict[str, dict[str, Any]]) -> None:
    """Merge the sinks' states into tracking.json (temp name + rename: never half-written)."""
    path = Path(run_dir) / STATE_FILE
    merged = json.dumps({**read_state(run_dir), **states}, indent=1)
    with AtomicFile(path, f"{STATE_FILE} of the run") as f:
        f.write(merged)


class RowReader:
    """New complete lines of metrics.jsonl since the last call."""

    def __init__(self, path: Path):
        self.path, self.offset = Path(path), 0

    def new_rows(self) -> list[dict[str, Any]]:
        try:
            if self.path.stat().st_size <= self.offset:
                return []
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                blob = f.read()
        except FileNotFoundError:
            return []
        end = blob.rfind(b"\n") + 1  # a line being written is read next time
        self.offset += end
        return [
            json.loads(line) for line in blob[:end].decode("utf-8").splitlines() if line.strip()
        ]


# ----------------------------------------------------------------------------- coordinator


class Tracking:
    """The ``on_event`` callable handed to ``train_loop``: forwards every event to
    ``on_event`` and feeds the sinks from a background thread. A context manager (an exception
    marks the MLflow run FAILED, Ctrl-C KILLED); ``finish(summary)`` logs the test scores and
    the artifacts and waits for the sinks. With no tracker names it only forwards."""

    def __init__(
        self,
        names: Iterable[str],
        info: RunInfo,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ):
        self.info, self.forward = info, on_event
        self.sinks = [TRACKERS[n]() for n in dict.fromkeys(names) if n not in _warned]
        self.reader = RowReader(info.run_dir / "metrics.jsonl")
        self.jobs: queue.Queue = queue.Queue()
        self.thread: threading.Thread | None = None
        self._saved = ""

    def __enter__(self) -> "Tracking":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.thread is not None and exc_type is not None:
            self._put("close", "KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED")
        self._stop(ABORT_TIMEOUT_S if exc_type is not None else FINISH_TIMEOUT_S)

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("event") == "start":
            # a fresh training (not a resume) in this directory is a new tracked run
            self._open(resume=bool(event.get("resumed")))
        elif self.thread is not None:
            self._put("log_rows")  # the worker reads what the loop appended to metrics.jsonl
        if self.forward is not None:
            self.forward(event)

    def finish(
        self, summary: dict[str, Any], files: Iterable[str] = ARTIFACTS, reopen: bool = False
    ) -> None:
        """Log the summary's test scores and the run's files; mark the run FINISHED; wait.
        ``reopen``: also add to an already finished tracked run (a later report)."""
        if self.thread is None:
            # nothing trained in this process (the run was complete): only finish a tracked
            # run left unfinished (e.g. interrupted during the test evaluation)
            stored = read_state(self.info.run_dir)
            self.sinks = [
                s
                for s in self.sinks
                if s.name in stored and (reopen or not stored[s.name].get("finished"))
            ]
            self._open(resume=True)
        if self.thread is not None:
            self._put("log_rows")
            self._put("finish", summary, self.info.run_dir, tuple(files))
            self._put("close", "FINISHED")
        self._stop(FINISH_TIMEOUT_S)

    # -- the worker thread ---------------------------------------------------------------

    def _open(self, resume: bool) -> None:
        if not self.sinks or self.thread is not None:
            return
        stored = read_state(self.info.run_dir)
        self.thread = threading.Thread(target=self._work, name="bertune-tracking", daemon=True)
        self.thread.start()
        for sink in self.sinks:
            self.jobs.put((sink, "open", (self.info, stored.get(sink.name, {}), resume)))
        self._put("log_rows")

    def _put(self, op: str, *args: Any) -> None:
        self.jobs.put((None, op, args))

    def _stop(self, timeout: float) -> None:
        if self.thread is None:
            return
        self.jobs.put((None, "stop", ()))
        self.thread.join(timeout)
        if self.thread.is_alive():
            log.warning(
                f"tracking: the trackers did not finish within {timeout:.0f} s; giving "
                f"up — {self.info.run_dir / 'metrics.jsonl'} has every number"
            )
        self.thread = None

    def _work(self) -> None:
        while True:
            target, op, args = self.jobs.get()
            if op == "stop":
                return
            if op == "log_rows":
                rows = self.reader.new_rows()
                if not rows:
                    continue
                args = (rows,)
            for sink in [target] if target is not None else self.sinks:
                if not sink.failed:
                    try:
                        getattr(sink, op)(*args)
                    except Exception as exc:  # any tracker failure: warn once, train on
                        sink.failed = True
                        _warn(sink.name, exc, self.info.run_dir)
            self._save_state()

    def _save_state(self) -> None:
        states = {s.name: s.state for s in self.sinks if s.state and not s.failed}
        blob = json.dumps(states, sort_keys=True)
        if states and blob != self._saved:
            try:
                _write_state(self.info.run_dir, states)
                self._saved = blob
            except OSError as exc:
                _warn(STATE_FILE, exc, self.info.run_dir)


def _warn(name: str, exc: BaseException, run_dir: Path) -> None:
    if name in _warned:
        log.debug("tracking: %s failed again: %r", name, exc)
        return
    _warned.add(name)
    if isinstance(exc, ImportError):
        from bertune_cli.core.system.extras import install_hint

        why = f"{name} is not installed ({install_hint(name)})"
    else:
        text = (str(exc).strip().splitlines() or [""])[0][:200]
        why = f"{name} failed ({exc.__class__.__name__}: {text})"
    log.warning(
        f"tracking: {why}; training goes on without it — "
        f"{Path(run_dir) / 'metrics.jsonl'} has every number"
    )


def track(
    recipe,
    run_dir: Path,
    *,
    stage: str,
    data_dir: Path | None = None,
    init: Path | None = None,
    runs_root: Path | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> Tracking:
    """The trackers of ``recipe.tracking`` for the run in ``run_dir`` (rank 0 only), wrapping
    ``on_event``. ``stage``: baseline | finetune-<soft>; ``data_dir``: the prepared data (its
    manifest hash is a tag); ``init``: the checkpoint a fine-tuning starts from (its hash is a
    tag); ``runs_root``: where the default MLflow store lives (default ``$BERTUNE_RUNS``)."""
    from bertune_cli.core.io.paths import runs_root as default_root

    names = tuple(recipe.tracking) if is_master() else ()
    info = RunInfo(
        recipe.to_dict(), Path(run_dir), stage, Path(runs_root or default_root()), data_dir, init
    )
    return Tracking(names, info, on_event)


def attach_report(
    recipe, run_dir: Path, report: dict[str, Any], *, stage: str, runs_root: Path | None = None
) -> None:
    """Add the before/after test comparison (``test_comparison.json``, its scores and p-values)
    to the tracked run of the fine-tuning in ``run_dir``; nothing when that run was not tracked."""
    stored = read_state(run_dir)
    tracked = [n for n in recipe.tracking if n in stored]
    if not tracked or not report or not is_master():
        return
    flat = {
        f"{who}_{metric}": value
        for who, scores in report.get("scores", {}).items()
        for metric, value in scores.items()
    }
    flat.update(
        {
            f"p_{metric}": p
            for metric, p in report.get("significance", {}).get("p_values", {}).items()
        }
    )
    summary = {"updates": report.get("finetune", {}).get("updates") or 0, "report": flat}
    from bertune_cli.core.io.paths import runs_root as default_root

    info = RunInfo(recipe.to_dict(), Path(run_dir), stage, Path(runs_root or default_root()))
    with Tracking(tracked, info) as tracking:
        tracking.finish(summary, ("test_comparison.json", "test.init.hyp.txt"), reopen=True)
