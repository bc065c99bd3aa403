"""F_BERT over texts equals ``bert_score.score`` 0.3.13 (bundled MiniLM, layer 5) to 1e-5:
idf on and off, one and two references, empty candidate and reference lines, rescaling."""
from __future__ import annotations

import numpy as np
import pytest

from bertune_cli.core.errors import DataError
from bertune_cli.core.lm.model import resolve_lm
from bertune_cli.core.metrics import bertscore as metric
from bertune_cli.core.metrics.bertscore import score_bertscore, score_systems


@pytest.fixture()
def bert_score_api(monkeypatch):
    """bert_score.score, with its empty-line encoding made to work on transformers 5: 0.3.13
    calls ``tokenizer.build_inputs_with_special_tokens([])`` (= [CLS] [SEP]), which
    transformers 5 removed; the patch returns exactly that, nothing else changes."""
    import bert_score
    import bert_score.utils as bu

    original = bu.sent_encode

    def sent_encode(tokenizer, sent):
        if sent.strip() == "":
            return [tokenizer.cls_token_id, tokenizer.sep_token_id]
        return original(tokenizer, sent)

    monkeypatch.setattr(bu, "sent_encode", sent_encode)

    def run(cands, refs, **kw):
        P, R, F = bert_score.score(cands, refs, model_type=resolve_lm("minilm"), num_layers=5,
                                   batch_size=64, nthreads=0, device="cpu", **kw)
        return P.numpy(), R.numpy(), F.numpy()
    return run


SUBSET = [*range(0, 8), *range(17, 25)]            # 16 segments, fast enough for every run


@pytest.fixture(scope="module")
def texts(sample):
    pick = lambda col: [sample[col][i] for i in SUBSET]    # noqa: E731
    refs2 = pick("ref2")
    refs2[5] = ""                                   # an empty reference line
    hyps = pick("sys_c")                            # sys_c line 24 is empty
    assert "" in hyps
    return hyps, pick("ref"), refs2


@pytest.mark.parametrize("idf", [False, True])
def test_one_reference_equals_bert_score(minilm, bert_score_api, texts, idf):
    hyps, refs, _ = texts
    mine = score_bertscore(hyps, [refs], minilm, idf=idf)
    P, R, F = bert_score_api(hyps, refs, idf=idf)
    for a, b in ((mine.P, P), (mine.R, R), (mine.F, F)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
    assert any("empty candidate" in w for w in mine.warnings)
    assert mine.F[hyps.index("")] == 0


@pytest.mark.parametrize("idf", [False, True])
def test_two_references_take_the_max_like_bert_score(minilm, bert_score_api, texts, idf):
    hyps, refs, refs2 = texts
    mine = score_bertscore(hyps, [refs, refs2], minilm, idf=idf)
    P, R, F = bert_score_api(hyps, [list(p) for p in zip(refs, refs2)], idf=idf)
    for a, b in ((mine.P, P), (mine.R, R), (mine.F, F)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
    assert any("empty reference" in w for w in mine.warnings)


@pytest.mark.filterwarnings("ignore::UserWarning")       # bert_score's own torch.from_numpy
def test_rescale_with_a_baseline_file_equals_bert_score(minilm, bert_score_api, sample, tmp_path):
    csv = tmp_path / "baseline.tsv"
    csv.write_text("LAYER,P,R,F\n" + "".join(f"{i},0.{30 + i},0.{31 + i},0.{32 + i}\n"
                                             for i in range(7)))
    hyps, refs = sample["sys_a"][:12], sample["ref"][:12]
    mine = score_bertscore(hyps, [refs], minilm, rescale=csv)
    P, R, F = bert_score_api(hyps, refs, rescale_with_baseline=True, baseline_path=str(csv),
                             lang="en")
    np.testing.assert_allclose(mine.F, F, atol=1e-5, rtol=0)
    np.testing.assert_allclose(mine.P, P, atol=1e-5, rtol=0)
    assert "-custom-rescaled[" in mine.signature
    with pytest.raises(DataError):
        score_bertscore(hyps, [refs], minilm, rescale=tmp_path / "missing.csv")


def test_systems_in_one_pass_equal_separate_calls_and_chunks(minilm, sample, monkeypatch):
    refs, a, b = (sample[k][:16] for k in ("ref", "sys_a", "sys_b"))
    together = score_systems([a, b], [refs], minilm)
    monkeypatch.setattr(metric, "CHUNK_PAIRS", 6)        # several chunks, small batches
    alone = score_bertscore(b, [refs], minilm, batch_size=4, max_batch_tokens=128)
    np.testing.assert_allclose(together[1].F, alone.F, atol=1e-6, rtol=0)
    assert together[0].corpus().score < together[1].corpus().score   # sys_b copies refs more


def test_signature_and_corpus_score(minilm, sample):
    out = score_bertscore(sample["sys_b"][:8], [sample["ref"][:8]], minilm)
    assert out.signature.startswith("minilm_L5_no-idf_version=bertune-")
    assert out.signature.endswith("_fast-tokenizer") and "(hug_trans=" in out.signature
    res = out.corpus()
    assert res.name == "F_BERT" and res.score == pytest.approx(100 * out.F.mean())
    assert set(res.details) >= {"P", "R", "F", "n"}


def test_mismatched_lengths_are_refused(minilm):
    with pytest.raises(DataError, match="2 lines but there are 3"):
        score_bertscore(["a", "b", "c"], [["a", "b"]], minilm)


def test_lines_longer_than_the_lm_are_truncated_like_bert_score_with_one_warning(
        minilm, bert_score_api):
    long = " ".join(["dog"] * 600)                  # 600 WordPieces: cut to 512 with [CLS]/[SEP]
    exact = " ".join(["cat"] * 510)                 # exactly 512 with [CLS]/[SEP]: not cut
    hyps = [long, "a dog runs on the grass .", exact]
    refs = ["a dog runs .", long + " again", "a cat sits ."]
    mine = score_bertscore(hyps, [refs], minilm)
    P, R, F = bert_score_api(hyps, refs)
    np.testing.assert_allclose(mine.F, F, atol=1e-5, rtol=0)
    np.testing.assert_allclose(mine.R, R, atol=1e-5, rtol=0)
    cut = [w for w in mine.warnings if "maximum of 512 tokens" in w]
    assert len(cut) == 1, mine.warnings
    assert cut[0].startswith("1 hypothesis and 1 reference line(s)") and "(line 1, 2)" in cut[0]
    assert "bert_score truncates" in cut[0]
    assert not any("maximum" in w for w in score_bertscore(hyps[1:], [refs[2:] + refs[:1]],
                                                            minilm).warnings)


def test_batches_are_of_one_length_where_padding_would_cost_more_than_a_call():
    lengths = [5] * 40 + [6] * 40 + [7] * 3 + [8] + [30]
    batches = list(metric._batches(list(range(len(lengths))), lengths, 64, 8192, slack=32))
    widths = [[lengths[i] for i in b] for b in batches]
    # 40 rows x 1 more token > 32: new batch; 3 rows x 1 <= 32: widened; 4 x 22 > 32: new
    assert widths == [[5] * 40, [6] * 40, [7, 7, 7, 8], [30]]
    assert [len(b) for b in metric._batches(list(range(100)), [4] * 100, 64, 8192)] == [64, 36]
    assert [len(b) for b in metric._batches(list(range(9)), [10] * 9, 64, 40)] == [4, 4, 1]
