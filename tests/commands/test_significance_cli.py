"""`bertune significance` from the command line: sacrebleu-identical tests, F_BERT from score
files, refusal to mix signatures or files, JSON output, one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bertune_cli.core.evaluation.significance import paired_test
from bertune_cli.core.metrics.stats import SacreMetric
from bertune_cli.main import app, main

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "evaluation_sample.tsv"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    rows = [line.split("\t") for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    root = tmp_path_factory.mktemp("sig")
    out = {}
    for i, name in enumerate(rows[0]):
        out[name] = root / f"{name}.txt"
        out[name].write_text("".join(r[i] + "\n" for r in rows[1:25]), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def score_files(files, tmp_path_factory):
    """Sentence-level F_BERT of the three systems; sys_b also with idf (another signature)."""
    root = tmp_path_factory.mktemp("scores")
    out = {}
    for name, extra in (("sys_a", []), ("sys_b", []), ("sys_c", []), ("sys_b_idf", ["--idf"])):
        path = root / f"{name}.tsv"
        sys_file = files[name.replace("_idf", "")]
        result = CliRunner().invoke(app, ["score", str(sys_file), str(files["ref"]), "-m",
                                          "bertscore", "--sentence-level", str(path), *extra])
        assert result.exit_code == 0, result.output
        out[name] = path
    return out


def _run(*args):
    result = CliRunner().invoke(app, ["significance", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


def test_bleu_chrf_json_equals_the_core_test(files, monkeypatch):
    monkeypatch.delenv("SACREBLEU_SEED", raising=False)
    out = json.loads(_run(files["ref"], files["sys_a"], files["sys_b"], files["sys_c"], "-m",
                          "bleu,chrf", "--json").stdout)
    refs = [files["ref"].read_text(encoding="utf-8").splitlines()]
    metrics = [SacreMetric("bleu", refs), SacreMetric("chrf", refs)]
    stats = [[m.extract(files[s].read_text(encoding="utf-8").splitlines()) for m in metrics]
             for s in ("sys_a", "sys_b", "sys_c")]
    core = paired_test(metrics, stats, ["a", "b", "c"], "bs", 1000, 12345)
    assert out["seed"] == 12345 and out["n_samples"] == 1000 and out["test"] == "bs"
    for i, system in enumerate(out["systems"]):
        for m in ("BLEU", "chrF2"):
            assert system["metrics"][m]["p_value"] == core.results[i][m].p_value
            assert system["metrics"][m]["ci"] == core.results[i][m].ci
    assert out["systems"][0]["baseline"] and "significant" in out["systems"][1]


def test_fbert_from_score_files_table_and_ar(files, score_files):
    result = _run(files["ref"], files["sys_a"], files["sys_b"], "-m", "bleu", "--scores",
                  score_files["sys_a"], "--scores", score_files["sys_b"], "--paired-t",
                  "--test", "ar", "--samples", "2000", "--seed", "7")
    assert "F_BERT" in result.stdout and "BLEU" in result.stdout and "t-test p" in result.stdout
    assert "ar:2000|seed:7" in result.stdout


def test_score_files_match_a_fresh_computation(files, score_files):
    from_files = json.loads(_run(files["ref"], files["sys_a"], files["sys_c"], "-m", "bertscore",
                                 "--scores", score_files["sys_a"], "--scores",
                                 score_files["sys_c"], "--json").stdout)
    fresh = json.loads(_run(files["ref"], files["sys_a"], files["sys_c"], "-m", "bertscore",
                            "--json").stdout)
    a, b = (x["systems"][1]["metrics"]["F_BERT"] for x in (from_files, fresh))
    assert a["p_value"] == b["p_value"] and a["score"] == pytest.approx(b["score"], abs=1e-4)  # batching: ~1e-7


def test_cache_gives_identical_results_and_is_filled(files, tmp_path):
    args = (files["ref"], files["sys_a"], files["sys_c"], "-m", "bertscore", "--json")
    plain = json.loads(_run(*args).stdout)
    cold = json.loads(_run(*args, "--cache", tmp_path / "emb").stdout)
    entries = sorted(p.name for p in (tmp_path / "emb").rglob("*") if p.is_file())
    warm = json.loads(_run(*args, "--cache", tmp_path / "emb").stdout)
    assert entries  # the references' embeddings were stored
    for out in (cold, warm):
        for got, want in zip(out["systems"], plain["systems"]):
            g, w = got["metrics"]["F_BERT"], want["metrics"]["F_BERT"]
            assert g["score"] == w["score"] and g.get("p_value") == w.get("p_value")


def test_metric_and_cache_warnings_are_reported(files, tmp_path):
    """sys_c has an empty line (F_BERT 0 for it, as bert_score) and a damaged cache entry is
    recomputed: both are said on stderr and in --json, naming the file; the numbers stay."""
    args = (files["ref"], files["sys_a"], files["sys_c"], "-m", "bertscore", "--json",
            "--cache", tmp_path / "emb")
    first = _run(*args)
    out = json.loads(first.stdout)
    empty = [w for w in out["warnings"] if "empty candidate" in w]
    assert empty and all(w.startswith(f"F_BERT, {files['sys_c']}: ") for w in empty)
    assert "warning:" in first.stderr and "empty candidate" in first.stderr
    for entry in (p for p in (tmp_path / "emb").rglob("*.npz")):
        entry.write_bytes(b"PK\x03\x04 truncated")
    again = json.loads(_run(*args).stdout)
    assert any("unreadable" in w for w in again["warnings"])
    assert [s["metrics"] for s in again["systems"]] == [s["metrics"] for s in out["systems"]]
    table = _run(*args[:-3])   # the table form says it too, on stderr only
    assert "empty candidate" in table.stderr and "empty candidate" not in table.stdout


def _error(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(["significance", *map(str, args)])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert exc.value.code != 0 and len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in err
    return lines[0]


def test_refuses_mixed_signatures_and_swapped_files(files, score_files, capsys):
    line = _error(capsys, files["ref"], files["sys_a"], files["sys_b"], "--scores",
                  score_files["sys_a"], "--scores", score_files["sys_b_idf"])
    assert "refusing to mix F_BERT signatures" in line
    line = _error(capsys, files["ref"], files["sys_a"], files["sys_b"], "--scores",
                  score_files["sys_b"], "--scores", score_files["sys_a"])
    assert "holds the scores of" in line
    line = _error(capsys, files["ref"], files["sys_a"], files["sys_b"], "--layer", "3",
                  "--scores", score_files["sys_a"], "--scores", score_files["sys_b"])
    assert "not with LM minilm layer 3" in line
    line = _error(capsys, files["ref"], files["sys_a"], files["sys_b"], "--scores",
                  score_files["sys_a"])
    assert "1 score file(s) for 2 systems" in line


def test_bad_input(files, tmp_path, capsys):
    assert "at least one system" in _error(capsys, files["ref"], files["sys_a"], "-m", "bleu")
    short = tmp_path / "short.txt"
    short.write_text("one line\n")
    line = _error(capsys, files["ref"], files["sys_a"], short, "-m", "bleu")
    assert "short.txt has 1 lines" in line and "has 24" in line
    assert "file not found" in _error(capsys, files["ref"], files["sys_a"], tmp_path / "x.txt",
                                      "-m", "bleu")
    assert "unknown test" in _error(capsys, files["ref"], files["sys_a"], files["sys_b"],
                                    "--test", "t", "-m", "bleu")


@pytest.fixture(scope="module")
def demo_like(tmp_path_factory):
    """500 lines, 3 differ between base and sys (the demo's shape), under a long folder name:
    sys fixes the same sentence twice and writes another wrong word on a third line."""
    words = "man woman child dog cat house tree river car street city garden".split()
    refs = [f"A {words[i % 12]} walks past the {words[i * 7 % 12]} near the "
            f"{words[(i * 5 + 3) % 12]} ." for i in range(500)]
    refs[100] = refs[200] = "Thank you very much ."
    base, sys_ = list(refs), list(refs)
    base[100] = base[200] = "Thank you ."
    base[300], sys_[300] = (refs[300].replace("walks", w) for w in ("xqz", "zqx"))
    root = tmp_path_factory.mktemp("demo") / "holdout" / "a-rather-long-experiment-folder"
    root.mkdir(parents=True)
    out = {}
    for name, lines in (("ref", refs), ("all.base.en", base), ("all.ce.en", sys_),
                        ("all.fbert-gumbel.en", sys_)):
        out[name] = root / name
        out[name].write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    return out


def test_ar_default_is_the_exact_permutation_p_and_strict_count_is_sacrebleus(demo_like):
    f = demo_like
    args = (f["ref"], f["all.base.en"], f["all.ce.en"], "-m", "bleu,chrf", "--test", "ar")
    out = json.loads(_run(*args, "--json").stdout)
    bleu = out["systems"][1]["metrics"]["BLEU"]
    assert bleu["p_value"] == 0.5 and bleu["exact"] is True and bleu["trials"] == 4
    assert out["strict_count"] is False and not out["systems"][1]["significant"]["BLEU"]
    table = _run(*args).stdout
    assert "p = 0.5000" in table and "(exact)" in table and "μ ± 95% CI" not in table
    strict = json.loads(_run(*args, "--strict-count", "--json").stdout)
    assert strict["systems"][1]["metrics"]["BLEU"]["p_value"] == pytest.approx(1 / 10001)
    assert strict["strict_count"] is True and "count:ge" not in strict["signatures"]["BLEU"]
    assert "μ ± 95% CI" in _run(*args[:-2]).stdout          # the bootstrap has an interval


def test_the_table_fits_80_columns_with_short_names_and_each_path_once(demo_like):
    f = demo_like
    paths = [f["all.base.en"], f["all.ce.en"], f["all.fbert-gumbel.en"]]
    result = CliRunner().invoke(app, ["significance", str(f["ref"]), *map(str, paths), "-m",
                                      "bleu,chrf,ter", "--paired-t"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    table = lines[:lines.index(next(ln for ln in lines if ln.startswith("└"))) + 1]
    assert max(len(ln) for ln in table) <= 80
    assert all(any(label in ln for ln in table) for label in ("all.base", "all.ce",
                                                               "all.fbert-gumbel"))
    for path in paths:   # listed once, whole, under the table
        assert sum(str(path) in ln for ln in lines) == 1
        assert not any(str(path) in ln for ln in table)
    named = json.loads(_run(f["ref"], *paths, "-m", "bleu", "--names", "base,ce",
                            "--names", "gumbel", "--json").stdout)
    assert [s["label"] for s in named["systems"]] == ["base", "ce", "gumbel"]
    assert [s["name"] for s in named["systems"]] == [str(p) for p in paths]


def test_wrong_number_of_names_is_a_usage_error(demo_like, capsys):
    f = demo_like
    with pytest.raises(SystemExit) as exc:
        main(["significance", str(f["ref"]), str(f["all.base.en"]), str(f["all.ce.en"]),
              "-m", "bleu", "--names", "one"])
    assert exc.value.code == 2 and "--names gives 1 name(s) for 2 system files" in \
        capsys.readouterr().err


def test_lowercase_systems_against_cased_references_warn_once(demo_like, tmp_path):
    f = demo_like
    low = tmp_path / "low.en"
    low.write_text(f["all.ce.en"].read_text(encoding="utf-8").lower(), encoding="utf-8")
    result = _run(f["ref"], f["all.base.en"], low, "-m", "bleu", "--test", "ar")
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and f"{low} has no uppercase letter" in warnings[0]
    assert "--lowercase" in warnings[0]
    quiet = _run(f["ref"], f["all.base.en"], low, "-m", "bleu", "--test", "ar", "--lowercase")
    assert "warning" not in quiet.stderr and "case:lc" in quiet.stdout


def test_model_tests_with_the_runs_evaluation_settings(demo_like, tmp_path):
    """--model: the run's recipe says lowercase, so lowercase output is scored as its own
    report scored it (and no case warning); the JSON and stderr say where that came from."""
    f = demo_like
    run = tmp_path / "run"
    run.mkdir()
    (run / "bertune.json").write_text(json.dumps({"config": {
        "lm": {"name": "minilm", "layer": 5}, "eval": {"lowercase": True,
                                                       "bleu_tokenize": "13a"}}}))
    low = tmp_path / "low.en"
    low.write_text(f["all.ce.en"].read_text(encoding="utf-8").lower(), encoding="utf-8")
    result = _run(f["ref"], f["all.base.en"], low, "-m", "bleu", "--model", run, "--json")
    out = json.loads(result.stdout)
    assert out["settings"] == {"lowercase": True, "tokenize": "13a",
                               "source": f"run {run / 'bertune.json'}"}
    assert "case:lc" in out["signatures"]["BLEU"] and out["warnings"] == []
    assert "evaluation settings of the run" in result.stderr
