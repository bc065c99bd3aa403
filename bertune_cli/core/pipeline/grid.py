"""The paper's protocol in one call: every soft mode x every seed, then a Table-1-style summary.

``run_grid(recipe, softs, seeds)`` runs ``pipeline.run_pipeline`` once per (mode, seed) — each
run in its own directory ``finetune-<soft>-seed<k>`` (``finetune-<soft>`` when no seed is
given), so an interrupted grid resumes run by run and finished runs are only reported. All
runs start from the same baseline. The summary scores the test translations of the baseline
and of every run in one pass (one ``core.evaluation.evaluate`` call with the recipe's
settings: BLEU and chrF by sacreBLEU, F_BERT, MoverScore) with the paired bootstrap test of
every run against the baseline, then aggregates each mode over its seeds: mean and sample
standard deviation (n-1; 0 for one seed) of every metric, the mean difference from the
baseline, and the per-run p-values. Written to ``runs/<recipe>/grid.json`` and ``grid.md``.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from pathlib import Path
from typing import Any, Callable, Sequence

from bertune_cli.core.config.recipe import Recipe
from bertune_cli.core.errors import UsageError
from bertune_cli.core.io.outputs import AtomicFile
from bertune_cli.core.io.paths import run_dir, stage_dir

Say = Callable[[str], None]
GRID_JSON, GRID_MD = "grid.json", "grid.md"
GRID_METRICS = ("bleu", "chrf", "bertscore", "moverscore")


def distinct_values(what: str, values: Sequence[Any], example: str) -> None:
    """A list option of a study (``--soft``, ``--seeds``): at least one value, each once
    (UsageError naming the option; ``example`` goes into the hint)."""
    if not values:
        raise UsageError(f"{what} needs at least one value", f"e.g. {what} {example}")
    if len(set(values)) != len(values):
        raise UsageError(
            f"{what} repeats a value: {', '.join(map(str, values))}", "give every value once"
        )


def grid_recipes(recipe: Recipe, softs: Sequence[str], seeds: Sequence[int | None]) -> list[Recipe]:
    """One recipe per (soft, seed), modes outermost; refuses empty or repeated values."""
    distinct_values("--soft", softs, "dense,sparsemax,gumbel")
    distinct_values("--seeds", seeds, "1,2,3")
    return [
        dataclasses.replace(recipe, finetune=dataclasses.replace(recipe.finetune, soft=s, seed=k))
        for s in softs
        for k in seeds
    ]


def run_grid(
    recipe: Recipe,
    softs: Sequence[str],
    seeds: Sequence[int | None],
    *,
    runs_root: Path | None = None,
    say: Say = lambda line: None,
    **pipeline: Any,
) -> dict[str, Any]:
    """Run (or resume, or report) every (soft, seed) fine-tuning of ``recipe`` and summarize.

    ``pipeline``: keyword arguments of ``run_pipeline`` (init_from, device, raw_data_dir,
    on_event, lms, limits). Returns ``{"runs": [run_pipeline results], "summary": ...}``.
    Every run uses one LM cache (``pipeline["lms"]``, else a new one): the LMs load once.
    """
    from bertune_cli.core.loops.services import LMCache
    from bertune_cli.core.pipeline.run import run_pipeline

    pipeline["lms"] = pipeline.get("lms") or LMCache()
    recipes = grid_recipes(recipe, softs, seeds)
    results = []
    for i, r in enumerate(recipes, 1):
        say(
            f"grid run {i}/{len(recipes)}: soft {r.finetune.soft}, seed "
            f"{'recipe default' if r.finetune.seed is None else r.finetune.seed}"
        )
        results.append(run_pipeline(r, runs_root=runs_root, say=say, **pipeline))
    if not all(res.get("report") for res in results):  # torchrun: only rank 0 has reports
        return {"runs": results, "summary": {}}
    say("scoring every run's test translations against the baseline (paired bootstrap)")
    summary = summarize(recipe, recipes, results, runs_root, pipeline.get("device", "auto"))
    return {"runs": results, "summary": summary}


def summarize(
    recipe: Recipe,
    recipes: list[Recipe],
    results: list[dict[str, Any]],
    runs_root: Path | None,
    device: str = "auto",
) -> dict[str, Any]:
    """Score baseline + runs in one paired test; aggregate per mode; write grid.json/.md."""
    from bertune_cli.core.evaluation import evaluate, recipe_settings
    from bertune_cli.core.metrics.inputs import read_parallel

    data_dir = stage_dir(recipe.name, "data", runs_root)
    base_hyp = Path(results[0]["report"]["outputs"]["baseline"])
    hyps = [Path(res["report"]["outputs"]["finetuned"]) for res in results]
    texts = read_parallel(
        [
            ("reference", data_dir / "test.tgt.txt"),
            ("baseline", base_hyp),
            *(("system", h) for h in hyps),
        ]
    )
    ev = evaluate(
        GRID_METRICS,
        texts[:1],
        texts[1:],
        names=[str(base_hyp), *map(str, hyps)],
        settings=recipe_settings(recipe, device),
        test="bs",
    )
    report = ev.significance
    names = report.metrics
    base = {m: report.results[0][m].score for m in names}
    runs, modes = [], {}
    for r, res, scores in zip(recipes, results, report.results[1:]):
        ft = res.get("finetune", {})
        row = {
            "soft": r.finetune.soft,
            "seed": r.finetune.seed,
            "run_dir": str(stage_dir(recipe.name, _stage(r), runs_root)),
            "updates": ft.get("updates"),
            "reason": ft.get("reason"),
            "scores": {m: scores[m].score for m in names},
            "p_values": {m: scores[m].p_value for m in names},
        }
        runs.append(row)
        modes.setdefault(r.finetune.soft, []).append(row)
    table = {soft: _aggregate(rows, names, base) for soft, rows in modes.items()}
    summary = {
        "recipe": recipe.name,
        "test_set": str(data_dir / "test.tgt.txt"),
        "sentences": _count_lines(data_dir / "test.tgt.txt"),
        "baseline": {"hyp": str(base_hyp), "scores": base},
        "metrics": names,
        "modes": table,
        "runs": runs,
        "test": {"name": "paired bootstrap", "n_samples": report.n_samples, "seed": report.seed},
        "signatures": dict(report.signatures),
    }
    out = run_dir(recipe.name, runs_root)
    _write(out / GRID_JSON, json.dumps(summary, indent=1))
    _write(out / GRID_MD, render_markdown(summary))
    summary["files"] = {"json": str(out / GRID_JSON), "markdown": str(out / GRID_MD)}
    return summary


def _aggregate(rows: list[dict[str, Any]], names: list[str], base: dict[str, float]):
    agg: dict[str, Any] = {"seeds": [r["seed"] for r in rows], "n": len(rows)}
    for m in names:
        values = [r["scores"][m] for r in rows]
        mean = statistics.fmean(values)
        agg[m] = {
            "mean": mean,
            "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "delta": mean - base[m],
            "p_values": [r["p_values"][m] for r in rows],
        }
    return agg


def render_markdown(summary: dict[str, Any], alpha: float = 0.05) -> str:
    """The Table-1-style summary: mean ± sd over seeds, Δ to the baseline, per-run p-values."""
    names = summary["metrics"]
    head = "| system | runs | " + " | ".join(f"{m} (mean ± sd) | Δ | p per run" for m in names)
    lines = [
        f"Test set: {summary['test_set']} ({summary['sentences']} sentences); "
        f"{summary['test']['name']}, {summary['test']['n_samples']} samples, seed "
        f"{summary['test']['seed']}; * p < {alpha}.",
        "",
        head + " |",
        "|" + "---|" * (2 + 3 * len(names)),
    ]
    base = summary["baseline"]["scores"]
    lines.append("| baseline | 1 | " + " | ".join(f"{base[m]:.2f} | | " for m in names) + " |")
    for soft, agg in summary["modes"].items():
        cells = []
        for m in names:
            a = agg[m]
            ps = ", ".join(f"{p:.3f}{'*' if p < alpha else ''}" for p in a["p_values"])
            cells.append(f"{a['mean']:.2f} ± {a['sd']:.2f} | {a['delta']:+.2f} | {ps}")
        lines.append(f"| {soft} | {agg['n']} | " + " | ".join(cells) + " |")
    lines += [""] + [f"- {m}: `{sig}`" for m, sig in summary["signatures"].items()]
    return "\n".join(lines) + "\n"


def _stage(recipe: Recipe) -> str:
    from bertune_cli.core.loops.services import stage_name

    return stage_name(recipe)


def _count_lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _write(path: Path, text: str) -> None:
    """Through ``AtomicFile`` (a per-process temporary name: grids may run side by side)."""
    with AtomicFile(path, f"{path.name} of the grid") as f:
        f.write(text)
