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


def _run_dir(tmp_path, eval_section):
    run = tmp_path / "run" / "checkpoint_best"
    run.mkdir(parents=True)
    (run / "bertune.json").write_text(json.dumps({"config": {
        "lm": {"name": "minilm", "layer": 5}, "eval": eval_section}}))
    return tmp_path / "run"


def test_model_scores_with_the_runs_evaluation_settings_and_says_so(files, tmp_path):
    run = _run_dir(tmp_path, {"lowercase": True, "bleu_tokenize": "intl", "ms_lm": "minilm"})
    hyps = files["sys_a"].read_text(encoding="utf-8").splitlines()
    refs = [files["ref"].read_text(encoding="utf-8").splitlines()]
    result = CliRunner().invoke(app, ["score", str(files["sys_a"]), str(files["ref"]), "-m",
                                      "bleu,chrf", "--model", str(run), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    bleu, chrf = out["metrics"]
    assert bleu["score"] == sacrebleu.corpus_bleu(hyps, refs, lowercase=True,
                                                  tokenize="intl").score
    assert "case:lc" in bleu["signature"] and "tok:intl" in bleu["signature"]
    assert chrf["score"] == sacrebleu.CHRF(lowercase=True).corpus_score(hyps, refs).score
    assert out["settings"] == {"lowercase": True, "tokenize": "intl",
                               "source": f"run {run / 'checkpoint_best' / 'bertune.json'}"}
    assert "evaluation settings of the run" in result.stderr and "lowercase" in result.stderr
    cased = _json(files["sys_a"], files["ref"], "-m", "bleu", "--model", run, "--no-lowercase",
                  "--tokenize", "13a")
    assert cased["metrics"][0]["score"] == sacrebleu.corpus_bleu(hyps, refs).score


def test_lowercase_output_against_cased_references_warns_once(files, tmp_path):
    low = tmp_path / "low.txt"
    low.write_text(files["sys_a"].read_text(encoding="utf-8").lower(), encoding="utf-8")
    result = CliRunner().invoke(app, ["score", str(low), str(files["ref"]), "-m", "bleu"])
    assert result.exit_code == 0, result.output
    warnings = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(warnings) == 1 and warnings[0].startswith(
        "warning: the hypotheses have no uppercase letter while")
    assert "--lowercase" in warnings[0]
    quiet = CliRunner().invoke(app, ["score", str(low), str(files["ref"]), "-m", "bleu",
                                     "--lowercase"])
    assert quiet.exit_code == 0 and quiet.stderr.strip() == ""


def test_fbert_is_float32_unless_bf16_is_asked_and_then_signed(files):
    plain = _json(files["sys_a"], files["ref"], "-m", "bertscore")["metrics"][0]
    bf16 = _json(files["sys_a"], files["ref"], "-m", "bertscore", "--bf16")["metrics"][0]
    assert not plain["signature"].endswith("_bf16") and bf16["signature"].endswith("_bf16")
    assert bf16["score"] == pytest.approx(plain["score"], abs=1.0)


def test_scoring_reports_progress(files):
    from bertune_cli.core.evaluation.files import score_files

    seen = []
    score_files(files["sys_a"], [files["ref"]], ["bleu", "bertscore"],
                progress=lambda step, done, total: seen.append((step, done, total)))
    steps = [s for s, _, _ in seen]
    assert steps[0] == "preparing metrics" and "BLEU" in steps and "F_BERT" in steps
    fbert = [(d, t) for s, d, t in seen if s == "F_BERT" and t]
    assert fbert and fbert[-1][0] == fbert[-1][1] and fbert[-1][1] > 0


@pytest.mark.gpu
def test_fbert_on_cuda_is_the_cpu_float32_number(files):
    """Validation and test reports select and report the same F_BERT on a GPU as on a CPU."""
    cpu = _json(files["sys_a"], files["ref"], "-m", "bertscore", "--device", "cpu")
    gpu = _json(files["sys_a"], files["ref"], "-m", "bertscore", "--device", "cuda")
    a, b = cpu["metrics"][0], gpu["metrics"][0]
    assert a["signature"] == b["signature"] and "_bf16" not in b["signature"]
    assert a["score"] == pytest.approx(b["score"], abs=1e-4)
