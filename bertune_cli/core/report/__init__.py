"""``bertune report``: the paper's figures and an error analysis from run directories.

Analysis modules are pure functions over run artifacts (``metrics.jsonl``, checkpoints, test
outputs) that return dataclasses; ``figures.py`` draws them (matplotlib, Agg) and never
recomputes a number; ``render.py`` writes ``report.md``, ``report.json`` and the optional
self-contained HTML; ``build.py`` runs the whole thing.

    runs.py       find, load and check the runs (one baseline, any fine-tunes, one test set)
    curves.py     validation and training curves, last row per update wins (resumes)
    sparsity.py   entropy of per-position probability vectors (paper Fig. 1), sparsemax support
    results.py    test BLEU / chrF / F_BERT (/ MoverScore) with paired-bootstrap p-values
    analysis.py   baseline vs fine-tune: length buckets, largest gains/losses, WordPieces
    figures.py    PNGs of the above
    document.py   the report's text and tables (formatting only)
    render.py     report.md / report.json / report.html from one document model
    build.py      ``make_report(inputs, out)``: the one call the command makes
"""

__all__ = [
    "runs",
    "curves",
    "sparsity",
    "results",
    "analysis",
    "figures",
    "document",
    "render",
    "build",
]
