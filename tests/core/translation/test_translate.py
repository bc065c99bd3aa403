"""Translator: same path as validation, order, empty lines, streaming, bad input, shortlist."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
import torch

from bertune_cli.core.errors import CheckpointError
from bertune_cli.core.translation import Translator, format_result

from tiny import tiny_recipe

# Tiny models gain nothing from a second thread, and spinning OpenMP threads on shared cores
# make each op 100x slower (see commands/train_baseline.py).
torch.set_num_threads(1)

@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_data_dir):
    """Its own run, not the shared tiny_baseline: the exactness checks below (batching,
    streaming, shortlist) were written on this 3-epoch, beam-3 model (same weights as before)."""
    from bertune_cli.core.loops.train_baseline import train_baseline

    root = tmp_path_factory.mktemp("translate")
    train_baseline(tiny_recipe("eval.beam=3"), tiny_data_dir, root / "baseline", device="cpu",
                   max_epochs=3)
    return tiny_data_dir, root / "baseline"


@pytest.fixture(scope="module")
def translator(trained):
    return Translator.load(trained[1], "cpu")


def _lines(data: Path, split: str = "test") -> list[str]:
    return (data / f"{split}.src.txt").read_text(encoding="utf-8").splitlines()


def test_validation_output_is_what_translate_gives(trained):
    """The last validation decoded through Translator.translate: same text, line for line."""
    data, run = trained
    last = Translator.load(run / "checkpoint_last", "cpu")
    hyps = last.translate(_lines(data, "valid"), options=last.options())
    assert hyps == (run / "valid.hyp.txt").read_text(encoding="utf-8").splitlines()


def test_order_is_kept_empty_lines_stay_empty_and_batching_does_not_matter(trained, translator):
    lines = _lines(trained[0])[:12]
    lines[3:3] = ["", "   "]
    batched = translator.translate(lines, beam=3)
    assert len(batched) == len(lines) and batched[3] == batched[4] == ""
    assert all(batched[i] for i in range(len(lines)) if lines[i].strip())
    one_by_one = [translator.translate([line], beam=3)[0] for line in lines]
    small = translator.translate(lines, beam=3, batch_tokens=16)
    assert batched == one_by_one == small


def test_n_best_and_scores(trained, translator):
    line = _lines(trained[0])[0]
    [hyps] = translator.translate([line], beam=4, n_best=3, return_scores=True)
    assert len(hyps) == 3 and all(h.score < 0 for h in hyps)
    assert hyps[0].text == translator.translate([line], beam=4)[0]
    # the score is the sentence log-probability: equals generate's own greedy transition scores
    [greedy] = translator.translate([line], beam=1, return_scores=True)
    ids = torch.tensor([translator.source.encode([line])[0]])
    out = translator.model.generate(input_ids=ids, num_beams=1, do_sample=False,
                                    max_new_tokens=40, output_scores=True,
                                    return_dict_in_generate=True)
    steps = [step.log_softmax(-1)[0, tok] for step, tok in zip(out.scores, out.sequences[0, 1:])]
    assert greedy[0].score == pytest.approx(sum(steps[:greedy[0].tokens]).item(), abs=1e-4)
    assert format_result(hyps, scores=True).count("\t") == 3
    assert '"n_best"' in format_result(hyps, scores=True, as_json=True)


def test_stream_answers_before_the_input_ends(trained, translator):
    first_line, later = _lines(trained[0])[:2]
    released = threading.Event()

    def slow_input():
        yield first_line + "\n"
        assert released.wait(60), "the translator waited for the whole input"
        yield later + "\n"

    stream = translator.stream(slow_input(), chunk_lines=64, wait=0.05, beam=2)
    first = next(stream)
    released.set()
    rest = list(stream)
    assert first == translator.translate([first_line], beam=2)[0] and len(rest) == 1


def test_bad_bytes_and_overlong_lines_warn_and_never_stop_the_stream(trained, translator,
                                                                     caplog):
    good = _lines(trained[0])[0]
    lines = [b"ein \xff\xfe satz\n", ("wort " * 3000).encode() + b"\n", b"\n",
             good.encode() + b"\r\n"]
    with caplog.at_level(logging.WARNING, logger="bertune.translate"):
        out = list(translator.stream(iter(lines), beam=1))
    assert len(out) == 4 and out[2] == "" and out[3] == translator.translate([good], beam=1)[0]
    text = caplog.text
    assert "line 1 is not valid UTF-8" in text and "line 2 has" in text and "truncated" in text


def test_a_shortlist_model_detokenizes_like_the_full_vocabulary_model(translator):
    """Embed the trained shortlist model in a 30522-way model (other rows get a -1e4 bias):
    beam search picks the same LM ids, so both give the same text."""
    from tiny import full_vocabulary_twin

    short, vocab = translator.model, translator.vocab
    full, full_vocab = full_vocabulary_twin(short, vocab)
    twin = Translator(full.eval(), full_vocab, translator.source, translator.codec)
    lines = ["ein kleiner hund", "die katze schläft im haus", "ich sehe zwei rote autos"]
    assert twin.translate(lines, beam=3) == translator.translate(lines, beam=3)
    a = twin.model.generate(input_ids=torch.tensor([translator.source.encode(lines[:1])[0]]),
                            num_beams=3, max_new_tokens=20)
    b = short.generate(input_ids=torch.tensor([translator.source.encode(lines[:1])[0]]),
                       num_beams=3, max_new_tokens=20)
    assert a.tolist() == vocab.to_lm(b).tolist()  # the same LM ids, step for step


def test_missing_checkpoint_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError):
        Translator.load(tmp_path / "missing")


def test_the_torch_engine_scores_its_own_outputs(trained, translator):
    """An engine on its own (no Translator around it) returns the sentence log-probabilities
    the Translator reports: the teacher-forced pass is the engine's."""
    from bertune_cli.core.engines.torch_engine import TorchEngine

    lines = _lines(trained[0])[:4]
    want = translator.translate(lines, beam=3, n_best=2, return_scores=True)
    engine = TorchEngine(translator.model, translator.vocab)
    srcs = translator.encode(lines)
    caps = [translator.length_cap(len(s), 1.2, 10) for s in srcs]
    got = engine.generate(srcs, beam=3, lenpen=1.0, max_new=caps, n_best=2, scores=True)
    assert [ids for ids, _ in got] == [h.ids for hyps in want for h in hyps]
    assert [lp for _, lp in got] == pytest.approx([h.score for hyps in want for h in hyps],
                                                  abs=1e-5)
    with torch.no_grad():
        lp, _ = engine.teacher_forced([got[0][0]], None, input_ids=torch.tensor([srcs[0]]),
                                      attention_mask=torch.ones(1, len(srcs[0]), dtype=torch.long))
    assert float(lp.sum()) == pytest.approx(got[0][1], abs=1e-5)


def test_generate_is_one_batch_of_translate(trained, translator):
    """The public steps: ``encode`` then ``generate`` on any batch give ``translate``'s output."""
    lines = _lines(trained[0])[:6]
    opts = translator.options(beam=2)
    hyps = translator.generate(translator.encode(lines)[::-1], opts)[::-1]
    assert [h[0].text for h in hyps] == translator.translate(lines, opts)


def test_validation_decodes_with_one_translator_per_loop(trained, translator):
    """LoopDecoder: the recipe's options, one Translator for every validation of a model, and
    the same output as a Translator made for the call."""
    from types import SimpleNamespace

    from bertune_cli.core.config.recipe import EvalConfig
    from bertune_cli.core.loops.validation import LoopDecoder

    lines = _lines(trained[0], "valid")[:8]
    ctx = SimpleNamespace(vocab=translator.vocab, source=translator.source,
                          codec=translator.codec, eval=EvalConfig(beam=2, max_len_b=6))
    decoder = LoopDecoder(ctx, "cpu")
    first = decoder(translator.model, lines)
    made = decoder.translator
    assert decoder(translator.model, lines) == first and decoder.translator is made
    assert first == translator.translate(lines, beam=2, max_len_b=6)
