"""One exit-code rule (docs/errors.md, core/errors.py): 2 when the request itself is wrong — an
option value, a recipe or override, a path named on the command line that does not exist or is
not what it should be, a choice out of range for the model or LM named — and 1 when a valid
request could not be carried out (damaged files, unreadable data, ...). Before: a missing run
folder was 2 in `report` but 1 in `score`, `translate` and `export`; `--layer 99` was 1 while
`--layer 0` was 2."""
from __future__ import annotations

import json

import pytest

from bertune_cli.main import main


def _exit(capsys, *args) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return info.value.code, err


@pytest.fixture()
def files(tmp_path):
    hyp, ref = tmp_path / "hyp.en", tmp_path / "ref.en"
    hyp.write_text("a cat sits on the mat\n", encoding="utf-8")
    ref.write_text("a cat sat on the mat\n", encoding="utf-8")
    (tmp_path / "empty").mkdir()
    return tmp_path, hyp, ref


def _missing(tmp, hyp, ref):
    nope = str(tmp / "nope")
    return {
        "report": ["report", nope, "--out", str(tmp / "r")],
        "score --model": ["score", str(hyp), str(ref), "-m", "bertscore", "--model", nope],
        "score hyp": ["score", nope, str(ref), "-m", "bleu"],
        "translate": ["translate", "-m", nope],
        "export": ["export", "-m", nope, "--out", str(tmp / "e")],
        "serve": ["serve", "-m", nope],
        "translate, not a run folder": ["translate", "-m", str(tmp / "empty")],
        "prepare --data-dir": ["prepare", "--data-dir", nope],
        "significance --scores": ["significance", str(ref), str(hyp), str(hyp), "-m",
                                  "bertscore", "--scores", nope, "--scores", nope],
    }


@pytest.mark.parametrize("case", [
    "report", "score --model", "score hyp", "translate", "export", "serve",
    "translate, not a run folder", "prepare --data-dir", "significance --scores"])
def test_a_path_named_on_the_command_line_that_does_not_exist_is_exit_2(case, files, capsys,
                                                                        runs_dir):
    code, err = _exit(capsys, *_missing(*files)[case])
    assert code == 2, err


@pytest.mark.parametrize("args", [
    ["score", "H", "R", "-m", "bertscore", "--layer", "0"],     # checked by Typer
    ["score", "H", "R", "-m", "bertscore", "--layer", "99"],    # checked once the LM is known
    ["score", "H", "R", "-m", "bertscore", "--lm", "./no/such/lm-folder"],
])
def test_an_lm_choice_that_cannot_be_is_exit_2(args, files, capsys):
    _, hyp, ref = files
    args = [str(hyp) if a == "H" else str(ref) if a == "R" else a for a in args]
    code, err = _exit(capsys, *args)
    assert code == 2, err
    assert ("out of range" in err or "does not exist" in err or
            "greater than or equal to 1" in err), err


@pytest.mark.parametrize("args", [
    ["prepare", "--pair", "no-such-recipe"], ["prepare", "--set", "train.lr=abc"],
    ["prepare", "--set", "eval.beam=0"], ["prepare", "--set", "name=../x"],
])
def test_a_bad_recipe_or_override_is_exit_2(args, capsys, runs_dir):
    code, err = _exit(capsys, *args)
    assert code == 2 and err.startswith("error:"), err
    assert not runs_dir.exists()


def test_a_request_that_is_valid_but_cannot_be_carried_out_is_exit_1(files, capsys):
    """A damaged checkpoint and unreadable data are not usage errors."""
    tmp, hyp, ref = files
    ckpt = tmp / "ckpt"
    ckpt.mkdir()
    (ckpt / "bertune.json").write_text(json.dumps(
        {"format": 1, "config": {"eval": {"beam": 2}}, "lm": {"name": "minilm"}}))
    (ckpt / "model.safetensors").write_bytes(b"not a safetensors file")
    code, err = _exit(capsys, "translate", "-m", str(ckpt))
    assert code == 1 and "is corrupt" in err, err
    bad = tmp / "bad.en"
    bad.write_bytes(b"caf\xe9\n")
    code, err = _exit(capsys, "score", str(bad), str(ref), "-m", "bleu")
    assert code == 1 and "invalid UTF-8" in err, err


def test_the_rule_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "errors.md").read_text()
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 130 |", "| 143 |"):
        assert code in doc
