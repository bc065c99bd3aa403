"""`bertune export` and `bertune translate --engine ct2` from the command line."""
from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from bertune_cli.core.translation import Translator
from bertune_cli.main import app

pytest.importorskip("ctranslate2")
torch.set_num_threads(1)  # tiny models; spinning OpenMP threads crawl on shared cores


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=True)


@pytest.fixture(scope="module")
def run(tiny_data_dir, tiny_baseline):
    """The session's tiny data and baseline, read as they are: enough for the command plumbing
    (test_export.py checks the outputs of a longer-trained model)."""
    return tiny_data_dir, tiny_baseline


def test_export_then_translate_with_the_ct2_engine(run, tmp_path, runs_dir):
    data, baseline = run
    out = tmp_path / "ct2-int8"
    result = _invoke("export", "--model", str(baseline), "--format", "ctranslate2",
                     "--quantization", "int8", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["quantization"] == "int8" and record["out"] == str(out)
    src = data / "test.src.txt"
    hyp = tmp_path / "test.en"
    result = _invoke("translate", "-m", str(out), "--engine", "ct2", "-i", str(src),
                     "-o", str(hyp), "--device", "cpu")
    assert result.exit_code == 0, result.output
    lines = src.read_text(encoding="utf-8").splitlines()
    expected = Translator.load(out, "cpu", engine="ct2").translate(lines, beam=2)
    assert hyp.read_text(encoding="utf-8").splitlines() == expected
    # a run directory is exported on the fly (into $BERTUNE_HOME/ct2)
    result = _invoke("translate", "-m", str(baseline), "--engine", "ct2", "-i", str(src),
                     "--device", "cpu", "--json", "--scores")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == len(lines) and all(row["score"] <= 0 for row in rows)


def test_bad_options_are_one_red_line(run, tmp_path, runs_dir, capsys):
    from bertune_cli.main import main

    _, baseline = run
    cases = [["export", "-m", str(baseline), "--out", str(tmp_path / "x"), "--format", "onnx"],
             ["export", "-m", str(baseline), "--out", str(tmp_path / "x"), "-q", "int4"],
             ["export", "-m", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")],
             ["translate", "-m", str(baseline), "--engine", "ct2", "--json", "--confidence"],
             ["translate", "-m", str(baseline), "--engine", "onnx"]]
    for args in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code in (1, 2)
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err, err
    assert not (tmp_path / "x").exists()
