"""`bertune translate` with explanation flags, on a saved tiny (untrained) checkpoint."""
from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from bertune_cli.main import app, main

torch.set_num_threads(1)  # tiny models; spinning OpenMP threads crawl on shared cores
SOURCE = "ein kleiner hund läuft im park .\n\ndie frau trägt ein rotes hemd .\n"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tiny_data, minilm_tokenizer):
    from bertune_cli.core.data.source import SourceEncoder
    from bertune_cli.core.data.store import DataDir
    from bertune_cli.core.model.builders import build_model
    from bertune_cli.core.model.checkpoint import save_checkpoint
    from bertune_cli.core.model.vocab import LMSpecials, TargetVocab

    root = tmp_path_factory.mktemp("explain-cli")
    data = tiny_data(root / "data")
    vocab = TargetVocab.build("shortlist", LMSpecials.from_tokenizer(minilm_tokenizer),
                              DataDir(data).shortlist())
    source = SourceEncoder.load(data)
    torch.manual_seed(0)
    model = build_model("transformer_tiny", source.vocab_size, vocab, dropout=0.1)
    meta = {"config": {"tgt": "en", "eval": {"beam": 2, "max_len_a": 0.0, "max_len_b": 6}},
            "lm": {"name": "minilm"}, "data": {}}
    src = root / "in.de"
    src.write_text(SOURCE, encoding="utf-8")
    return save_checkpoint(root / "ckpt", model, vocab=vocab, source=source, meta=meta), src


def _run(*args: str):
    return CliRunner().invoke(app, ["translate", "--device", "cpu", *args])


def test_json_lines_carry_the_explanations(checkpoint, tmp_path):
    ckpt, src = checkpoint
    result = _run("-m", str(ckpt), "-i", str(src), "--json", "--confidence", "--mc-dropout", "3",
                  "--attention", str(tmp_path / "att"), "--attention-matrix", "--attribution",
                  "--attribution-steps", "8", "--seed", "7")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3 and rows[1]["translation"] == ""
    row = rows[0]
    assert {"confidence", "mc_dropout", "attention", "attribution"} <= set(row)
    assert row["mc_dropout"]["seed"] == 7 and len(row["mc_dropout"]["outputs"]) == 3
    assert len(row["attention"]["matrix"]) == len(row["confidence"]["tokens"])
    assert row["attention"]["png"].endswith("line-000001.png")
    assert sorted(p.name for p in (tmp_path / "att").iterdir()) == ["line-000001.png",
                                                                   "line-000003.png"]
    plain = _run("-m", str(ckpt), "-i", str(src), "--json")
    assert [r["translation"] for r in rows] == [json.loads(x)["translation"]
                                                for x in plain.stdout.splitlines()]


def test_plain_output_with_attention_is_the_plain_translation(checkpoint, tmp_path):
    ckpt, src = checkpoint
    plain = _run("-m", str(ckpt), "-i", str(src), "--n-best", "2", "--scores")
    with_png = _run("-m", str(ckpt), "-i", str(src), "--n-best", "2", "--scores",
                    "--attention", str(tmp_path))
    assert with_png.exit_code == 0, with_png.output
    assert with_png.stdout == plain.stdout and len(plain.stdout.splitlines()) == 5
    assert len(list(tmp_path.glob("line-*.png"))) == 2
    no_matrix = _run("-m", str(ckpt), "-i", str(src), "--json", "--attention", str(tmp_path))
    assert "matrix" not in json.loads(no_matrix.stdout.splitlines()[0])["attention"]


def test_numbers_without_json_and_bad_layers_are_usage_errors(checkpoint, capsys):
    ckpt, src = checkpoint
    for args, message in ((["--confidence"], "add --json"),
                          (["--json", "--attention-matrix", "--attention-layer", "3"],
                           "out of range")):
        with pytest.raises(SystemExit) as exc:  # through main(), the console entry point
            main(["translate", "--device", "cpu", "-m", str(ckpt), "-i", str(src), *args])
        assert exc.value.code == 2 and message in capsys.readouterr().err
