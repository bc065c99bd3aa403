"""Learning curves (paper Fig. 2) and training-loss curves from ``metrics.jsonl`` rows.

Validation curves of a fine-tune are plotted against fine-tuning updates with step 0 = the
starting model's score (the baseline's ``checkpoint_best`` on the same validation set);
epoch ends are where an epoch's last validation row sits (the loop validates at every epoch
end), except an epoch the run left unfinished (stopped by max_steps / max_time / Ctrl-C).
Rows are already deduplicated by ``runs.read_metrics`` (the last row per update wins).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bertune_cli.core.report.runs import Run, RunSet

# Validation metrics a run can log, in display order, with their axis labels.
VALID_METRICS = {"bleu": "BLEU", "chrf": "chrF", "bertscore": "F_BERT", "moverscore": "MoverScore"}
UNFINISHED = ("max_steps", "max_time", "interrupted")


@dataclass
class Series:
    x: list[int]
    y: list[float]


@dataclass
class RunCurves:
    """One run's curves: training loss, validation loss and metrics, epoch ends."""

    name: str
    label: str
    kind: str
    train_loss: Series
    valid_loss: Series
    valid: dict[str, Series]
    epoch_ends: list[int]
    best_update: int | None
    loss_name: str


@dataclass
class Curves:
    runs: list[RunCurves]
    metrics: list[str]  # keys of VALID_METRICS logged by the fine-tunes
    start: dict[str, float] = field(default_factory=dict)  # step-0 scores (the baseline)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def baseline(self) -> RunCurves:
        return self.runs[0]

    @property
    def finetunes(self) -> list[RunCurves]:
        return self.runs[1:]


def learning_curves(runs: RunSet, start: dict[str, float] | None = None) -> Curves:
    """Curves of every run; ``start``: the baseline's validation scores per metric (step 0 of
    every fine-tune curve; BLEU defaults to the baseline's best logged validation BLEU)."""
    start = dict(start or {})
    best = _best_row(runs.baseline)
    for m in VALID_METRICS:
        if m not in start and best is not None and isinstance(best.get(m), (int, float)):
            start[m] = float(best[m])
    out = [_run_curves(r, start if r.kind == "finetune" else {}) for r in runs.runs]
    logged = {m for c in out[1:] for m in c.valid} or set(out[0].valid)
    return Curves(out, [m for m in VALID_METRICS if m in logged], start)


def _run_curves(run: Run, start: dict[str, float]) -> RunCurves:
    train, valid = run.train_rows(), run.valid_rows()
    metrics: dict[str, Series] = {}
    for m in VALID_METRICS:
        pts = [(int(r["update"]), float(r[m])) for r in valid if isinstance(r.get(m), (int, float))]
        if not pts:
            continue
        if m in start and pts[0][0] > 0:
            pts.insert(0, (0, start[m]))
        metrics[m] = Series([p[0] for p in pts], [p[1] for p in pts])
    ends: dict[int, int] = {}
    for r in valid:
        ends[int(r.get("epoch", 0))] = max(ends.get(int(r.get("epoch", 0)), 0), int(r["update"]))
    if run.done is None or run.done.get("reason") in UNFINISHED:
        ends.pop(max(ends), None)  # the last epoch may be unfinished
    best = _best_row(run)
    loss_name = (
        "fine-tuning loss (−F_BERT per sentence)"
        if run.kind == "finetune"
        else "label-smoothed CE (nats/token)"
    )
    return RunCurves(
        name=run.name,
        label=run.label,
        kind=run.kind,
        train_loss=Series([int(r["update"]) for r in train], [float(r["loss"]) for r in train]),
        valid_loss=Series(
            [int(r["update"]) for r in valid if "valid_loss" in r],
            [float(r["valid_loss"]) for r in valid if "valid_loss" in r],
        ),
        valid=metrics,
        epoch_ends=sorted(ends.values()),
        best_update=None if best is None else int(best["update"]),
        loss_name=loss_name,
    )


def _best_row(run: Run) -> dict[str, Any] | None:
    """The validation row of checkpoint_best: the last row flagged ``is_best``."""
    best = [r for r in run.valid_rows() if r.get("is_best")]
    return best[-1] if best else None
