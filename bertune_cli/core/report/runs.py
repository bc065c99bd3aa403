"""Find, load and check the runs a report compares.

Inputs are run directories (``runs/demo/baseline``, ``runs/demo/finetune-gumbel``), a folder
holding them (``runs/demo``: every ``baseline``/``finetune-*`` child), or a recipe name (its
folder under the runs root). A run directory is what ``trainer.train_loop`` writes:
``metrics.jsonl`` (train and valid rows), ``checkpoint_best/bertune.json`` (config, LM, data
fingerprint, for a fine-tune ``finetune.{soft, tau, init_from}``), ``DONE`` and, once the test
split was translated, ``test.hyp.txt``. The data directory (``runs/<recipe>/data``) holds the
test sources and references.

Checks (one line naming the run): no metrics or no validation rows, no checkpoint, two
baselines, other data than the baseline (a different test set), test outputs whose line count
differs from the test set. Different recipe names over the same data only warn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from bertune_cli.core.errors import CheckpointError, DataError, UsageError

METRICS_FILE = "metrics.jsonl"
DONE_FILE = "DONE"
TEST_HYP = "test.hyp.txt"


@dataclass
class Run:
    """One run directory, loaded. ``rows`` are the metrics.jsonl rows, one per (kind, update)."""

    name: str
    path: Path
    kind: str  # baseline | finetune
    recipe: str
    meta: dict[str, Any]  # checkpoint_best/bertune.json
    rows: list[dict[str, Any]]
    done: dict[str, Any] | None
    soft: str | None = None
    tau: float | None = None
    test_hyp: Path | None = None  # None: not translated yet (build.py translates it)

    @property
    def label(self) -> str:
        if self.kind == "baseline":
            return "baseline"
        extra = f" τ {self.tau:g}" if self.soft == "gumbel" and self.tau is not None else ""
        suffix = self.name.removeprefix(f"finetune-{self.soft}") if self.soft else ""
        return f"BERTTune {self.soft}{extra}{suffix.replace('-', ' ')}"

    @property
    def checkpoint(self) -> Path:
        from bertune_cli.core.model.checkpoint import BEST

        return self.path / BEST

    @property
    def config(self) -> dict[str, Any]:
        return self.meta.get("config", {})

    @property
    def fingerprint(self) -> str | None:
        return self.meta.get("data", {}).get("fingerprint")

    def valid_rows(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r.get("kind") == "valid"]

    def train_rows(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r.get("kind") == "train"]


@dataclass
class RunSet:
    """The baseline, the fine-tunes (in input order) and their common test set."""

    baseline: Run
    finetunes: list[Run]
    data_dir: Path
    warnings: list[str] = field(default_factory=list)

    @property
    def runs(self) -> list[Run]:
        return [self.baseline, *self.finetunes]

    @property
    def eval(self) -> dict[str, Any]:
        """The baseline recipe's eval section (decoding and BLEU settings)."""
        from bertune_cli.core.config.recipe import EvalConfig

        raw = self.baseline.config.get("eval", {})
        base = EvalConfig()
        return {k: raw.get(k, getattr(base, k)) for k in base.__dataclass_fields__}


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``metrics.jsonl``; after a resume an update can appear twice: the last row
    per (kind, update) wins. Rows come back ordered by update. A torn last line (a run still
    writing) is skipped; any other unreadable line is a DataError naming the line."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise TypeError("not a JSON object")
        except (ValueError, TypeError) as exc:
            if n == len(lines):
                break
            raise DataError(
                f"{path}:{n} is not a metrics row ({exc.__class__.__name__})",
                "the file is damaged; remove that line",
            ) from exc
        if not isinstance(row.get("kind"), str) or not isinstance(row.get("update"), int):
            continue  # rows of other kinds (future or foreign) are not plotted
        key = (row["kind"], row["update"])
        latest.pop(key, None)  # re-insert: the order of dict keys follows the last writes
        latest[key] = row
    return sorted(latest.values(), key=lambda r: (int(r["update"]), r["kind"] != "train"))


