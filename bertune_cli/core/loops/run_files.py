"""Run-folder bookkeeping of the training loop (core/loops/trainer.py): whether a run folder
can be resumed with these settings, starting one, and skipping a non-finite update."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bertune_cli.core.errors import CheckpointError, TrainingError
from bertune_cli.core.io.outputs import write_text_atomic
from bertune_cli.core.loops.validation import (
    append_row,
)
from bertune_cli.core.model.checkpoint import (
    LAST,
    read_meta,
)


def _check_resumable(
    last: dict[str, Any], meta: dict[str, Any], state: dict[str, Any], world: int, run_dir: Path
) -> None:
    old = last.get("config", {})
    new = json.loads(json.dumps(meta.get("config", {})))  # tuples -> lists, as stored
    differ = [k for k in ("src", "tgt", "data", "lm", "model") if old.get(k) != new.get(k)]
    if last.get("data", {}).get("fingerprint") != meta.get("data", {}).get("fingerprint"):
        differ.append("data fingerprint")
    if differ:
        raise CheckpointError(
            f"{run_dir} holds a run with a different {', '.join(differ)}; "
            "it cannot be resumed with these settings",
            "use --out for a new run directory, or delete the old one",
        )
    if state.get("world_size", 1) != world:
        raise CheckpointError(
            f"{run_dir} was trained with {state.get('world_size')} processes, not {world}",
            "resume with the same number of processes",
        )


def _start_run_dir(run_dir: Path, meta: dict[str, Any], updates: int) -> None:
    """Write the resolved config; drop metrics rows logged after the resumed checkpoint."""
    import yaml

    run_dir.mkdir(parents=True, exist_ok=True)
    config = json.loads(json.dumps(meta.get("config", {})))  # tuples -> lists for YAML
    write_text_atomic(
        run_dir / "config.yaml", yaml.safe_dump(config, sort_keys=False), "the run's config.yaml"
    )
    path = run_dir / "metrics.jsonl"
    if path.is_file():
        rows = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        keep = [r for r in rows if json.loads(r).get("update", 0) <= updates]
        if len(keep) < len(rows):
            write_text_atomic(path, "".join(r + "\n" for r in keep), "the run's metrics.jsonl")


def _skip_update(
    run_dir: Path,
    master: bool,
    on_event,
    epoch: int,
    updates: int,
    loss: float,
    gnorm: float,
    bad_run: int,
    max_bad: int,
) -> None:
    """Report a skipped non-finite update (a ``skip`` event, or a logging warning when nobody
    listens; and a metrics row); stop after ``max_bad`` in a row."""
    import logging

    what = f"loss {loss}" if not math.isfinite(loss) else f"gradient norm {gnorm}"
    if on_event is None and master:  # the CLI prints the event; a library user gets the log
        logging.getLogger("bertune.train").warning(
            "update %d (epoch %d) skipped: %s (%d in a row, stopping at %d)",
            updates + 1,
            epoch,
            what,
            bad_run,
            max_bad,
        )
    (on_event if master and on_event is not None else (lambda event: None))(
        {
            "event": "skip",
            "epoch": epoch,
            "update": updates + 1,
            "loss": loss,
            "gnorm": gnorm,
            "bad": bad_run,
            "max_bad": max_bad,
        }
    )
    append_row(
        run_dir,
        master,
        {
            "kind": "skip",
            "epoch": epoch,
            "update": updates,
            "loss": str(loss),
            "gnorm": str(gnorm),
            "bad": bad_run,
        },
    )
    if bad_run >= max(max_bad, 1):
        raise TrainingError(
            f"{bad_run} updates in a row had a non-finite loss or gradient (last: {what} at "
            f"update {updates + 1}, epoch {epoch}); training stopped, the last good checkpoint "
            f"{run_dir / LAST} ({_saved_update(run_dir)}) was kept",
            "lower train.lr, set train.clip_norm (e.g. 1.0) or use fp32; re-running the same "
            "command resumes from that checkpoint",
        )


def _saved_update(run_dir: Path) -> str:
    try:
        return f"update {read_meta(run_dir / LAST)['training']['updates']}"
    except (CheckpointError, KeyError):
        return "none saved yet"
