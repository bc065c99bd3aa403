"""CTranslate2 export and the ct2 engine: same outputs and scores as the torch engine."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bertune_cli.core.engines.export import cached_export, export_ctranslate2, is_export
from bertune_cli.core.errors import BertuneError, CheckpointError, UsageError
from bertune_cli.core.translation import Translator

from tiny import tiny_recipe

pytest.importorskip("ctranslate2")

# Tiny models gain nothing from a second thread, and spinning OpenMP threads on shared cores
# make each op 100x slower (see commands/train_baseline.py).
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_data_dir):
    """A tiny shortlist model trained for 8 epochs (256 updates: outputs are sentences, ~15
    distinct ones on 20 test lines, not one string for every line): its own run, not the
    shared one-epoch tiny_baseline, since the ct2-vs-torch comparisons need such outputs."""
    from bertune_cli.core.loops.train_baseline import train_baseline

    root = tmp_path_factory.mktemp("export")
    train_baseline(tiny_recipe("train.lr=5e-3", "eval.beam=3"), tiny_data_dir,
                   root / "baseline", device="cpu", max_epochs=8)
    return tiny_data_dir, root / "baseline"


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("ct2") / "float32"
    record = export_ctranslate2(trained[1], out, "float32")
    return out, record


@pytest.fixture(scope="module")
def engines(trained, exported):
    return (Translator.load(trained[1], "cpu"),
            Translator.load(exported[0], "cpu", engine="ct2"))


def _lines(data: Path) -> list[str]:
    return [line for split in ("test", "valid")
            for line in (data / f"{split}.src.txt").read_text(encoding="utf-8").splitlines()]


def test_the_export_folder_holds_vocabularies_in_model_id_order(trained, exported):
    from bertune_cli.core.lm.model import load_tokenizer

    out, record = exported
    meta = json.loads((out / "bertune.json").read_text(encoding="utf-8"))
    assert meta["export"]["quantization"] == "float32" == record["quantization"]
    assert "quant:float32" in record["signature"] and is_export(out)
    assert (out / "source" / "src_tokenizer.json").is_file()
    translator = Translator.load(trained[1], "cpu")
    target = json.loads((out / "target_vocabulary.json").read_text(encoding="utf-8"))
    lm_ids = translator.vocab.lm_ids.tolist()
    assert target == load_tokenizer("minilm").convert_ids_to_tokens(lm_ids)
    assert len(target) < 30522 and target[translator.vocab.bos_id] == "[CLS]"
    source = json.loads((out / "source_vocabulary.json").read_text(encoding="utf-8"))
    assert len(source) == translator.model.config.vocab_size
    assert [source[i] for i in translator.source.encode(["ein hund"])[0]][-1] == "</s>"
    assert meta["export"]["suppress_tokens"] == ["[PAD]", "[CLS]"]


def test_float32_ct2_gives_the_torch_engines_output_on_the_test_file(trained, engines):
    """The bar is >= 95% identical lines; on this model it is 40/40 (ties between
    hypotheses of equal score are the only expected source of differences)."""
    torch_engine, ct2_engine = engines
    lines = _lines(trained[0])
    a, b = torch_engine.translate(lines, beam=3), ct2_engine.translate(lines, beam=3)
    same = sum(x == y for x, y in zip(a, b))
    assert same / len(lines) >= 0.95, f"{same}/{len(lines)} identical"
    assert len(set(a)) > len(lines) // 4  # a trained model: not one string for every line


def test_scores_and_n_best_match_the_torch_engine(trained, engines):
    """CTranslate2 returns logprob / length**lenpen; the engine multiplies back, so scores are
    the sentence log-probabilities the torch engine computes by teacher forcing."""
    torch_engine, ct2_engine = engines
    lines = _lines(trained[0])[:8]
    for lenpen in (1.0, 0.6):
        a = torch_engine.translate(lines, beam=4, n_best=2, lenpen=lenpen, return_scores=True)
        b = ct2_engine.translate(lines, beam=4, n_best=2, lenpen=lenpen, return_scores=True)
        for x, y in zip(a, b):
            assert [h.text for h in x] == [h.text for h in y]
            assert [h.tokens for h in x] == [h.tokens for h in y]
            assert [h.score for h in y] == pytest.approx([h.score for h in x], abs=1e-4)


def test_max_length_rule_batching_stream_and_empty_lines(trained, engines):
    torch_engine, ct2_engine = engines
    lines = _lines(trained[0])[:10]
    lines[2:2] = ["", "  "]
    short = dict(beam=2, max_len_a=0.0, max_len_b=3)  # every output cut at 3 pieces
    assert ct2_engine.translate(lines, **short) == torch_engine.translate(lines, **short)
    full = ct2_engine.translate(lines, beam=2)
    assert full[2] == full[3] == ""
    assert ct2_engine.translate(lines, beam=2, batch_tokens=16) == full
    assert list(ct2_engine.stream(iter(lines), chunk_lines=3, beam=2)) == full


def test_a_full_vocabulary_model_with_a_logits_bias_exports_too(trained, engines, tmp_path):
    """The shortlist model embedded in a 30522-way model (other rows get a -1e4
    final_logits_bias): the exported full-vocabulary model gives the same text."""
    from bertune_cli.core.model.checkpoint import read_meta, save_checkpoint

    from tiny import full_vocabulary_twin

    torch_engine, _ = engines
    full, full_vocab = full_vocabulary_twin(torch_engine.model, torch_engine.vocab)
    meta = {k: v for k, v in read_meta(trained[1]).items() if k in ("config", "lm", "data")}
    save_checkpoint(tmp_path / "full", full, vocab=full_vocab, source=torch_engine.source,
                    meta=meta)
    export_ctranslate2(tmp_path / "full", tmp_path / "full-ct2")
    ct2_full = Translator.load(tmp_path / "full-ct2", "cpu", engine="ct2")
    lines = ["ein hund", "die katze schläft", "wir essen heute"]
    assert ct2_full.translate(lines, beam=3) == torch_engine.translate(lines, beam=3)


def test_int8_export_records_its_quantization_and_translates(trained, engines, tmp_path):
    record = export_ctranslate2(trained[1], tmp_path / "int8", "int8")
    int8 = Translator.load(tmp_path / "int8", "cpu", engine="ct2")
    assert record["quantization"] == "int8" and int8.engine.quantization == "int8"
    assert "quant:int8" in int8.engine.signature()
    lines = _lines(trained[0])
    out = int8.translate(lines, beam=3)
    ref = engines[0].translate(lines, beam=3)
    # The tiny model is barely trained, so its beams are close calls and which of them int8
    # flips depends on the CPU's int8 kernels (exact matches: 8 to 40 of 40 across machines);
    # int8 must stay close to float32 in BLEU all the same. The demo: 498/500 exact (README).
    import sacrebleu

    agreement = sacrebleu.corpus_bleu(out, [ref]).score
    print(f"int8 vs float32: {sum(x == y for x, y in zip(out, ref))}/{len(lines)} exact, "
          f"BLEU {agreement:.1f}")
    assert all(out) and agreement >= 35  # a broken int8 export scores near 0


def test_a_run_directory_is_exported_once_into_the_cache(trained, runs_dir):
    first = Translator.load(trained[1], "cpu", engine="ct2")
    folder = first.engine.folder
    assert folder.parent.name == "ct2" and is_export(folder)
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert cached_export(trained[1]) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp  # reused, not rewritten


def test_exporter_errors_are_one_line(trained, exported, tmp_path):
    out, best = exported[0], trained[1] / "checkpoint_best"
    cases = [
        (UsageError, lambda: export_ctranslate2(trained[1], tmp_path / "x", "int4")),
        (UsageError, lambda: export_ctranslate2(trained[1], out)),                # exists
        (UsageError, lambda: export_ctranslate2(out, tmp_path / "y")),            # an export
        (UsageError, lambda: export_ctranslate2(trained[1], best / "ct2")),          # inside
        (CheckpointError, lambda: export_ctranslate2(tmp_path / "nothing", tmp_path / "z")),
        (CheckpointError, lambda: Translator.load(out, "cpu")),                   # torch engine
        (UsageError, lambda: Translator.load(trained[1], "cpu", engine="onnx")),
    ]
    for kind, call in cases:
        with pytest.raises(kind) as info:
            call()
        assert isinstance(info.value, BertuneError) and "\n" not in str(info.value)
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".*tmp*"))


@pytest.mark.parametrize("content", ["[1, 2]", "not json", "\xff"])
def test_a_damaged_export_bertune_json_is_one_checkpoint_error(tmp_path, content):
    """An export folder whose bertune.json is not a JSON object: the strict reader says so in
    one line; the lenient one (``export --force``, serve's page) sees no bertune export."""
    from bertune_cli.core.engines.export import export_meta, is_bertune_export, read_export

    (tmp_path / "model.bin").write_bytes(b"")
    (tmp_path / "bertune.json").write_bytes(content.encode("latin-1"))
    with pytest.raises(CheckpointError, match="bertune.json is (not a JSON object|unreadable)"):
        read_export(tmp_path)
    assert export_meta(tmp_path) == {} and not is_bertune_export(tmp_path)
