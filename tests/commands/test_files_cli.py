"""Files that are not what they claim, from the command line (the corrupt
checkpoint case lives beside the trained model, in test_train_translate_cli.py)."""
from __future__ import annotations

import pytest

from bertune_cli.main import main


def test_score_with_a_missing_lm_folder_says_the_folder_does_not_exist(tmp_path, capsys):
    hyp, ref = tmp_path / "h.txt", tmp_path / "r.txt"
    hyp.write_text("a cat\n")
    ref.write_text("the cat\n")
    missing = tmp_path / "models" / "my-bert"
    with pytest.raises(SystemExit) as info:
        main(["score", str(hyp), str(ref), "-m", "bertscore", "--lm", str(missing)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    # a path named on the command line that does not exist: exit 2 (docs/errors.md)
    assert info.value.code == 2 and len(lines) == 1, err
    assert f"LM folder {missing} does not exist" in lines[0] and "hf download" not in err
