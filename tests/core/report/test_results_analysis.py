"""The results table (same numbers as `bertune significance`) and the error analysis."""
from __future__ import annotations

import numpy as np
import pytest
import sacrebleu

from bertune_cli.core.report.analysis import compare, length_buckets, output_counts, piece_changes
from bertune_cli.core.report.results import results_table


@pytest.fixture(scope="module")
def texts(runs_tree, synthetic):
    from bertune_cli.core.data.store import DataDir

    test = DataDir(runs_tree / "data").split("test")
    return (test.src_text, test.tgt_text, synthetic.baseline_hyps(test.tgt_text),
            synthetic.finetune_hyps(test.tgt_text))


@pytest.fixture(scope="module")
def table(texts, minilm):
    _, refs, base, ft = texts
    return results_table(["base", "ft"], ["baseline", "fine-tuned"], [base, ft], refs, minilm,
                         lowercase=True, n_samples=200, seed=7, moverscore=None)


def test_results_equal_bertune_significance_on_the_same_files(table, texts, tmp_path, minilm):
    from bertune_cli.core.evaluation.files import significance_from_files

    _, refs, base, ft = texts
    files = []
    for name, lines in (("ref", refs), ("base", base), ("ft", ft)):
        files.append(tmp_path / f"{name}.txt")
        files[-1].write_text("".join(x + "\n" for x in lines))
    sig = significance_from_files([files[0]], files[1:], ["bleu", "chrf", "bertscore"],
                                  n_samples=200, seed=7, lowercase=True, device="cpu")
    assert table.metrics == sig.metrics == ["BLEU", "chrF2", "F_BERT"]
    for mine, theirs in zip(table.systems, sig.results):
        for m in table.metrics:
            assert mine.scores[m] == pytest.approx(theirs[m].score, abs=1e-9)
            assert mine.p_values[m] == theirs[m].p_value
            assert mine.ci[m] == pytest.approx(theirs[m].ci, abs=1e-9)
    assert table.signatures == sig.signatures
    assert table.systems[0].scores["BLEU"] == pytest.approx(
        sacrebleu.corpus_bleu(base, [refs], lowercase=True).score)
    d = table.to_dict()
    assert d["n_samples"] == 200 and d["seed"] == 7 and d["sentences"] == len(refs)
    assert "segment_stats" not in d


def test_error_analysis_of_a_known_change(table, texts, minilm):
    src, refs, base, ft = texts
    bleu = table.statistic("BLEU")
    comp = compare("ft", "fine-tuned", src, refs, base, ft,
                   table.sentence_scores["base"]["F_BERT"], table.sentence_scores["ft"]["F_BERT"],
                   bleu, table.segment_stats["base"]["BLEU"], table.segment_stats["ft"]["BLEU"],
                   minilm.tokenizer.tokenize, top=5)
    # the fine-tune fixes lines 1, 4, 7 (= the references) and breaks line 3 (1-based)
    assert sorted(e.line for e in comp.gains) == [1, 4, 7]
    assert [e.line for e in comp.losses] == [3] and comp.losses[0].system == "the the the"
    assert all(e.fbert[1] == pytest.approx(100.0, abs=1e-3) for e in comp.gains)
    assert comp.gains == sorted(comp.gains, key=lambda e: -e.delta)
    assert comp.counts == output_counts(base, ft) and comp.counts["identical"] == len(refs) - 4
    assert comp.fbert_changes["higher"] == 3 and comp.fbert_changes["lower"] == 1
    # a bucket's BLEU is sacreBLEU's corpus BLEU on that bucket's lines
    for b, (label, mask) in zip(comp.buckets, length_buckets(src)):
        idx = np.flatnonzero(mask)
        assert b.label == label and b.sentences == len(idx)
        assert b.bleu[1] == pytest.approx(sacrebleu.corpus_bleu(
            [ft[i] for i in idx], [[refs[i] for i in idx]], lowercase=True).score)
        assert b.fbert[0] == pytest.approx(100 * table.sentence_scores["base"]["F_BERT"][idx]
                                           .mean())
    assert sum(b.sentences for b in comp.buckets) == len(src)
    x, y = comp.scatter
    assert len(x) == len(y) == len(src)
    d = comp.to_dict()
    assert "scatter" not in d and d["gains"][0]["delta"] > 0


def test_counts_pieces_and_buckets_on_handmade_lines():
    base = ["a b c", "x y", "same", "p q r s"]
    sys_ = ["a b b d", "x", "same", "p q r t"]
    assert output_counts(base, sys_) == {"identical": 1, "longer": 1, "shorter": 1,
                                         "same_length": 1}
    gained, lost = piece_changes(base, sys_, str.split)
    assert gained == [("b", 1), ("d", 1), ("t", 1)]
    assert lost == [("c", 1), ("s", 1), ("y", 1)]
    labels = [lab for lab, _ in length_buckets(["w " * 3, "w " * 7, "w " * 50])]
    assert labels == ["1–5", "6–10", "41+"]
