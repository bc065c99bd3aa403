"""`bertune score` from the command line: tables, JSON, sentence-level files, the LM from a run,
and one-line errors (exit != 0, no traceback) for every kind of bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sacrebleu
from typer.testing import CliRunner

from bertune_cli.main import app, main

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "evaluation_sample.tsv"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The test texts (segments 9-24, sys_c has an empty line) as files: ref, ref2, sys_a, ..."""
    rows = [line.split("\t") for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    root = tmp_path_factory.mktemp("score")
    out = {}
    for i, name in enumerate(rows[0]):
        out[name] = root / f"{name}.txt"
        out[name].write_text("".join(r[i] + "\n" for r in rows[9:25]), encoding="utf-8")
    return out


def _json(*args):
    result = CliRunner().invoke(app, ["score", *map(str, args), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _error(capsys, *args):
    """Run through main() (the console entry point): exit code and stderr."""
    with pytest.raises(SystemExit) as exc:
        main(["score", *map(str, args)])
    return exc.value.code, capsys.readouterr().err


def test_default_table_has_bleu_and_fbert_with_signatures(files):
    result = CliRunner().invoke(app, ["score", str(files["sys_a"]), str(files["ref"])])
    assert result.exit_code == 0, result.output
    assert "BLEU" in result.stdout and "F_BERT" in result.stdout
    assert "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0" in result.stdout
    assert "minilm_L5_no-idf_version=bertune-" in result.stdout


def test_json_numbers_equal_sacrebleu_with_two_references(files):
    out = _json(files["sys_a"], files["ref"], files["ref2"], "-m", "bleu,chrf", "-m", "ter")
    hyps = files["sys_a"].read_text(encoding="utf-8").splitlines()
    refs = [files[r].read_text(encoding="utf-8").splitlines() for r in ("ref", "ref2")]
    by_name = {m["name"]: m for m in out["metrics"]}
    assert by_name["BLEU"]["score"] == sacrebleu.corpus_bleu(hyps, refs).score
    assert by_name["chrF2"]["score"] == sacrebleu.corpus_chrf(hyps, refs).score
    assert by_name["TER"]["score"] == sacrebleu.corpus_ter(hyps, refs).score
    assert by_name["BLEU"]["signature"].startswith("nrefs:2|")
    assert out["lines"] == 16


def test_sentence_level_file_and_lm_from_a_run(files, tmp_path):
    run = tmp_path / "run" / "checkpoint_best"
    run.mkdir(parents=True)
    (run / "bertune.json").write_text(json.dumps({"config": {"lm": {"name": "minilm",
                                                                     "layer": 4}}}))
    tsv = tmp_path / "s.tsv"
    out = _json(files["sys_c"], files["ref"], "-m", "bertscore", "--model", tmp_path / "run",
                "--sentence-level", tsv)
    fbert = out["metrics"][0]
    assert fbert["signature"].startswith("minilm_L4_no-idf")
    assert any("empty candidate" in w for w in out["warnings"])
    lines = tsv.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#bertune-sentence-scores\t1" and len(lines) == 6 + 1 + 16
    f = np.array([float(x.split("\t")[3]) for x in lines[7:]])
    assert 100 * f.mean() == pytest.approx(fbert["score"])


@pytest.mark.parametrize("case", ["counts", "missing", "empty", "utf8", "metric", "spaces",
                                  "run"])
def test_bad_input_is_one_line(files, tmp_path, capsys, case):
    bad = tmp_path / "bad.txt"
    args = {"counts": lambda: (bad.write_text("one\ntwo\n"), [bad, files["ref"]])[1],
            "missing": lambda: [tmp_path / "nope.txt", files["ref"]],
            "empty": lambda: (bad.write_text(""), [bad, files["ref"]])[1],
            "utf8": lambda: (bad.write_bytes(b"caf\xe9\n"), [bad, files["ref"]])[1],
            "metric": lambda: [files["sys_a"], files["ref"], "-m", "meteor"],
            "spaces": lambda: [files["sys_a"], files["ref"], "-m", "bleu", "chrf"],
            "run": lambda: [files["sys_a"], files["ref"], "-m", "bertscore", "--model", tmp_path],
            }[case]()
    code, err = _error(capsys, *args, "-m", "bleu") if case not in ("metric", "spaces", "run") \
        else _error(capsys, *args)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in err
    expected = {"counts": "bad.txt has 2", "missing": "file not found",
                "empty": "is empty", "utf8": "bad.txt:1:4: invalid UTF-8 (byte 0xe9)",
                "metric": "unknown metric", "spaces": "looks like a metric name",
                "run": "no bertune.json"}[case]
    assert expected in lines[0]
    if case == "counts":
        assert "ref.txt has 16 lines" in lines[0]


def test_lm_not_available_offline_is_one_line(files):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "bertune_cli.main", "score", str(files["sys_a"]),
                          str(files["ref"]), "-m", "bertscore", "--lm", "no-such-org/no-such-lm",
                          "--layer", "3"], capture_output=True, text=True, env=env, timeout=300)
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert len(lines) == 1 and "not available offline" in lines[0], out.stderr