def is_run_dir(path: Path) -> bool:
    from bertune_cli.core.model.checkpoint import BEST, LAST

    return path.is_dir() and any((path / n).exists() for n in (METRICS_FILE, DONE_FILE, BEST, LAST))


def resolve_inputs(items: Sequence[str | Path], runs_root: Path | None = None) -> list[Path]:
    """Run directories named by ``items`` (runs, folders of runs, recipe names), no repeats."""
    return expand_inputs(items, runs_root)[0]


def expand_inputs(
    items: Sequence[str | Path], runs_root: Path | None = None
) -> tuple[list[Path], set[Path]]:
    """(run directories, those found inside a folder rather than named one by one)."""
    from bertune_cli.core.io.paths import runs_root as default_root

    root = Path(runs_root) if runs_root else default_root()
    if not items:
        raise UsageError(
            "no runs given",
            "usage: bertune report RUN [RUN ...] --out DIR "
            "(run directories, runs/<recipe>, or a recipe name)",
        )
    out: list[Path] = []
    discovered: set[Path] = set()
    for item in items:
        path = Path(item)
        if not path.exists() and (root / str(item)).is_dir():
            path = root / str(item)
        if not path.exists():
            raise UsageError(
                f"{item}: no such run directory (nor {root / str(item)})",
                "pass run directories, a runs/<recipe> folder or a recipe name",
            )
        if is_run_dir(path):
            found = [path]
        else:
            found = [
                c
                for c in sorted(path.iterdir())
                if (c.name == "baseline" or c.name.startswith("finetune")) and is_run_dir(c)
            ]
            if not found:
                raise UsageError(
                    f"{path} is neither a run directory nor a folder of runs "
                    "(no baseline/ or finetune-*/ inside)",
                    "pass e.g. runs/demo or runs/demo/finetune-gumbel",
                )
            discovered.update(found)
        out += [p for p in found if p.resolve() not in {q.resolve() for q in out}]
    return out, discovered


def load_run(path: Path) -> Run:
    """One run directory; CheckpointError/DataError naming it when it cannot be reported."""
    from bertune_cli.core.model.checkpoint import read_meta

    path = Path(path)
    metrics = path / METRICS_FILE
    if not metrics.is_file():
        raise CheckpointError(
            f"{path}: no {METRICS_FILE} (not a training run, or not started)",
            "pass run directories written by train-baseline or finetune",
        )
    rows = read_metrics(metrics)
    if not any(r.get("kind") == "valid" for r in rows):
        raise CheckpointError(
            f"{path}: {METRICS_FILE} has no validation rows yet",
            "wait for the run's first validation, or leave the run out",
        )
    try:
        meta = read_meta(path / "checkpoint_best")
    except CheckpointError as exc:
        raise CheckpointError(
            f"{path}: no readable checkpoint_best ({exc.message})",
            "wait for the run's first validation, or leave the run out",
        ) from exc
    stage = str(meta.get("training", {}).get("stage", ""))
    ft = meta.get("finetune") or {}
    kind = "finetune" if ft or stage.startswith("finetune") else "baseline"
    done_file = path / DONE_FILE
    done = json.loads(done_file.read_text(encoding="utf-8")) if done_file.is_file() else None
    hyp = path / TEST_HYP
    return Run(
        name=path.name,
        path=path,
        kind=kind,
        recipe=str(meta.get("config", {}).get("name", "?")),
        meta=meta,
        rows=rows,
        done=done,
        soft=ft.get("soft"),
        tau=ft.get("tau"),
        test_hyp=hyp if hyp.is_file() else None,
    )


