"""``ablate.md`` and ``ablate_curves.png``: the study's table and its validation curves.

Both draw the summary ``ablate.summarize`` computed (and the runs' ``metrics.jsonl``); nothing
is scored here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ALPHA = 0.05


def render_markdown(summary: dict[str, Any]) -> str:
    """One row per arm: mean ± sd over seeds, Δ to the control with raw and Holm-corrected
    p (``*`` where the corrected p < 0.05), the output entropy; then the runs."""
    names = summary["metrics"]
    t = summary["test"]
    lines = [
        f"# Ablation of {summary['recipe']}: every arm against the control `{summary['control']}`",
        "",
        f"Start: `{summary['start']['checkpoint']}`. Test set: {summary['test_set']} "
        f"({summary['sentences']} sentences). {t['name']}, {t['n_samples']} samples, seed "
        f"{t['seed']}; p (raw) / p_Holm over {t['family']} tests (arms × metrics); "
        f"* p_Holm < {ALPHA}. Entropy: {summary['entropy']}. Selection on validation by "
        f"{summary['selection']}.",
        "",
    ]
    head = "| arm | seeds | " + " | ".join(names) + " | entropy |"
    lines += [head, "|" + "---|" * (len(names) + 3)]
    start = summary["start"]
    lines.append(
        "| start | – | "
        + " | ".join(f"{start['metrics'][m]:.2f}" for m in names)
        + f" | {start['entropy']:.3f} |"
    )
    for row in summary["arms"]:
        if not row.get("seeds"):
            lines.append(
                f"| {row['arm']} | none finished | " + " | ".join("–" for _ in names) + " | – |"
            )
            continue
        cells = []
        for m in names:
            cell = f"{row['metrics'][m]:.2f} ± {row['sd'][m]:.2f}"
            test = row.get("vs_control", {}).get(m)
            if test is not None:
                star = "*" if test["p_holm"] < ALPHA else ""
                cell += f" ({test['delta']:+.2f}; p {test['p']:.3f} / {test['p_holm']:.3f}{star})"
            cells.append(cell)
        ent = row["entropy"]
        label = row["arm"] + (" (control)" if row["arm"] == summary["control"] else "")
        lines.append(
            f"| {label} | {','.join(map(str, row['seeds']))} | "
            + " | ".join(cells)
            + f" | {ent['mean']:.3f} ± {ent['sd']:.3f} |"
        )
    lines += ["", "Runs:", ""]
    for row in summary["arms"]:
        for run in row.get("runs", []):
            lines.append(
                f"- {row['arm']} seed {run['seed']}: {run['updates']} updates "
                f"({run['reason']}), best at update {run['best_update']}; "
                f"`{run['run_dir']}`"
            )
    for fail in summary.get("failed", []):
        lines.append(f"- FAILED {fail['arm']} seed {fail['seed']}: {fail['error']}")
    lines += ["", "Arms:", ""] + [f"- `{r['arm']}`: {r['help']}" for r in summary["arms"]]
    lines += ["", "Signatures:", ""] + [f"- {m}: `{s}`" for m, s in summary["signatures"].items()]
    return "\n".join(lines) + "\n"


def valid_curves(summary: dict[str, Any]) -> dict[str, list[tuple[int, list[dict]]]]:
    """{arm: [(seed, validation rows of metrics.jsonl)]} of every finished run."""
    out: dict[str, list[tuple[int, list[dict]]]] = {}
    for row in summary["arms"]:
        for run in row.get("runs", []):
            path = Path(run["run_dir"]) / "metrics.jsonl"
            rows = [
                json.loads(line)
                for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()
            ]
            out.setdefault(row["arm"], []).append(
                (run["seed"], [r for r in rows if r.get("kind") == "valid"])
            )
    return out


def render_curves(summary: dict[str, Any], path: Path) -> Path | None:
    """Validation F_BERT and BLEU against updates: one thin line per run, the mean over seeds
    of each arm thick. None (and nothing written) without matplotlib (the ``report`` extra)."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bertune_cli.core.io.outputs import AtomicFile

    curves = valid_curves(summary)
    panels = [("bertscore", "validation F_BERT"), ("bleu", "validation BLEU")]
    fig, axes = plt.subplots(1, len(panels), figsize=(12, 4.6))
    colours = plt.get_cmap("tab10")
    for ax, (key, title) in zip(axes, panels):
        for k, (arm, runs) in enumerate(curves.items()):
            colour = colours(k % 10)
            per_update: dict[int, list[float]] = {}
            for _, rows in runs:
                pts = [(r["update"], r[key]) for r in rows if key in r]
                for u, v in pts:
                    per_update.setdefault(u, []).append(v)
                if len(runs) > 1 and pts:
                    ax.plot(*zip(*pts), color=colour, alpha=0.35, linewidth=0.8)
            xs = sorted(per_update)
            ax.plot(
                xs,
                [sum(per_update[u]) / len(per_update[u]) for u in xs],
                color=colour,
                linewidth=2,
                label=f"{arm} ({len(runs)} seed{'s' * (len(runs) > 1)})",
            )
        ax.set_xlabel("update")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle(
        f"{summary['recipe']}: arms from {Path(summary['start']['checkpoint']).parent.name}"
        f" (thin: one seed, thick: mean over seeds)",
        fontsize=10,
    )
    fig.tight_layout()
    with AtomicFile(path, "the study's curves", mode="wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
    return path
