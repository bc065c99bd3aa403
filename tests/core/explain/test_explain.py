"""core/explain/ on tiny untrained models (shortlist and full vocabulary): confidence equals
the decoding distribution, MC dropout is seeded and leaves the model alone, attention rows sum
to 1, Integrated Gradients is complete, PNGs are written, words group Moses-detokenized text."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bertune_cli.core.errors import UsageError
from bertune_cli.core.explain import explain, explain_stream, format_explained, words_of
from bertune_cli.core.translation import Translator, format_result

torch.set_num_threads(1)  # tiny models; spinning OpenMP threads crawl on shared cores
LINES = ["ein kleiner hund läuft im park .", "", "die frau trägt ein rotes hemd ."]


@pytest.fixture(scope="module")
def data(tiny_data_dir):
    """The session's prepared tiny data (read only: the models here are built, not trained)."""
    return tiny_data_dir


def _translator(data, minilm_tokenizer, kind: str, dropout: float = 0.1) -> Translator:
    from bertune_cli.core.data.source import SourceEncoder
    from bertune_cli.core.data.store import DataDir
    from bertune_cli.core.data.target import TargetCodec
    from bertune_cli.core.model.builders import build_model
    from bertune_cli.core.model.vocab import LMSpecials, TargetVocab

    vocab = TargetVocab.build(kind, LMSpecials.from_tokenizer(minilm_tokenizer),
                              DataDir(data).shortlist() if kind == "shortlist" else None)
    source = SourceEncoder.load(data)
    torch.manual_seed(0)
    model = build_model("transformer_tiny", source.vocab_size, vocab, dropout=dropout)
    return Translator(model, vocab, source, TargetCodec(minilm_tokenizer, "en", "minilm"),
                      "cpu")


@pytest.fixture(scope="module", params=["shortlist", "full"])
def tr(request, data, minilm_tokenizer):
    return _translator(data, minilm_tokenizer, request.param)


@pytest.fixture(scope="module")
def short(data, minilm_tokenizer):
    """The shortlist model only, for what does not touch the output vocabulary."""
    return _translator(data, minilm_tokenizer, "shortlist")


def test_confidence_is_the_decoding_distribution(tr):
    """Golden: token log-probs sum to Translator._score's sentence log-prob, and with beam 1
    each equals generate's own (processed) step distribution at the token it chose."""
    rows = explain(tr, LINES, beam=3, return_scores=True)
    for row, line in zip(rows, LINES):
        conf = row["confidence"]
        if not line:
            assert row["translation"] == "" and conf["tokens"] == [] and conf["mean_prob"] is None
            continue
        lps = [t["logprob"] for t in conf["tokens"]]
        assert sum(lps) == pytest.approx(row["score"], abs=1e-4)
        assert conf["logprob"] == pytest.approx(row["score"], abs=1e-4)
        probs = np.exp(lps)
        assert conf["mean_prob"] == pytest.approx(probs.mean())
        assert conf["min_prob"] == pytest.approx(probs.min())
        assert conf["logprob_per_token"] == pytest.approx(np.mean(lps))
    [row] = explain(tr, LINES[:1], beam=1, max_len_a=0.0, max_len_b=8)
    ids = torch.tensor([tr.source.encode(LINES[:1])[0]])
    out = tr.model.generate(input_ids=ids, num_beams=1, do_sample=False, max_new_tokens=8,
                            output_scores=True, return_dict_in_generate=True)
    steps = [s.log_softmax(-1)[0, tok].item() for s, tok in zip(out.scores, out.sequences[0, 1:])]
    got = [t["logprob"] for t in row["confidence"]["tokens"]]
    assert got == pytest.approx(steps[:len(got)], abs=1e-4)


def test_plain_translate_fields_are_unchanged(short):
    """The explained line carries exactly translate --json's fields, and its plain form is the
    plain translate output."""
    for opts in ({}, {"n_best": 2, "return_scores": True}):
        rows = explain(short, LINES, beam=2, **opts)
        plain = short.translate(LINES, beam=2, **opts)
        scores = bool(opts.get("return_scores"))
        for row, result in zip(rows, plain):
            expected = json.loads(format_result(result, scores, as_json=True))
            assert {k: row[k] for k in expected} == expected
            assert format_explained(row, scores) == format_result(result, scores)
        assert all(set(r) - set(expected) == {"confidence", "explain_signature"} for r in rows)


def test_words_are_the_detokenized_words(minilm_tokenizer):
    """WordPiece merges, the codec's joins and Moses' re-attached punctuation: each word of the
    output holds exactly the pieces whose characters it shows."""
    from bertune_cli.core.data.target import TargetCodec

    codec = TargetCodec(minilm_tokenizer, "en", "minilm")
    text = 'it\'s a t-shirt, "worth" 6,000 dollars (u.s.) -- unbelievable!'
    ids = codec.encode([text])[0]
    pieces = minilm_tokenizer.convert_ids_to_tokens(ids)
    shown = [None if i in codec.special_ids else p for i, p in zip(ids, pieces)]
    decoded = codec.decode([ids])[0]
    words, owner = words_of(shown, decoded)
    assert words == decoded.split() and len(words) < len([p for p in shown if p])
    for k, word in enumerate(words):
        glued = "".join(p.removeprefix("##") for p, w in zip(shown, owner) if w == k)
        assert glued == word
    assert owner[0] is None and owner[-1] is None  # [CLS], [SEP]
    assert all(w is not None for p, w in zip(shown, owner) if p)


