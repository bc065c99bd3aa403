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
def checkpoint(tmp_path_factory, tiny_data_dir, minilm_tokenizer):
    from bertune_cli.core.data.source import SourceEncoder
    from bertune_cli.core.data.store import DataDir
    from bertune_cli.core.model.builders import build_model
    from bertune_cli.core.model.checkpoint import save_checkpoint
    from bertune_cli.core.model.vocab import LMSpecials, TargetVocab

    root = tmp_path_factory.mktemp("explain-cli")
    data = tiny_data_dir
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


def test_json_alone_has_the_score_and_n_best_its_help_promises(checkpoint):
    ckpt, src = checkpoint
    result = _run("-m", str(ckpt), "-i", str(src), "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(set(r) == {"translation", "score", "n_best"} for r in rows)
    assert rows[1] == {"translation": "", "score": 0.0, "n_best": [{"text": "", "score": 0.0,
                                                                    "tokens": 0}]}
    for row in rows[::2]:
        assert [h["text"] for h in row["n_best"]] == [row["translation"]]
        assert row["score"] == row["n_best"][0]["score"] < 0 and row["n_best"][0]["tokens"] > 0
    scored = _run("-m", str(ckpt), "-i", str(src), "--scores").stdout.splitlines()
    assert [f"{r['score']:.4f}\t{r['translation']}" for r in rows] == scored


def test_progress_is_plain_lines_on_a_piped_stderr(checkpoint, tmp_path):
    """`bertune translate -i F -o G 2> log`: no bar (a pipe cannot draw one) but plain lines
    with the count, the share and the rate (every line with BERTUNE_PROGRESS_EVERY=0)."""
    import os
    import subprocess
    import sys

    ckpt, src = checkpoint
    proc = subprocess.run([sys.executable, "-m", "bertune_cli.main", "translate", "--device",
                           "cpu", "-m", str(ckpt), "-i", str(src), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "BERTUNE_PROGRESS_EVERY": "0"})
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("translate: ")]
    assert lines[0].startswith("translate: 1/3 lines (33%), ") and "lines/s" in lines[0]
    assert lines[2].startswith("translate: 3/3 lines (100%), ")
    assert lines[-1].startswith("translate: done, ") and lines[-1].endswith(", 3 lines")
    assert "\x1b" not in proc.stderr and "\r" not in proc.stderr and proc.stdout == ""
    assert len((tmp_path / "o").read_text(encoding="utf-8").splitlines()) == 3
    bad = subprocess.run([sys.executable, "-m", "bertune_cli.main", "translate", "-m",
                          str(ckpt), "-i", str(src)], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "BERTUNE_PROGRESS_EVERY": "soon"})
    assert bad.returncode == 2 and "BERTUNE_PROGRESS_EVERY" in bad.stderr
