"""``make_report(inputs, out)``: load the runs, compute every analysis, draw, render, publish.

The report is built in a hidden sibling folder (``outputs.AtomicFolder``, one per build) and
swapped into place at the end, so ``out`` is either the previous report or the complete new
one, never half-written.
An existing ``out`` that is not a bertune report (no ``report.json``) is never replaced.

Model work, all through the code paths the rest of bertune uses: test outputs a run has not
written yet are translated with its ``checkpoint_best`` (``Translator``, the recipe's decoding
settings); the step-0 F_BERT of the learning curves is the baseline checkpoint's validation
output scored by ``metrics.bertscore`` (its ``valid.hyp.txt`` when the last validation was the
best one, else decoded); entropies are teacher-forced forward passes (``sparsity.py``).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from bertune_cli.core.errors import CheckpointError, UsageError
from bertune_cli.core.io.outputs import AtomicFolder, check_output_dir
from bertune_cli.core.report.runs import Run, RunSet, check_outputs, expand_inputs, load_runs

Stage = Callable[[str, int, int], None]
FIGURES = {
    "learning_curves": "learning_curves.png",
    "training_loss": "training_loss.png",
    "entropy": "entropy.png",
    "fbert_scatter": "fbert_scatter.png",
    "length_buckets": "length_buckets.png",
}


def make_report(
    inputs: Sequence[str | Path],
    out: str | Path,
    *,
    runs_root: Path | None = None,
    html: bool = False,
    max_sentences: int = 200,
    entropy_split: str = "valid",
    top: int = 5,
    n_samples: int = 1000,
    seed: int | None = None,
    moverscore: bool = True,
    device: str = "auto",
    on_stage: Stage = lambda name, i, n: None,
) -> dict[str, Any]:
    """Write ``out/report.md``, its PNGs, ``report.json`` (and ``report.html``); return the
    report.json summary. ``moverscore``: add MoverScore (with the runs' LM) to the results
    when ``core.metrics.moverscore`` is available. ``on_stage(name, index, total)`` reports
    progress."""
    from bertune_cli.core.data.store import DataDir
    from bertune_cli.core.evaluation.significance import default_seed
    from bertune_cli.core.lm.model import load_lm, resolve_device
    from bertune_cli.core.report import analysis, curves, results, sparsity
    from bertune_cli.core.report.document import document

    if entropy_split not in ("valid", "test"):
        raise UsageError(f"--entropy-split must be valid or test, not {entropy_split!r}")
    t0, timings = time.perf_counter(), {}
    current = ["loading the runs", t0]
    out = check_report_out(out)
    runs = load_runs(*expand_inputs(inputs, runs_root))
    device = resolve_device(device)
    data = DataDir(runs.data_dir)
    if "test" not in data.splits:
        raise CheckpointError(f"{runs.data_dir} has no test split", "prepare it with a test set")
    test = data.split("test")
    total = 6 + len(runs.runs) + sum(r.test_hyp is None for r in runs.runs)
    step = iter(range(total))

    def stage(name: str) -> None:
        """Report the next stage; record how long the previous one took (seconds)."""
        now = time.perf_counter()
        timings[current[0]] = round(now - current[1], 1)
        current[:] = [name, now]
        on_stage(name, next(step, total - 1), total)

    with AtomicFolder(out, "report folder") as tmp:
        ev, hyps, decode = runs.eval, {}, Decoder(tmp, out)
        for run in runs.runs:
            if run.test_hyp is None:
                stage(f"translating the test set with {run.name}")
                run.test_hyp = decode(run, "test", test.src_text, ev, device)
                runs.warnings.append(
                    f"{run.path} has no test.hyp.txt yet: translated its "
                    "checkpoint_best for this report"
                )
            hyps[run.name] = check_outputs(run, len(test.tgt_text))
        lm_meta = runs.baseline.meta.get("lm", {})
        stage(f"loading the LM {lm_meta.get('name', 'minilm')}")
        lm = load_lm(lm_meta.get("name", "minilm"), lm_meta.get("layer"), device)
        stage("validation score of the starting checkpoint (step 0)")
        start = _start_scores(runs, data, lm, ev, device, decode)
        lc = curves.learning_curves(runs, start)
        stage("scoring the test set and paired bootstrap")
        res = results.results_table(
            [r.name for r in runs.runs],
            [r.label for r in runs.runs],
            [hyps[r.name] for r in runs.runs],
            test.tgt_text,
            lm,
            lowercase=ev["lowercase"],
            tokenize=ev["bleu_tokenize"],
            n_samples=n_samples,
            seed=default_seed() if seed is None else seed,
            device=device,
            moverscore=lm_meta.get("name", "minilm") if moverscore else None,
        )
        bleu, base = res.statistic("BLEU"), runs.baseline.name
        comps = [
            analysis.compare(
                ft.name,
                ft.label,
                test.src_text,
                test.tgt_text,
                hyps[base],
                hyps[ft.name],
                res.sentence_scores[base]["F_BERT"],
                res.sentence_scores[ft.name]["F_BERT"],
                bleu,
                res.segment_stats[base]["BLEU"],
                res.segment_stats[ft.name]["BLEU"],
                lm.tokenizer.tokenize,
                top=top,
            )
            for ft in runs.finetunes
        ]
        split = data.split(entropy_split)
        tau = _tau(runs)
        models = []
        for run in runs.runs:
            stage(f"entropy of {run.name}'s predictions")
            models.append(
                sparsity.model_sparsity(
                    run.name,
                    run.label,
                    run.checkpoint,
                    split,
                    tau=tau,
                    max_sentences=max_sentences,
                    device=device,
                )
            )
        sp = sparsity.Sparsity(
            models, entropy_split, tau, _vocab_size(runs.baseline), 0, max_sentences
        )
        stage("drawing the figures")
        figs = _draw(lc, sp, comps, tmp)
        stage("writing the report")
        summary = {
            "report": str(out / "report.md"),
            "html": str(out / "report.html") if html else None,
            "runs": [_run_summary(r, tmp, out) for r in runs.runs],
            "data_dir": str(runs.data_dir),
            "test_set": {
                "source": str(runs.data_dir / "test.src.txt"),
                "reference": str(runs.data_dir / "test.tgt.txt"),
                "sentences": len(test.tgt_text),
            },
            "warnings": runs.warnings,
            "results": res.to_dict(),
            "curves": lc.to_dict(),
            "sparsity": sp.to_dict(),
            "comparisons": [c.to_dict() for c in comps],
            "figures": figs,
            "timings_s": timings,
            "outputs_cache": decode.keys,
        }
        _write(tmp, summary, document(summary, runs, lc, res, sp, comps, figs), html)
        stage("done")
        timings.pop("done", None)
        timings["total"] = round(time.perf_counter() - t0, 1)
        (tmp / "report.json").write_text(
            json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8"
        )
    return summary


def check_report_out(out: str | Path) -> Path:
    """Everything about ``--out`` that can be refused before any work: a file, a folder that
    is not a bertune report (never replaced), a folder that cannot be written."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file", "pass a folder for the report")
    if out.is_dir() and any(out.iterdir()) and not (out / "report.json").is_file():
        raise UsageError(
            f"--out {out} exists and is not a bertune report (no report.json); "
            "refusing to replace it",
            "pass a new or empty folder",
        )
    return check_output_dir(out, "report folder")


