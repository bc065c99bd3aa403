"""``bertune finetune --pair X``: run the stages that are missing, then compare before/after.

Stages, each skipped when already complete and resumable when interrupted::

    prepare          runs/<recipe>/data             skipped when its manifest matches the recipe
    train-baseline   runs/<recipe>/baseline         skipped when DONE exists (not run with --from)
    finetune         runs/<recipe>/finetune-<soft>  skipped when DONE exists

Before each stage one line says whether it runs, resumes or is skipped, and why (through the
``say`` callback: the core never prints). The stages write translations and score nothing on
the test set; then the test split's translations of the starting checkpoint and of the
fine-tuned model are scored once — BLEU (sacreBLEU), F_BERT (exact BERTScore) and MoverScore
(``eval.ms_lm``), one ``core.evaluation.evaluate`` call with the recipe's settings — and
compared with a paired bootstrap test; ``test_comparison.json`` in the fine-tuning run
directory holds the numbers, their signatures and the output paths.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from bertune_cli.core.config.recipe import Recipe
from bertune_cli.core.io.outputs import write_text_atomic
from bertune_cli.core.io.paths import stage_dir
from bertune_cli.core.loops.services import (
    LMCache,
    check_lm,
    init_checkpoint,
    recipe_layer,
    stage_name,
)

Say = Callable[[str], None]
REPORT = "test_comparison.json"  # named apart from `bertune report`'s report.json
LEGACY_REPORT = "report.json"  # what runs finished before the rename hold


def run_pipeline(
    recipe: Recipe,
    *,
    runs_root: Path | None = None,
    init_from: Path | None = None,
    device: str = "auto",
    raw_data_dir: Path | None = None,
    say: Say = lambda line: None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    lms: LMCache | None = None,
    **limits: Any,
) -> dict[str, Any]:
    """prepare → train-baseline → finetune → test comparison; returns
    ``{"stages": [...], "finetune": DONE summary, "report": comparison}``.
    ``raw_data_dir`` is prepare's ``--data-dir`` (where the raw corpus lies); ``lms``: the LMs
    already loaded (a grid's earlier runs; default: a new cache for this call); ``limits``:
    max_epochs / max_steps / max_time (and other LoopSettings) of the fine-tuning."""
    import torch.distributed as dist

    from bertune_cli.core.lm.model import resolve_device
    from bertune_cli.core.loops.finetune import finetune
    from bertune_cli.core.loops.trainer import init_distributed
    from bertune_cli.core.pipeline.preflight import check_runnable
    from bertune_cli.core.system.distributed import is_master

    check_runnable(recipe, "finetune", raw_data_dir, runs_root)  # everything missing, at once
    data_dir = stage_dir(recipe.name, "data", runs_root)
    base_dir = stage_dir(recipe.name, "baseline", runs_root)
    ft_dir = stage_dir(recipe.name, stage_name(recipe), runs_root)
    check_start(recipe, runs_root, init_from, base_dir)
    device = init_distributed(resolve_device(device))  # torchrun: every rank runs this
    master = is_master()
    lms = lms if lms is not None else LMCache()
    say = say if master else (lambda line: None)
    stages = [
        ensure_data(recipe, data_dir, base_dir if init_from is None else None, say, raw_data_dir)
        if master
        else {}
    ]
    if dist.is_initialized():
        dist.barrier()  # the other ranks wait for rank 0's data directory
    if init_from is None:
        stages.append(ensure_baseline(recipe, data_dir, base_dir, device, say, on_event))
    else:
        say(f"train-baseline: skipped — fine-tuning starts from --from {init_from}")
        stages.append({"stage": "train-baseline", "action": "skip", "reason": "--from"})
    action, why = stage_status(ft_dir, "finetune")
    say(f"finetune: {why}")
    stages.append({"stage": "finetune", "action": action, "reason": why, "dir": str(ft_dir)})
    summary = finetune(
        recipe,
        data_dir,
        ft_dir,
        init_from=init_from,
        runs_root=runs_root,
        device=device,
        on_event=on_event,
        lms=lms,
        **limits,
    )
    if not master:
        return {"stages": stages, "finetune": summary, "report": {}}
    stored = ft_dir / REPORT
    if not stored.is_file() and (ft_dir / LEGACY_REPORT).is_file():
        stored = ft_dir / LEGACY_REPORT
    if summary.get("already_complete") and stored.is_file():  # a finished run only reports
        say(f"test report: {stored} (already computed)")
        report = {**json.loads(stored.read_text(encoding="utf-8")), "report_file": str(stored)}
    else:
        report = compare(
            recipe,
            data_dir,
            base_dir if init_from is None else Path(init_from),
            ft_dir,
            summary,
            device,
            say,
            lms,
        )
    if not summary.get("already_complete"):  # else the tracked run holds this report already
        from bertune_cli.core.tracking.tracker import attach_report

        attach_report(recipe, ft_dir, report, stage=ft_dir.name, runs_root=runs_root)
    return {"stages": stages, "finetune": summary, "report": report}


def check_start(
    recipe: Recipe, runs_root: Path | None, init_from: Path | None, base_dir: Path
) -> None:
    """Refuse an LM/layer mismatch with an existing starting checkpoint *before* any stage
    runs (prepare would otherwise rebuild the data for the other LM first)."""
    from bertune_cli.core.model.checkpoint import BEST, LAST, read_meta

    if init_from is None and not any((base_dir / n).is_dir() for n in (BEST, LAST)):
        return
    init = init_checkpoint(recipe, runs_root, init_from)
    check_lm(read_meta(init), recipe, recipe_layer(recipe), init)


def stage_status(run_dir: Path, stage: str) -> tuple[str, str]:
    """(action, reason) of a training stage: skip (DONE), resume (checkpoint_last) or run."""
    from bertune_cli.core.loops.trainer import is_complete
    from bertune_cli.core.model.checkpoint import LAST, read_meta

    if is_complete(run_dir):
        return "skip", f"skipped — {run_dir} is complete (DONE)"
    if (run_dir / LAST).is_dir():
        update = read_meta(run_dir / LAST).get("training", {}).get("updates", "?")
        return "resume", f"resuming the interrupted run in {run_dir} from update {update}"
    return "run", f"running — no {stage} run in {run_dir} yet"


def ensure_data(
    recipe: Recipe,
    data_dir: Path,
    base_dir: Path | None,
    say: Say,
    raw_data_dir: Path | None = None,
) -> dict[str, Any]:
    """Prepare the recipe's data unless ``data_dir`` already holds it (a cache hit).

    Refuses to rebuild data that an existing baseline (``base_dir``) was trained on."""
    from bertune_cli.core.data import corpus
    from bertune_cli.core.data.prepare import prepare, settings_hash, settings_of, up_to_date
    from bertune_cli.core.errors import CheckpointError

    key = settings_hash(settings_of(recipe), corpus.plan(recipe, raw_data_dir))
    if up_to_date(data_dir, key) is not None:
        say(f"prepare: skipped — {data_dir} is up to date (settings {key})")
        return {"stage": "prepare", "action": "skip", "reason": "up to date", "dir": str(data_dir)}
    if (data_dir / "manifest.json").is_file():
        if base_dir is not None and base_dir.is_dir() and any(base_dir.iterdir()):
            raise CheckpointError(
                f"{data_dir} was prepared with other data settings than the recipe now asks for, "
                f"and {base_dir} was trained on it; re-preparing would orphan that baseline",
                "if it was prepared with --data-dir, pass the same --data-dir; otherwise use "
                "--runs-dir for a separate run tree, or delete both folders to start over",
            )
        why = f"running — {data_dir} was prepared with other settings"
    else:
        why = f"running — no prepared data in {data_dir} yet"
    say(f"prepare: {why}")
    prepare(recipe, data_dir, data_dir=raw_data_dir)
    return {"stage": "prepare", "action": "run", "reason": why, "dir": str(data_dir)}


def ensure_baseline(
    recipe: Recipe, data_dir: Path, base_dir: Path, device: str, say: Say, on_event
) -> dict[str, Any]:
    """Train (or resume) the baseline unless its DONE marker exists."""
    from bertune_cli.core.loops.train_baseline import train_baseline

    action, why = stage_status(base_dir, "baseline")
    say(
        f"train-baseline: {why}"
        + ("" if action == "skip" else " (fine-tuning starts from its best checkpoint)")
    )
    if action != "skip":
        train_baseline(
            recipe,
            data_dir,
            base_dir,
            device=device,
            on_event=on_event,
            runs_root=base_dir.parent.parent,
        )  # the default MLflow store's root
    return {"stage": "train-baseline", "action": action, "reason": why, "dir": str(base_dir)}


REPORT_METRICS = ("bleu", "bertscore", "moverscore")  # the paper's three


def compare(
    recipe: Recipe,
    data_dir: Path,
    init: Path,
    ft_dir: Path,
    summary: dict[str, Any],
    device: str,
    say: Say,
    lms: LMCache | None = None,
) -> dict[str, Any]:
    """Test BLEU, F_BERT and MoverScore (LM ``eval.ms_lm``) of the starting model and the
    fine-tuned one (+ paired bootstrap), one ``evaluate`` call with the recipe's settings and
    the LMs of ``lms`` (those the fine-tuning loaded); written to
    ``<ft_dir>/test_comparison.json``."""
    from bertune_cli.core.data.store import DataDir
    from bertune_cli.core.evaluation import evaluate, recipe_settings
    from bertune_cli.core.lm.model import resolve_device

    data = DataDir(data_dir)
    if "test" not in data.splits:
        return {}
    test = data.split("test")
    refs = test.tgt_text
    files = {
        "baseline": _baseline_hyps(init, ft_dir, test, recipe, device, say),
        "finetuned": ft_dir / "test.hyp.txt",
    }
    hyps = {k: p.read_text(encoding="utf-8").splitlines() for k, p in files.items()}
    say("scoring the test set (BLEU, F_BERT, MoverScore) before and after fine-tuning")
    settings = recipe_settings(recipe, resolve_device(device))
    cache = (lms if lms is not None else LMCache()).eval_cache(recipe, settings)
    ev = evaluate(
        REPORT_METRICS,
        [refs],
        list(hyps.values()),
        names=list(hyps),
        settings=settings,
        test="bs",
        cache=cache,
    )
    sig = ev.significance
    report: dict[str, Any] = {
        "test_set": str(data_dir / "test.tgt.txt"),
        "sentences": len(refs),
        "outputs": {k: str(p) for k, p in files.items()},
        "scores": {
            k: {key: r.score for key, r in zip(ev.keys, ev.results[i])} for i, k in enumerate(hyps)
        },
        "signatures": {key: m.signature for key, m in zip(ev.keys, ev.metrics)},
        "finetune": {
            "soft": recipe.finetune.soft,
            "run_dir": str(ft_dir),
            "updates": summary.get("updates"),
            "reason": summary.get("reason"),
            "steps_per_s": summary.get("steps_per_s"),
        },
        "significance": {
            "test": "paired bootstrap",
            "n_samples": sig.n_samples,
            "seed": sig.seed,
            "p_values": ev.p_values("finetuned"),
            "signatures": dict(sig.signatures),
        },
    }
    write_text_atomic(ft_dir / REPORT, json.dumps(report, indent=1), "the fine-tuning report")
    report["report_file"] = str(ft_dir / REPORT)
    return report


def _baseline_hyps(init: Path, ft_dir: Path, test, recipe: Recipe, device: str, say: Say) -> Path:
    """The starting model's test translations: the ``test.hyp.txt`` of the run whose best
    checkpoint it is, when present; else translated now into ``<ft_dir>/test.init.hyp.txt``."""
    from bertune_cli.core.lm.model import resolve_device
    from bertune_cli.core.loops.trainer import is_complete
    from bertune_cli.core.model.checkpoint import BEST
    from bertune_cli.core.translation import Translator, from_eval

    init = Path(init)
    run = init if is_complete(init) else init.parent if init.name == BEST else None
    if run is not None and is_complete(run) and (run / "test.hyp.txt").is_file():
        done = run / "test.hyp.txt"
        if len(done.read_text(encoding="utf-8").splitlines()) == len(test.src_text):
            return done
    out = ft_dir / "test.init.hyp.txt"
    say(f"translating the test set with the starting checkpoint {init}")
    hyps = Translator.load(init, resolve_device(device)).translate(
        test.src_text, from_eval(recipe.eval)
    )
    write_text_atomic(out, "".join(h + "\n" for h in hyps), "the starting model's translations")
    return out
