"""A checkpoint works in plain transformers: AutoTokenizer loads its source and target
tokenizers, and the snippet in docs/reference/translate.md translates like `bertune translate`."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from bertune_cli.main import app

from tiny import tiny_recipe

torch.set_num_threads(1)
DOC = Path(__file__).resolve().parents[3] / "docs" / "reference" / "translate.md"
PLAIN = {"json", "pathlib", "torch", "sacremoses", "transformers"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tiny_data_dir):
    """Its own 3-update run, not the shared tiny_baseline: the snippet must read back beam 3 and
    lenpen 0.8, and the exactness check was written on this barely trained model (the demo
    recipe's lr and warm-up: the same weights as before)."""
    from bertune_cli.core.loops.train_baseline import train_baseline

    root = tmp_path_factory.mktemp("hf")
    recipe = tiny_recipe("train.lr=1e-3", "train.warmup_updates=150", "eval.beam=3",
                         "eval.lenpen=0.8")
    train_baseline(recipe, tiny_data_dir, root / "baseline", device="cpu", max_steps=3)
    return root / "baseline" / "checkpoint_best", tiny_data_dir


def _snippet() -> str:
    text = DOC.read_text(encoding="utf-8").split("## Translating with plain transformers", 1)[1]
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


def test_auto_tokenizer_loads_both_vocabularies_with_bertunes_ids(checkpoint):
    from transformers import AutoTokenizer

    from bertune_cli.core.data.source import SourceEncoder
    from bertune_cli.core.data.target import TargetCodec
    from bertune_cli.core.model.checkpoint import read_meta
    from bertune_cli.core.model.vocab import TargetVocab

    ckpt, data = checkpoint
    lines = (data / "test.src.txt").read_text(encoding="utf-8").splitlines()
    encoder = SourceEncoder.load(ckpt / "source")
    source = AutoTokenizer.from_pretrained(ckpt)
    assert source(encoder.tokenize(lines)).input_ids == encoder.encode(lines)
    assert (source.pad_token_id, source.eos_token_id) == (0, 2)

    meta = read_meta(ckpt)
    vocab = TargetVocab.from_dict(meta["target_vocab"])
    codec = TargetCodec.from_lm("minilm", "en")
    target = AutoTokenizer.from_pretrained(ckpt, subfolder="target")
    assert len(target) == len(vocab.lm_ids) < codec.vocab_size         # a shortlist model
    refs = (data / "test.tgt.txt").read_text(encoding="utf-8").splitlines()
    lm_ids = codec.encode(refs)
    model_ids = [vocab.from_lm(torch.as_tensor(s)).tolist() for s in lm_ids]
    assert target(refs).input_ids == model_ids                  # [CLS] ... [SEP], model ids
    assert (target.pad_token_id, target.cls_token_id, target.sep_token_id) == (
        vocab.pad_id, vocab.bos_id, vocab.eos_id)
    pieces = [codec._rust.decode([i for i in s if i not in codec.special_ids]) for s in lm_ids]
    assert target.batch_decode(model_ids, skip_special_tokens=True) == pieces


def test_the_documented_snippet_translates_like_bertune_translate(checkpoint):
    """Sentence by sentence (`--batch-tokens 1`): a padded batch can round floats differently
    (any two batch sizes can), and this barely trained model's near-ties would show it."""
    from sacremoses import MosesDetokenizer

    from bertune_cli.core.data.target import TargetCodec
    from bertune_cli.core.translation import Translator

    ckpt, data = checkpoint
    lines = (data / "test.src.txt").read_text(encoding="utf-8").splitlines()[:8]
    code = _snippet()
    imports = {a.name.split(".")[0] for n in ast.walk(ast.parse(code))
               if isinstance(n, (ast.Import, ast.ImportFrom))
               for a in ([ast.alias(n.module)] if isinstance(n, ast.ImportFrom) else n.names)}
    assert imports == PLAIN                                      # no bertune in the snippet
    code = code.replace('"runs/demo/baseline/checkpoint_best"', repr(str(ckpt)), 1)
    code = re.sub(r"^lines = \[.*?\]$", "lines = [LINE]", code, count=1, flags=re.M)
    code = compile(code.replace("print(translations)", ""), str(DOC), "exec")
    runs = []
    for line in lines:                                           # the snippet as a user runs it
        scope = {"LINE": line}
        exec(code, scope)
        assert scope["ev"]["beam"] == 3 and scope["ev"]["lenpen"] == 0.8
        runs.append(scope)

    translator = Translator.load(ckpt, "cpu")
    hyps = [translator.translate([line], return_scores=True, options=translator.options())[0][0]
            for line in lines]
    generated = [[t for t in s["out"][0, 1:].tolist() if t != 0] for s in runs]
    assert generated == [h.ids for h in hyps]                    # the same search, same ids
    src = Path(str(ckpt)).parent / "eight.de"
    src.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    cli = CliRunner().invoke(app, ["translate", "-m", str(ckpt), "-i", str(src),
                                   "--batch-tokens", "1", "--device", "cpu"])
    assert cli.exit_code == 0, cli.output
    bertune = cli.stdout.splitlines()
    assert bertune == [h.text for h in hyps]
    codec, moses = TargetCodec.from_lm("minilm", "en"), MosesDetokenizer(lang="en")
    for scope, ours in zip(runs, bertune):
        (plain,) = scope["translations"]
        (pieces,) = scope["target"].batch_decode(scope["out"], skip_special_tokens=True)
        assert plain == moses.detokenize(pieces.split())
        assert ours == codec.detokenize(pieces)
        # the only difference allowed: bertune's re-joins (t - shirt, 6 , 000, ...)
        assert plain == ours or codec.detokenize(pieces) != moses.detokenize(pieces.split())


def test_a_full_vocabulary_target_tokenizer_is_the_lm_tokenizer(minilm_tokenizer):
    """`full` target vocabulary: model ids are LM ids, so the target tokenizer gives the
    LM's own ids (and decodes them without clean-up)."""
    from tokenizers import Tokenizer

    from bertune_cli.core.model.hf_tokenizers import target_spec

    spec, specials = target_spec(minilm_tokenizer, list(range(len(minilm_tokenizer))))
    rust = Tokenizer.from_str(json.dumps(spec))
    text = "A man's T-shirt costs 6,000 dollars."
    assert rust.encode(text).ids == minilm_tokenizer(text).input_ids
    assert rust.decode(rust.encode(text).ids) == "a man ' s t - shirt costs 6 , 000 dollars ."
    assert specials["sep_token"] == "[SEP]" and specials["pad_token"] == "[PAD]"