def test_confidence_words_group_every_piece(tr):
    [row] = explain(tr, ["zwei männer spielen fußball auf dem platz ."], beam=2)
    conf = row["confidence"]
    words = conf["words"]
    assert [w["text"] for w in words] == row["translation"].split()
    for w in words:
        probs = [conf["tokens"][t]["prob"] for t in w["tokens"]]
        assert w["prob"] == pytest.approx(np.prod(probs)) and w["min_prob"] == min(probs)
    assert sorted(t for w in words for t in w["tokens"]) == [
        i for i, t in enumerate(conf["tokens"]) if t["word"] is not None]


def test_mc_dropout_is_seeded_reproducible_and_leaves_the_model_alone(short):
    before = short.translate(LINES, beam=2)
    rng = torch.get_rng_state()
    a = explain(short, LINES, beam=2, mc_dropout=4, seed=1, confidence=False)
    b = explain(short, LINES[::-1], beam=2, mc_dropout=4, seed=1, confidence=False)[::-1]
    c = explain(short, LINES, beam=2, mc_dropout=4, seed=2, confidence=False)
    assert torch.equal(torch.get_rng_state(), rng)      # the caller's RNG is untouched
    assert not short.model.training and short.translate(LINES, beam=2) == before
    assert a[0]["mc_dropout"] == b[0]["mc_dropout"]     # order and batching do not matter
    mc = a[0]["mc_dropout"]
    assert mc["passes"] == 4 and len(mc["outputs"]) == 4 and mc["logprob_var"] > 0
    assert mc["logprob_var"] != c[0]["mc_dropout"]["logprob_var"]
    import sacrebleu

    assert mc["bleu_mean"] == pytest.approx(np.mean([  # sentence BLEU against the main output
        sacrebleu.sentence_bleu(o, [a[0]["translation"]]).score for o in mc["outputs"]]))
    assert mc["exact_match"] == np.mean([o == a[0]["translation"] for o in mc["outputs"]])
    assert a[1]["mc_dropout"]["logprob_mean"] is None and a[1]["mc_dropout"]["outputs"] == []
    assert "mc:4|seed:1" in a[0]["explain_signature"]


def test_attention_rows_sum_to_one_batched_or_alone(tr, tmp_path):
    rows = explain(tr, LINES, beam=2, attention=True, attention_layer=0,
                   attention_dir=tmp_path, confidence=False)
    alone = explain(tr, LINES[2:], beam=2, attention=True, attention_layer=0,
                    confidence=False)[0]["attention"]
    att = rows[2]["attention"]
    m = np.array(att["matrix"])
    assert m.shape == (len(att["target"]), len(att["source"])) and att["source"][-1] == "</s>"
    assert np.allclose(m.sum(1), 1.0, atol=1e-4)
    assert np.allclose(m, np.array(alone["matrix"]), atol=1e-5)  # padding in a batch: no effect
    assert att["alignment"] == m.argmax(1).tolist() and att["layer"] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line-000001.png", "line-000003.png"]
    assert (tmp_path / "line-000003.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert rows[1]["attention"]["matrix"] == []


def test_a_plot_that_fails_to_render_leaves_neither_png_nor_temporary(monkeypatch, tmp_path):
    from matplotlib.figure import Figure

    from bertune_cli.core.explain.plots import save_attention

    att = {"source": ["ein", "</s>"], "target": ["a", "[SEP]"], "matrix": [[0.9, 0.1], [0.2, 0.8]],
           "layer": 0, "layers": 1, "heads": 2}
    path, missing = save_attention(att, tmp_path / "ok.png", "ein", "a")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and missing == ""

    def broken(self, *args, **kwargs):
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError):
        save_attention(att, tmp_path / "bad.png", "ein", "a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.png"]


def test_attention_uses_a_twin_and_never_changes_the_model(short):
    impl = short.model.config._attn_implementation
    explain(short, LINES[:1], beam=2, attention=True, attention_matrix=False, confidence=False)
    assert short.model.config._attn_implementation == impl and not short.model.training
    with pytest.raises(UsageError, match="out of range"):
        explain(short, LINES[:1], attention=True, attention_layer=5)