def load_runs(paths: Sequence[Path], optional: Sequence[Path] = ()) -> RunSet:
    """The RunSet of ``paths``: exactly one baseline (given, or the checkpoint the fine-tunes
    started from), fine-tunes on the same data, the data directory found. A run in
    ``optional`` (found in a folder, not named) that cannot be reported yet (no validation
    rows or checkpoint: still starting) is left out with a warning instead of an error."""
    runs: list[Run] = []
    warnings: list[str] = []
    for p in paths:
        try:
            runs.append(load_run(p))
        except CheckpointError as exc:
            if p not in optional:
                raise
            warnings.append(f"left out {p}: {exc.message}")
    bases = [r for r in runs if r.kind == "baseline"]
    finetunes = [r for r in runs if r.kind == "finetune"]
    if len(bases) > 1:
        raise UsageError(
            f"more than one baseline run: {', '.join(str(b.path) for b in bases)}",
            "a report compares fine-tunes against one baseline; pass one",
        )
    if not bases:
        if not finetunes:
            raise UsageError("no runs to report")
        base_path = _started_from(finetunes[0])
        bases = [load_run(base_path)]
        warnings.append(
            f"no baseline run given: using {base_path}, where {finetunes[0].path} started from"
        )
    base = bases[0]
    for ft in finetunes:
        start = str(ft.meta.get("finetune", {}).get("init_from", ""))
        if (
            start
            and Path(start).resolve() not in (base.path.resolve(), base.checkpoint.resolve())
            and not _same_tail(Path(start), base)
        ):
            warnings.append(f"{ft.path} started from {start}, not from the baseline {base.path}")
        if ft.fingerprint != base.fingerprint:
            raise DataError(
                f"{ft.path} was trained on other data than the baseline {base.path} "
                f"(data fingerprint {ft.fingerprint} vs {base.fingerprint}): "
                "the test sets do not match",
                "report runs of one recipe's data",
            )
        if ft.recipe != base.recipe:
            warnings.append(
                f"{ft.path} is a run of recipe {ft.recipe!r}, the baseline of "
                f"{base.recipe!r} (same data, so the report is made)"
            )
    return RunSet(base, finetunes, find_data_dir(base), warnings)


def _started_from(ft: Run) -> Path:
    start = ft.meta.get("finetune", {}).get("init_from")
    for cand in ([Path(start)] if start else []) + [ft.path.parent / "baseline"]:
        run = cand.parent if cand.name.startswith("checkpoint_") else cand
        if (run / METRICS_FILE).is_file():
            return run
    raise UsageError(
        f"no baseline run given, and the one {ft.path} started from "
        f"({start}) is not a run directory here",
        "pass the baseline run too",
    )


def _same_tail(start: Path, base: Run) -> bool:
    """init_from is stored as given at training time (often relative to another cwd)."""
    tail = start.parts[-3:] if start.name.startswith("checkpoint_") else start.parts[-2:]
    full = base.checkpoint.parts if start.name.startswith("checkpoint_") else base.path.parts
    return tuple(full[-len(tail) :]) == tuple(tail)


def find_data_dir(base: Run) -> Path:
    """runs/<recipe>/data beside the run, else the path stored in the checkpoint; its
    fingerprint must be the baseline's."""
    from bertune_cli.core.data.store import DataDir

    stored = base.meta.get("data", {}).get("path")
    candidates = [base.path.parent / "data"] + ([Path(stored)] if stored else [])
    for cand in candidates:
        if (cand / "manifest.json").is_file() and DataDir(cand).fingerprint == base.fingerprint:
            return cand
    raise CheckpointError(
        f"cannot find the data directory {base.path} was trained on "
        f"(looked in {', '.join(map(str, candidates))})",
        "keep runs/<recipe>/data beside the runs (bertune prepare writes it)",
    )


def check_outputs(run: Run, lines: int) -> list[str]:
    """The run's test outputs, checked against the test set's line count."""
    hyps = run.test_hyp.read_text(encoding="utf-8").splitlines()
    if len(hyps) != lines:
        raise DataError(
            f"{run.test_hyp} has {len(hyps)} lines but the test set has {lines}: "
            "mismatched test sets",
            "re-translate the test split with this run",
        )
    return hyps
