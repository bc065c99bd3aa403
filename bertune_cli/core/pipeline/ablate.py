"""``bertune ablate``: named arms from one starting checkpoint, each tested against a control.

``run_ablate(recipe, arms, seeds)`` runs every arm × seed (core/pipeline/arms.py) as an ordinary
fine-tuning run directory ``<study>/<arm>-seed<k>`` (default study folder:
``runs/<recipe>/ablate``): resumable, locked, tracked like ``finetune``; finished runs are only
reported, and a run that fails leaves the others intact (the failure is listed). All arms share
the start, the data order (seeded by the run seed), the update budget, the validation schedule,
the selection rule (``finetune.select_metric``) and the seeds.

The summary (``summarize``) scores the test translations of every run and of the start —
BLEU and chrF (sacreBLEU), F_BERT with the training LM and layer, MoverScore (``eval.ms_lm``) —
and tests each arm against the control with a paired bootstrap on the test sentences that is
seed-paired: one resample of sentence indices is applied to every seed of both arms, and the
statistic is the difference of the seed-averaged corpus scores (with one seed each this is
exactly sacreBLEU's paired bootstrap; ``seed_paired_bootstrap``). Seeds that both arms have are
used; when they share none, each arm's own seeds are averaged. p-values are Holm-corrected over
arms × metrics. The mean entropy of each model's output distribution on the validation set
(teacher forced, nats per target token) sits beside the scores: an arm that only made the model
more confident shows up there (Choshen et al., ICLR 2020). Written to ``ablate.json``,
``ablate.md`` and ``ablate_curves.png`` (validation curves of every run) in the study folder.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from bertune_cli.core.config.recipe import Recipe
from bertune_cli.core.errors import BertuneError, UsageError
from bertune_cli.core.io.outputs import AtomicFile
from bertune_cli.core.io.paths import run_dir, stage_dir
from bertune_cli.core.pipeline.arms import ARMS, arm_loop, arm_recipe, run_name
from bertune_cli.core.pipeline.grid import distinct_values

Say = Callable[[str], None]
ABLATE_JSON, ABLATE_MD, ABLATE_PNG = "ablate.json", "ablate.md", "ablate_curves.png"
ENTROPY_FILE = "valid_entropy.json"
ABLATE_METRICS = ("bleu", "chrf", "bertscore", "moverscore")
N_SAMPLES, SEED = 1000, 12345


def study_dir(recipe: Recipe, runs_root: Path | None, out: Path | None) -> Path:
    return Path(out) if out is not None else run_dir(recipe.name, runs_root) / "ablate"


def run_ablate(
    recipe: Recipe,
    arms: Sequence[str],
    seeds: Sequence[int],
    *,
    control: str = "ce",
    runs_root: Path | None = None,
    out: Path | None = None,
    init_from: Path | None = None,
    device: str = "auto",
    raw_data_dir: Path | None = None,
    say: Say = lambda line: None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    report_only: bool = False,
    **limits: Any,
) -> dict[str, Any]:
    """Run (or resume, or report) every arm × seed, then summarize. ``limits``: max_epochs /
    max_steps / max_time of each run. ``report_only``: train nothing, summarize the runs that
    are finished (a study in progress, or arms run with different seeds). Returns the summary
    (``ablate.json``'s content)."""
    from bertune_cli.core.lm.model import resolve_device
    from bertune_cli.core.loops.finetune import finetune
    from bertune_cli.core.loops.services import LMCache, init_checkpoint
    from bertune_cli.core.pipeline.preflight import check_runnable
    from bertune_cli.core.pipeline.run import check_start, ensure_baseline, ensure_data

    if control not in arms:
        raise UsageError(f"the control arm {control!r} is not among the arms")
    distinct_values("--seeds", seeds, "1,2")
    data_dir = stage_dir(recipe.name, "data", runs_root)
    base_dir = stage_dir(recipe.name, "baseline", runs_root)
    study = study_dir(recipe, runs_root, out)
    device = resolve_device(device)
    if report_only:
        if not (data_dir / "manifest.json").is_file():
            raise BertuneError(
                f"--report-only: no prepared data in {data_dir}",
                "run the study first (the same command without --report-only)",
            )
        start = init_checkpoint(recipe, runs_root, init_from)
        return summarize(
            recipe,
            arms,
            seeds,
            control=control,
            study=study,
            start=start,
            data_dir=data_dir,
            device=device,
        )
    check_runnable(recipe, "finetune", raw_data_dir, runs_root)
    check_start(recipe, runs_root, init_from, base_dir)
    ensure_data(recipe, data_dir, base_dir if init_from is None else None, say, raw_data_dir)
    if init_from is None:
        ensure_baseline(recipe, data_dir, base_dir, device, say, on_event)
    start = init_checkpoint(recipe, runs_root, init_from)
    lms = LMCache()  # every run and the summary share the loaded LMs
    failed: list[dict[str, Any]] = []
    total = len(arms) * len(seeds)
    for i, (arm, seed) in enumerate(((a, s) for a in arms for s in seeds), 1):
        folder = study / run_name(arm, seed)
        say(f"ablate run {i}/{total}: arm {arm}, seed {seed} -> {folder}")
        try:
            overrides, optimizer = arm_loop(recipe, ARMS[arm], start)
            finetune(
                arm_recipe(recipe, ARMS[arm], seed),
                data_dir,
                folder,
                init_from=start,
                runs_root=runs_root,
                device=device,
                on_event=on_event,
                arm=arm,
                start_optimizer=optimizer,
                lms=lms,
                **limits,
                **overrides,
            )
        except BertuneError as exc:  # one failed arm leaves the others to run and report
            say(f"ablate: arm {arm} seed {seed} failed: {exc}")
            failed.append({"arm": arm, "seed": seed, "run_dir": str(folder), "error": str(exc)})
    say(
        "ablate: scoring every run's test translations and testing each arm against "
        f"the control {control!r}"
    )
    return summarize(
        recipe,
        arms,
        seeds,
        control=control,
        study=study,
        start=start,
        data_dir=data_dir,
        device=device,
        failed=failed,
        lms=lms,
    )


# ----------------------------------------------------------------------------- summary


def summarize(
    recipe: Recipe,
    arms: Sequence[str],
    seeds: Sequence[int],
    *,
    control: str,
    study: Path,
    start: Path,
    data_dir: Path,
    device: str = "cpu",
    failed: Sequence[dict[str, Any]] = (),
    n_samples: int = N_SAMPLES,
    seed: int = SEED,
    lms=None,
) -> dict[str, Any]:
    """Score, test (seed-paired bootstrap, Holm) and write ablate.json / .md / .png."""
    from bertune_cli.core.data.store import DataDir
    from bertune_cli.core.evaluation.pvalues import holm
    from bertune_cli.core.evaluation.significance import seed_paired_bootstrap
    from bertune_cli.core.loops.trainer import is_complete

    data = DataDir(data_dir)
    test = data.split("test")
    runs = {a: [s for s in seeds if _finished(study / run_name(a, s), is_complete)] for a in arms}
    if not runs.get(control):
        raise BertuneError(
            f"no finished run of the control arm {control!r} in {study}",
            "re-run the same command; the failures are listed above",
        )
    start_hyps = _start_hyps(start, study, test, recipe, device)
    systems = {("start", None): start_hyps}
    for a, ss in runs.items():
        for s in ss:
            systems[(a, s)] = _lines(study / run_name(a, s) / "test.hyp.txt")
    metrics, stats, signatures = _statistics(recipe, test.tgt_text, systems, device, lms)
    scores = {
        key: {m.name: m.corpus_score(stats[key][j]) for j, m in enumerate(metrics)}
        for key in systems
    }
    entropy = {
        key: _entropy(study / run_name(*key) if key[0] != "start" else start, data, device)
        for key in systems
    }
    rows = []
    for a in arms:
        ss = runs[a]
        row: dict[str, Any] = {
            "arm": a,
            "seeds": ss,
            "help": ARMS[a].help,
            "runs": [_run_info(study / run_name(a, s), s) for s in ss],
        }
        if ss:
            row["metrics"] = {
                m.name: statistics.fmean(scores[(a, s)][m.name] for s in ss) for m in metrics
            }
            row["sd"] = {m.name: _sd([scores[(a, s)][m.name] for s in ss]) for m in metrics}
            row["entropy"] = {
                "mean": statistics.fmean(entropy[(a, s)] for s in ss),
                "sd": _sd([entropy[(a, s)] for s in ss]),
            }
        if a != control and ss:
            paired = sorted(set(ss) & set(runs[control]))
            mine, theirs = (paired, paired) if paired else (ss, runs[control])
            row["vs_control"] = {}
            for j, m in enumerate(metrics):
                delta, p = seed_paired_bootstrap(
                    m,
                    [stats[(a, s)][j] for s in mine],
                    [stats[(control, s)][j] for s in theirs],
                    n_samples,
                    seed,
                )
                row["vs_control"][m.name] = {
                    "delta": delta,
                    "p": p,
                    "seeds": mine if paired else None,
                }
        rows.append(row)
    tests = [(r["arm"], m) for r in rows for m in r.get("vs_control", {})]
    adjusted = holm(
        [next(r for r in rows if r["arm"] == a)["vs_control"][m]["p"] for a, m in tests]
    )
    for (a, m), p_adj in zip(tests, adjusted):
        next(r for r in rows if r["arm"] == a)["vs_control"][m]["p_holm"] = p_adj
    summary = {
        "recipe": recipe.name,
        "study": str(study),
        "control": control,
        "start": {
            "checkpoint": str(start),
            "metrics": scores[("start", None)],
            "entropy": entropy[("start", None)],
        },
        "test_set": str(Path(data_dir) / "test.tgt.txt"),
        "sentences": len(test.tgt_text),
        "metrics": [m.name for m in metrics],
        "arms": rows,
        "failed": list(failed),
        "test": {
            "name": "paired bootstrap, seed-paired",
            "n_samples": n_samples,
            "seed": seed,
            "correction": "holm",
            "family": len(tests),
        },
        "selection": recipe.finetune.select_metric,
        "entropy": "mean entropy (nats) of the output distribution per target token, "
        "validation set, teacher forced, checkpoint_best",
        "signatures": signatures,
    }
    _write(study / ABLATE_JSON, json.dumps(summary, indent=1))
    from bertune_cli.core.pipeline.ablate_report import render_curves, render_markdown

    _write(study / ABLATE_MD, render_markdown(summary))
    summary["files"] = {"json": str(study / ABLATE_JSON), "markdown": str(study / ABLATE_MD)}
    png = render_curves(summary, study / ABLATE_PNG)
    if png is not None:
        summary["files"]["curves"] = str(png)
    return summary


def _statistics(recipe: Recipe, refs: list[str], systems: dict, device: str, lms=None):
    """(metrics, {system: [stats per metric]}, signatures): one ``evaluate`` call with the
    recipe's evaluation settings over every system's test output (the LMs of ``lms``, an
    ``LMCache``: those the fine-tuning runs loaded)."""
    from bertune_cli.core.evaluation import evaluate, recipe_settings
    from bertune_cli.core.loops.services import LMCache

    settings = recipe_settings(recipe, device)
    cache = (lms if lms is not None else LMCache()).eval_cache(recipe, settings)
    keys = list(systems)
    ev = evaluate(
        ABLATE_METRICS,
        [refs],
        [systems[k] for k in keys],
        names=[f"{a}-seed{s}" if s is not None else a for a, s in keys],
        settings=settings,
        cache=cache,
    )
    stats = {k: ev.stats(i) for i, k in enumerate(keys)}
    signatures = {m.name: m.test_signature("bs", N_SAMPLES, SEED) + "|count:ge" for m in ev.metrics}
    return ev.metrics, stats, signatures


def _entropy(where: Path, data, device: str) -> float:
    """Mean entropy (nats) of the decoder's output distribution per target token on the
    validation set, with the run's checkpoint_best (cached in the run folder)."""
    from bertune_cli.core.model.checkpoint import resolve_checkpoint
    from bertune_cli.core.report.sparsity import model_sparsity

    checkpoint = resolve_checkpoint(where)
    cache = Path(where) / ENTROPY_FILE if (Path(where) / "DONE").is_file() else None
    meta_key = str((checkpoint / "model.safetensors").stat().st_mtime_ns)
    if cache is not None and cache.is_file():
        stored = json.loads(cache.read_text(encoding="utf-8"))
        if stored.get("checkpoint_mtime_ns") == meta_key:
            return float(stored["mean_nats"])
    sparsity = model_sparsity(
        "run",
        "run",
        checkpoint,
        data.split("valid"),
        modes=("dense",),
        max_sentences=0,
        device=device,
    )
    value = float(np.mean(sparsity.entropy["dense"]))
    if cache is not None:
        _write(
            cache,
            json.dumps(
                {
                    "mean_nats": value,
                    "checkpoint_mtime_ns": meta_key,
                    "positions": sparsity.positions,
                }
            ),
        )
    return value


def _start_hyps(start: Path, study: Path, test, recipe: Recipe, device: str) -> list[str]:
    from bertune_cli.core.pipeline.run import _baseline_hyps

    study.mkdir(parents=True, exist_ok=True)
    return _lines(_baseline_hyps(start, study, test, recipe, device, lambda line: None))


def _run_info(folder: Path, seed: int) -> dict[str, Any]:
    done = json.loads((folder / "DONE").read_text(encoding="utf-8"))
    return {
        "seed": seed,
        "run_dir": str(folder),
        "updates": done.get("updates"),
        "reason": done.get("reason"),
        "best_update": done.get("best", {}).get("update"),
    }


def _finished(folder: Path, is_complete) -> bool:
    return is_complete(folder) and (folder / "test.hyp.txt").is_file()


def _lines(path: Path) -> list[str]:
    return Path(path).read_text(encoding="utf-8").splitlines()


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _write(path: Path, text: str) -> None:
    with AtomicFile(path, f"{path.name} of the study") as f:
        f.write(text)