def _write(folder: Path, summary: dict, blocks, html: bool) -> None:
    from bertune_cli.core.report.render import to_html, to_markdown

    (folder / "report.md").write_text(to_markdown(blocks), encoding="utf-8")
    if html:
        title = f"bertune report: {summary['runs'][0]['recipe']}"
        (folder / "report.html").write_text(to_html(blocks, folder, title), encoding="utf-8")


def _draw(lc, sp, comps, folder: Path) -> dict[str, str]:
    from bertune_cli.core.report import figures

    figures.learning_curves(lc, folder / FIGURES["learning_curves"])
    figures.training_loss(lc, folder / FIGURES["training_loss"])
    figures.entropy(sp, folder / FIGURES["entropy"])
    drawn = ["learning_curves", "training_loss", "entropy"]
    if comps:
        figures.fbert_scatter(comps, folder / FIGURES["fbert_scatter"])
        figures.length_buckets(comps, folder / FIGURES["length_buckets"])
        drawn += ["fbert_scatter", "length_buckets"]
    return {k: FIGURES[k] for k in drawn}


class Decoder:
    """Translations a report had to make, kept in ``<report>/outputs/`` and reused by the
    next report into the same folder while the checkpoint is the same (same path, same
    update) and so are the inputs (a hash of the source lines and decoding settings)."""

    def __init__(self, tmp: Path, out: Path):
        self.tmp, self.keys = tmp, {}
        try:
            old = json.loads((out / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        self.old, self.old_dir = old.get("outputs_cache", {}), out / "outputs"

    def __call__(self, run: Run, split: str, src: list[str], ev: dict, device: str) -> Path:
        import hashlib

        name = f"{run.name}.{split}.hyp.txt"
        key = hashlib.sha256(
            json.dumps(
                [
                    str(run.checkpoint.resolve()),
                    run.meta.get("training", {}).get("updates"),
                    src,
                    {k: ev[k] for k in ("beam", "lenpen", "max_len_a", "max_len_b")},
                ]
            ).encode()
        ).hexdigest()[:16]
        path = self.tmp / "outputs" / name
        path.parent.mkdir(exist_ok=True)
        self.keys[name] = key
        if self.old.get(name) == key and (self.old_dir / name).is_file():
            shutil.copyfile(self.old_dir / name, path)
            return path
        from bertune_cli.core.translation import Translator, from_eval

        hyps = Translator.load(run.checkpoint, device).translate(src, from_eval(ev))
        path.write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
        return path


def _start_scores(
    runs: RunSet, data, lm, ev: dict, device: str, decode: Decoder
) -> dict[str, float]:
    """Validation F_BERT (and MoverScore) of the baseline's checkpoint_best, for the metrics
    the fine-tunes log (BLEU comes from the baseline's logged best row)."""
    from bertune_cli.core.metrics.bertscore import score_bertscore
    from bertune_cli.core.report.results import moverscore_sentences

    logged = {
        m
        for ft in runs.finetunes
        for r in ft.valid_rows()
        for m in ("bertscore", "moverscore")
        if m in r
    }
    if not logged:
        return {}
    base = runs.baseline
    valid = data.split("valid")
    rows = base.valid_rows()
    saved = base.path / "valid.hyp.txt"
    hyps = saved.read_text(encoding="utf-8").splitlines() if saved.is_file() else []
    if not (rows and rows[-1].get("is_best") and len(hyps) == len(valid.tgt_text)):
        path = decode(base, "valid", valid.src_text, ev, device)
        hyps = path.read_text(encoding="utf-8").splitlines()
    out = {}
    if "bertscore" in logged:
        out["bertscore"] = score_bertscore(hyps, [valid.tgt_text], lm=lm).corpus().score
    mover = (
        moverscore_sentences([hyps], valid.tgt_text, lm.name, device)
        if "moverscore" in logged
        else None
    )
    if mover is not None:
        out["moverscore"] = 100.0 * float(mover[0][0].mean())
    return out


def _tau(runs: RunSet) -> float:
    for ft in runs.finetunes:
        if ft.soft == "gumbel" and ft.tau:
            return float(ft.tau)
    return float(runs.baseline.config.get("finetune", {}).get("tau", 0.1) or 0.1)


def _vocab_size(run: Run) -> int:
    return int(run.meta.get("target_vocab", {}).get("size", 0))


def _run_summary(run: Run, tmp: Path, out: Path) -> dict[str, Any]:
    best = [r for r in run.valid_rows() if r.get("is_best")]
    done = run.done or {}
    return {
        "name": run.name,
        "label": run.label,
        "kind": run.kind,
        "path": str(run.path),
        "recipe": run.recipe,
        "soft": run.soft,
        "tau": run.tau,
        "complete": run.done is not None,
        "updates": done.get("updates", run.rows[-1]["update"]),
        "epochs": done.get("epochs"),
        "reason": done.get("reason"),
        "best_valid": {
            k: best[-1][k]
            for k in ("update", "bleu", "bertscore", "moverscore")
            if best and k in best[-1]
        },
        "test_hyp": str(run.test_hyp).replace(str(tmp), str(out)),
    }
