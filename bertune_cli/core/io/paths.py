"""Where bertune keeps things: the data home (downloads, caches) and run directories.

A run directory ``runs/<recipe>/`` holds one folder per stage: ``data`` (written by prepare),
``baseline`` (train-baseline) and ``finetune-<soft>`` (finetune). Stages read only the
artifacts of earlier stages, never each other's internals.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    """Cache for downloads: ``$BERTUNE_HOME`` or ``~/.cache/bertune``."""
    return Path(os.environ.get("BERTUNE_HOME") or Path.home() / ".cache" / "bertune")


def runs_root() -> Path:
    """Root of run directories: ``$BERTUNE_RUNS`` or ``./runs``."""
    return Path(os.environ.get("BERTUNE_RUNS") or "runs")


def run_dir(recipe_name: str, root: Path | None = None) -> Path:
    return (root or runs_root()) / recipe_name


def stage_dir(recipe_name: str, stage: str, root: Path | None = None) -> Path:
    """``stage`` is ``data``, ``baseline`` or ``finetune-<soft>``."""
    return run_dir(recipe_name, root) / stage