def test_integrated_gradients_are_complete(tr):
    """Completeness (the IG axiom): for every output token, the attributions over the source
    words sum to f(input) - f(baseline), up to captum's reported convergence delta."""
    [row] = explain(tr, LINES[:1], beam=2, max_len_a=0.0, max_len_b=4, attribution=True,
                    attribution_steps=32, confidence=False)
    att = row["attribution"]
    ids = tr.source.encode(LINES[:1])[0]
    hyp = tr.translate(LINES[:1], beam=2, max_len_a=0.0, max_len_b=4, return_scores=True)[0][0]
    assert att["source_words"] == ["ein", "kleiner", "hund", "läuft", "im", "park", "."]
    enc = tr.model.get_encoder()
    src = torch.tensor([ids])
    with torch.no_grad():
        emb = enc.embed_tokens(src)
        base = emb * src.eq(tr.source.eos_id).unsqueeze(-1)
        f = [tr.teacher_forced([hyp.ids], None, inputs_embeds=e * enc.embed_scale,
                               attention_mask=torch.ones_like(src))[0][0].numpy()
             for e in (emb, base)]
    total = np.array(att["matrix"]).sum(1)                        # (T,)
    assert len(total) == len(hyp.ids) == len(att["delta"])
    assert total == pytest.approx(f[0] - f[1] + np.array(att["delta"]), abs=1e-4)
    assert np.abs(att["delta"]).max() < 0.05 * max(1.0, np.abs(f[0] - f[1]).max())


def test_stream_numbers_pngs_by_line_and_options_are_checked(short, tmp_path):
    rows = list(explain_stream(short, iter([b"ein hund\n", b"\n", b"zwei katzen\n"]),
                               chunk_lines=1, attention_dir=tmp_path, beam=1))
    assert len(rows) == 3 and rows[1]["translation"] == ""
    assert rows[2]["attention"]["png"].endswith("line-000003.png")
    with pytest.raises(UsageError):
        explain(short, ["x"], mc_dropout=-1)


def test_no_dropout_model_warns(data, minilm_tokenizer, caplog):
    tr = _translator(data, minilm_tokenizer, "shortlist", dropout=0.0)
    with caplog.at_level("WARNING", logger="bertune.explain"):
        [row] = explain(tr, LINES[:1], beam=1, mc_dropout=2, confidence=False)
    assert "no dropout" in caplog.text and row["mc_dropout"]["logprob_var"] == pytest.approx(0)


def test_fonts_cover_scripts_or_name_what_is_missing(monkeypatch):
    from matplotlib import font_manager

    from bertune_cli.core.explain import plots as explain_plot

    families, missing = explain_plot.pick_fonts("hund ünd")
    assert families == ["DejaVu Sans"] and missing == ""
    has_deva = any("Devanagari" in f.name for f in font_manager.fontManager.ttflist)
    families, missing = explain_plot.pick_fonts("नमस्ते dog")
    assert (missing == "") == has_deva and (len(families) > 1) == has_deva
    monkeypatch.setattr(explain_plot, "_candidates", lambda: ())  # no fallback fonts at all
    families, missing = explain_plot.pick_fonts("नमस्ते dog")
    assert families == ["DejaVu Sans"] and set(missing) == set("नमस्ते") - {" "}


def test_translating_on_another_thread_meanwhile_is_unaffected(short):
    """What a server does: MC dropout and attention run on the twin, so translations made on
    another thread at the same time see the eval-mode model."""
    import threading

    expected = short.translate(LINES, beam=2)
    seen, stop = [], threading.Event()

    def translate_until_stopped():
        while not stop.is_set():
            seen.append(short.translate(LINES, beam=2))

    worker = threading.Thread(target=translate_until_stopped)
    worker.start()
    try:
        explain(short, LINES * 2, beam=2, mc_dropout=8, attention=True, confidence=False)
    finally:
        stop.set()
        worker.join()
    assert seen and all(out == expected for out in seen)


def test_mc_dropout_agreement_of_identical_outputs_is_100_exactly():
    """sacrebleu scores a perfect match 100.00000000000004 (exp of a mean log); the agreement
    is rounded like the other explanation numbers, so it prints 100.0 (and 50.0 for half)."""
    from sacrebleu.metrics import BLEU

    from bertune_cli.core.explain import mean_sentence_bleu

    bleu = BLEU(effective_order=True)
    assert bleu.sentence_score("a man walks .", ["a man walks ."]).score != 100.0
    assert mean_sentence_bleu(bleu, ["a man walks ."] * 3, "a man walks .") == 100.0
    assert mean_sentence_bleu(bleu, ["a man walks .", "zzz"], "a man walks .") == 50.0


def test_explain_uses_only_the_translators_public_api():
    """No module of core/explain reaches into a Translator's private attributes (``tr._x``),
    so the Translator can change inside without breaking explanations."""
    import ast
    from pathlib import Path

    import bertune_cli.core.explain as package

    names = {"tr", "translator", "twin", "eager"}
    folder = Path(package.__file__).parent
    private = [f"{path.name}:{node.lineno} {node.value.id}.{node.attr}"
               for path in sorted(folder.glob("*.py"))
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.Attribute) and node.attr.startswith("_")
               and isinstance(node.value, ast.Name) and node.value.id in names]
    assert len(list(folder.glob("*.py"))) >= 7 and private == []
