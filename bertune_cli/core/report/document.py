"""The report's content: computed analyses -> a list of ``render`` blocks (text, tables,
figures). Numbers are formatted here and nowhere else; nothing is computed."""

from __future__ import annotations

from typing import Any

from bertune_cli.core.report.curves import VALID_METRICS
from bertune_cli.core.report.render import Code, Heading, Image, Table, Text


def _f(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _p(p: float | None, alpha: float) -> str:
    return "" if p is None else f"{p:.3f}" + ("*" if p < alpha else "")


def document(summary: dict[str, Any], runs, lc, res, sp, comps, figs: dict[str, str]) -> list:
    from bertune_cli import __version__

    base = runs.baseline
    blocks: list = [
        Heading(f"bertune report: recipe `{base.recipe}`", 1),
        Text(
            f"Baseline `{base.path}` and {len(runs.finetunes)} fine-tune(s); test set "
            f"`{summary['test_set']['reference']}` ({res.sentences} sentences). "
            f"Made by bertune {__version__} (`bertune report`)."
        ),
        _runs_table(summary["runs"]),
    ]
    if runs.warnings:
        blocks += [Heading("Warnings", 3), Text("; ".join(f"`{w}`" for w in runs.warnings))]
    blocks += _results(res)
    blocks += _curves(lc, figs)
    blocks += _sparsity(sp, figs)
    if comps:
        blocks += [
            Heading("Error analysis: baseline vs fine-tunes"),
            Image(figs["fbert_scatter"], "per-sentence F_BERT, baseline vs fine-tuned"),
            Image(figs["length_buckets"], "scores by source length"),
        ]
        for comp in comps:
            blocks += _comparison(comp)
    t = summary["timings_s"]
    blocks.append(Text("Time per stage (s): " + ", ".join(f"{k} {v}" for k, v in t.items()) + "."))
    return blocks


def _runs_table(rows: list[dict[str, Any]]) -> Table:
    body = []
    for r in rows:
        best = r["best_valid"]
        valid = ", ".join(f"{VALID_METRICS.get(k, k)} {best[k]:.2f}" for k in best if k != "update")
        body.append(
            [
                r["label"],
                f"`{r['path']}`",
                str(r["updates"]),
                str(r["epochs"] or "–"),
                r["reason"] or "still running",
                f"{valid} (update {best.get('update', '?')})" if best else "–",
            ]
        )
    return Table(
        ["run", "directory", "updates", "epochs", "stopped by", "best validation"], body, "llrrll"
    )


def _results(res) -> list:
    tested = res.n_samples > 0
    header = ["system"]
    for m in res.metrics:
        header += [m, "p"] if tested else [m]
    rows = []
    for s in res.systems:
        row = [s.label]
        for m in res.metrics:
            row.append(
                f"{s.scores[m]:.2f} ({s.mean[m]:.2f} ± {s.ci[m]:.2f})"
                if s.mean[m] is not None
                else _f(s.scores[m])
            )
            if tested:
                row.append(_p(s.p_values[m], res.alpha))
        rows.append(row)
    sigs = "\n".join(f"{m}: {sig}" for m, sig in res.signatures.items())
    how = (
        f"Score (bootstrap mean ± 95% CI); p: paired bootstrap against the baseline "
        f"({res.n_samples} samples, seed {res.seed}; sacreBLEU 2.6 semantics, as "
        f"`bertune significance`), * p < {res.alpha}."
        if res.n_samples
        else "No fine-tune given: scores only, no significance test."
    )
    return [
        Heading("Results on the test set"),
        Text(
            how
            + " F_BERT is 100 × the mean sentence F1 (exact BERTScore)"
            + (
                ", MoverScore 100 × the mean sentence score."
                if "MoverScore" in res.metrics
                else "."
            )
        ),
        Table(header, rows),
        Text("Signatures:"),
        Code(sigs),
    ]


def _curves(lc, figs) -> list:
    out = [
        Heading("Learning curves"),
        Text(
            "Validation scores against fine-tuning updates (the paper's Fig. 2); step 0 is "
            "the baseline's `checkpoint_best`, dashed vertical lines mark epoch ends. "
            "When a run was resumed, the last row logged for an update is used."
        ),
        Image(figs["learning_curves"], "validation curves"),
        Image(figs["training_loss"], "training loss"),
    ]
    rows = []
    for run in lc.finetunes:
        for m, s in run.valid.items():
            i = max(range(len(s.y)), key=lambda k: s.y[k])
            rows.append(
                [
                    run.label,
                    VALID_METRICS.get(m, m),
                    _f(s.y[0]),
                    f"{_f(s.y[i])} (update {s.x[i]})",
                    _f(s.y[-1]),
                ]
            )
    if rows:
        out.append(Table(["fine-tune", "metric", "step 0", "best", "last"], rows))
    return out


def _sparsity(sp, figs) -> list:
    rows = []
    for m in sp.models:
        s = m.summary()
        rows.append(
            [
                m.label,
                *(f"{s['entropy_nats'][mode]['mean']:.3f}" for mode in sp.modes),
                f"{s['sparsemax_support']['mean']:.2f}",
                str(m.positions),
            ]
        )
    names = {"dense": "dense / softmax", "sparsemax": "sparsemax", "gumbel": f"Gumbel τ {sp.tau:g}"}
    return [
        Heading("Sparsity of predictions"),
        Text(
            f"Entropy (nats) of the probability vector at every target position of the "
            f"first {sp.models[0].sentences} {sp.split} sentences, with teacher forcing on "
            f"the references (the paper's Fig. 1): the decoder's softmax (= dense) and the "
            f"soft vectors sparsemax and Gumbel-softmax (τ {sp.tau:g}, noise seed "
            f"{sp.seed}) would feed the LM; V = {sp.vocab_size} output ids."
        ),
        Image(figs["entropy"], "entropy of predictions"),
        Table(
            [
                "model",
                *(f"mean H, {names[m]}" for m in sp.modes),
                "mean sparsemax support",
                "positions",
            ],
            rows,
        ),
    ]


def _comparison(c) -> list:
    n = c.counts
    out = [
        Heading(f"Baseline vs {c.label}", 3),
        Text(
            f"Outputs: {n['identical']} identical to the baseline's, {n['longer']} longer, "
            f"{n['shorter']} shorter, {n['same_length']} different with the same length "
            f"(in words). Sentence F_BERT: {c.fbert_changes['higher']} higher, "
            f"{c.fbert_changes['lower']} lower, {c.fbert_changes['equal']} equal."
        ),
        Table(
            [
                "source words",
                "sentences",
                "BLEU base",
                "BLEU ft",
                "Δ",
                "F_BERT base",
                "F_BERT ft",
                "Δ",
            ],
            [
                [
                    b.label,
                    str(b.sentences),
                    _f(b.bleu[0]),
                    _f(b.bleu[1]),
                    f"{b.bleu[1] - b.bleu[0]:+.2f}",
                    _f(b.fbert[0]),
                    _f(b.fbert[1]),
                    f"{b.fbert[1] - b.fbert[0]:+.2f}",
                ]
                for b in c.buckets
            ],
        ),
    ]
    for title, examples in (
        ("Largest sentence-F_BERT gains", c.gains),
        ("Largest sentence-F_BERT losses", c.losses),
    ):
        out.append(Text(f"**{title}** (F_BERT ×100, baseline → fine-tuned):"))
        if not examples:
            out.append(Text("none"))
            continue
        out.append(
            Table(
                ["line", "F_BERT", "source / reference / baseline / fine-tuned"],
                [
                    [
                        str(e.line),
                        f"{e.fbert[0]:.1f} → {e.fbert[1]:.1f}",
                        f"SRC: {e.source}\nREF: {e.reference}\nBASE: {e.baseline}\nFT: {e.system}",
                    ]
                    for e in examples
                ],
                "lrl",
            )
        )
    k = max(len(c.pieces_gained), len(c.pieces_lost))
    if k:
        g = c.pieces_gained + [("", 0)] * (k - len(c.pieces_gained))
        lo = c.pieces_lost + [("", 0)] * (k - len(c.pieces_lost))
        out += [
            Text(
                "**WordPieces** the fine-tune produces more often (gained) and less often "
                "(lost) than the baseline, summed over sentences:"
            ),
            Table(
                ["gained", "count", "lost", "count"],
                [
                    [
                        f"`{a}`" if a else "",
                        str(x) if a else "",
                        f"`{b}`" if b else "",
                        str(y) if b else "",
                    ]
                    for (a, x), (b, y) in zip(g, lo)
                ],
                "lrlr",
            ),
        ]
    return out
