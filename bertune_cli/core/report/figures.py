"""The report's PNGs (matplotlib, Agg backend through ``matplotlib.figure.Figure``, no pyplot
state). Each function draws data computed elsewhere and writes one file; none recomputes a
metric. Colours are fixed per run (the baseline grey, fine-tunes in tab10 order), so a run
has the same colour in every figure. ``DPI`` is modest so a report stays small.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

DPI = 90
BASE_COLOR = "#555555"
AXIS = {
    "bleu": "BLEU",
    "chrf": "chrF",
    "bertscore": "F_BERT (×100)",
    "moverscore": "MoverScore (×100)",
}


def _figure(ncols: int, width: float = 4.4, height: float = 3.5):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(width * ncols, 5.5), height), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return fig, axes


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    return path


def colors(n: int) -> list[str]:
    """Colours of ``n`` fine-tunes (tab10 without its grey)."""
    palette = [
        "#1f77b4",
        "#ff7f0e",
        "#2ca02c",
        "#d62728",
        "#9467bd",
        "#8c564b",
        "#e377c2",
        "#bcbd22",
        "#17becf",
    ]
    return [palette[i % len(palette)] for i in range(n)]


def learning_curves(curves, path: Path) -> Path:
    """Validation metrics against fine-tuning updates (paper Fig. 2): one panel per metric,
    step 0 = the baseline's score, epoch ends dashed in the run's colour."""
    metrics = curves.metrics or ["bleu"]
    fig, axes = _figure(len(metrics))
    runs = curves.finetunes or [curves.baseline]
    xlabel = "fine-tuning updates" if curves.finetunes else "training updates"
    for ax, m in zip(axes, metrics):
        for run, color in zip(runs, colors(len(runs)) if curves.finetunes else [BASE_COLOR]):
            s = run.valid.get(m)
            if s is None:
                continue
            ax.plot(s.x, s.y, marker="o", ms=4, color=color, label=run.label)
            for x in run.epoch_ends:
                ax.axvline(x, color=color, ls="--", lw=0.9, alpha=0.6)
        if m in curves.start and curves.finetunes:
            ax.axhline(
                curves.start[m],
                color=BASE_COLOR,
                ls=":",
                lw=1.2,
                label=f"baseline (step 0): {curves.start[m]:.2f}",
            )
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"validation {AXIS.get(m, m)}")
        ax.set_title(f"Validation {AXIS.get(m, m).split(' ')[0]}")
        ax.legend(fontsize=8, loc="best")
    fig.suptitle("Learning curves (dashed: epoch ends)", fontsize=11)
    return _save(fig, path)


def training_loss(curves, path: Path) -> Path:
    """Training loss of the baseline (with its validation loss) and of every fine-tune."""
    fts = [r for r in curves.finetunes if r.train_loss.x]
    fig, axes = _figure(2 if fts else 1)
    base = curves.baseline
    ax = axes[0]
    ax.plot(base.train_loss.x, base.train_loss.y, color=BASE_COLOR, label="train")
    if base.valid_loss.x:
        ax.plot(
            base.valid_loss.x,
            base.valid_loss.y,
            color="black",
            marker="o",
            ms=3,
            ls="none",
            label="validation",
        )
    for x in base.epoch_ends:
        ax.axvline(x, color=BASE_COLOR, ls="--", lw=0.8, alpha=0.5)
    ax.set_xlabel("training updates")
    ax.set_ylabel(base.loss_name)
    ax.set_title("Baseline")
    ax.legend(fontsize=8)
    if fts:
        ax = axes[1]
        for run, color in zip(curves.finetunes, colors(len(curves.finetunes))):
            if run.train_loss.x:
                ax.plot(run.train_loss.x, run.train_loss.y, color=color, label=run.label)
                for x in run.epoch_ends:
                    ax.axvline(x, color=color, ls="--", lw=0.8, alpha=0.5)
        ax.set_xlabel("fine-tuning updates")
        ax.set_ylabel(fts[0].loss_name)
        ax.set_title("Fine-tuning")
        ax.legend(fontsize=8)
    fig.suptitle("Training loss (dashed: epoch ends)", fontsize=11)
    return _save(fig, path)


def entropy(sparsity, path: Path) -> Path:
    """Distribution of per-position entropies, one panel per soft mode, one line per model.
    The panels share their bins (so dense ≫ sparsemax ≈ Gumbel reads across) and a log
    y-axis (the sparse modes put almost every position at 0)."""
    titles = {
        "dense": "dense = decoder softmax",
        "sparsemax": "sparsemax",
        "gumbel": f"Gumbel-softmax τ {sparsity.tau:g}",
    }
    fig, axes = _figure(len(sparsity.modes), width=4.0)
    tints = [BASE_COLOR, *colors(len(sparsity.models) - 1)]
    top = max(
        (
            float(m.entropy[mode].max())
            for m in sparsity.models
            for mode in sparsity.modes
            if len(m.entropy[mode])
        ),
        default=1.0,
    )
    bins = np.linspace(0.0, max(top, 1e-3) * 1.02, 41)
    # one position of the largest set, a little below: every non-empty bin is visible
    floor = 0.5 * 100.0 / max((m.positions for m in sparsity.models), default=1)
    for ax, mode in zip(axes, sparsity.modes):
        for model, color in zip(sparsity.models, tints):
            v = model.entropy[mode]
            if not len(v):
                continue
            ax.hist(
                v,
                bins=bins,
                weights=np.full(len(v), 100.0 / len(v)),
                histtype="step",
                lw=1.6,
                color=color,
                label=f"{model.label} (mean {v.mean():.3f})",
            )
        ax.set_yscale("log")
        ax.set_ylim(floor, 200.0)
        ax.set_xlabel("entropy of the probability vector (nats)")
        ax.set_ylabel("% of target positions (log scale)")
        ax.set_title(titles.get(mode, mode))
        ax.legend(fontsize=7, loc="upper right")
    n = sparsity.models[0]
    fig.suptitle(
        f"Sparsity of predictions: {sparsity.split} set, {n.sentences} sentences, "
        f"{n.positions} positions, V = {sparsity.vocab_size} (teacher forcing)",
        fontsize=11,
    )
    return _save(fig, path)


def fbert_scatter(comparisons: Sequence, path: Path) -> Path:
    """Per-sentence F_BERT, baseline (x) against each fine-tune (y); above the diagonal =
    the fine-tune is better on that sentence."""
    fig, axes = _figure(len(comparisons), width=3.9, height=3.8)
    for ax, comp, color in zip(axes, comparisons, colors(len(comparisons))):
        x, y = comp.scatter
        lo = float(min(x.min(), y.min())) if len(x) else 0.0
        lo = lo - 0.03 * (100.0 - lo)
        ax.plot([lo, 100], [lo, 100], color=BASE_COLOR, lw=0.8, ls="--")
        ax.set_xlim(lo, 100.0 + 0.03 * (100.0 - lo))
        ax.set_ylim(lo, 100.0 + 0.03 * (100.0 - lo))
        ax.scatter(x, y, s=9, alpha=0.45, color=color, edgecolors="none")
        ch = comp.fbert_changes
        ax.set_title(
            f"{comp.label}\nbetter {ch['higher']}, worse {ch['lower']}, equal {ch['equal']}",
            fontsize=9,
        )
        ax.set_xlabel("baseline sentence F_BERT (×100)")
        ax.set_ylabel("fine-tuned sentence F_BERT (×100)")
        ax.set_aspect("equal", adjustable="box")
    fig.suptitle("Sentence F_BERT on the test set", fontsize=11)
    return _save(fig, path)


def length_buckets(comparisons: Sequence, path: Path) -> Path:
    """Change of BLEU and F_BERT against the baseline by source-length bucket (one bar per
    fine-tune); the tick labels give the bucket size and the baseline's score."""
    fig, axes = _figure(2, width=5.0)
    buckets = comparisons[0].buckets
    width = 0.8 / len(comparisons)
    xs = np.arange(len(buckets))
    for ax, key, name in zip(axes, ("bleu", "fbert"), ("BLEU", "F_BERT (×100)")):
        for k, (comp, color) in enumerate(zip(comparisons, colors(len(comparisons)))):
            ax.bar(
                xs + (k - (len(comparisons) - 1) / 2) * width,
                [getattr(b, key)[1] - getattr(b, key)[0] for b in comp.buckets],
                width,
                color=color,
                label=comp.label,
            )
        ax.axhline(0.0, color=BASE_COLOR, lw=0.8)
        ax.set_xticks(
            xs,
            [f"{b.label}\nn={b.sentences}\nbase {getattr(b, key)[0]:.1f}" for b in buckets],
            fontsize=7,
        )
        ax.set_xlabel("source length (words)")
        ax.set_ylabel(f"Δ {name} vs baseline")
        ax.set_title(f"{name.split(' ')[0]} by source length")
        ax.legend(fontsize=7, loc="best")
    fig.suptitle("Test set: change against the baseline by source length", fontsize=11)
    return _save(fig, path)
