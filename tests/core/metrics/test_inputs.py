"""Reading input files (sacrebleu's line semantics, one-line errors) and sentence-level files."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from bertune_cli.core.errors import DataError
from bertune_cli.core.metrics.inputs import digest, read_lines, read_parallel
from bertune_cli.core.metrics.sentences import (
    SentenceScores,
    read_sentence_scores,
    write_sentence_scores,
)


def test_lines_are_rstripped_with_universal_newlines(tmp_path):
    f = tmp_path / "a.txt"
    f.write_bytes("\ufeffone  \r\ntwo\rthree\t\n\nfive".encode("utf-8"))
    assert read_lines(f) == ["one", "two", "three", "", "five"]
    g = tmp_path / "a.txt.gz"
    g.write_bytes(gzip.compress(b"x\ny\n"))
    assert read_lines(g) == ["x", "y"]


@pytest.mark.parametrize("content,message", [
    (None, "file not found"), (b"", "is empty"), (b"ok\nbad \xff byte\n", r"f\.txt:2:5: invalid UTF-8 \(byte 0xff\)")])
def test_bad_files_are_one_line_data_errors(tmp_path, content, message):
    f = tmp_path / "f.txt"
    if content is not None:
        f.write_bytes(content)
    with pytest.raises(DataError, match=message) as exc:
        read_lines(f)
    assert "\n" not in str(exc.value) and "f.txt" in str(exc.value)


def test_line_counts_name_the_files(tmp_path):
    (tmp_path / "h.txt").write_text("a\nb\nc\n")
    (tmp_path / "r.txt").write_text("a\nb\n")
    with pytest.raises(DataError, match=r"reference .*r\.txt has 2 lines, hypothesis .*h\.txt has 3"):
        read_parallel([("hypothesis", tmp_path / "h.txt"), ("reference", tmp_path / "r.txt")])


@pytest.mark.parametrize("suffix", [".tsv", ".jsonl"])
def test_sentence_files_round_trip(tmp_path, suffix):
    values = np.array([0.1234567890123, 0.5, 1.0 / 3.0])
    scores = SentenceScores("h.txt", digest([["a"]]), digest([["b"]]), 3, {"F_BERT": "sig x"},
                            {"F_BERT_F": values, "BLEU": np.array([1.0, 2.0, 3.0])})
    back = read_sentence_scores(write_sentence_scores(tmp_path / f"s{suffix}", scores))
    assert back.signatures == {"F_BERT": "sig x"} and back.lines == 3 and back.hyp == "h.txt"
    np.testing.assert_array_equal(back.columns["F_BERT_F"], values)   # full precision


def test_foreign_or_truncated_score_files_are_refused(tmp_path):
    (tmp_path / "x.tsv").write_text("just\ttext\n")
    with pytest.raises(DataError, match="not a bertune sentence-level score file"):
        read_sentence_scores(tmp_path / "x.tsv")
    scores = SentenceScores("h", "0", "0", 3, {"F_BERT": "s"}, {"F_BERT_F": np.ones(3)})
    path = write_sentence_scores(tmp_path / "t.tsv", scores)
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(DataError, match="truncated"):
        read_sentence_scores(path)
