"""`bertune report` on small synthetic runs: report.md + PNGs + report.json + self-contained
HTML, --json, replacing an old report, and one-line errors that leave no half-written output."""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bertune_cli.main import app, main

FAST = ["--max-sentences", "5", "--samples", "100", "--device", "cpu"]
PNG = b"\x89PNG\r\n\x1a\n"


def _synthetic():
    path = Path(__file__).resolve().parents[1] / "core" / "report" / "synthetic.py"
    spec = importlib.util.spec_from_file_location("report_synthetic_cli", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def made(tmp_path_factory, tiny_data_dir):
    """runs/demo with finetune-dense still running (report translates it), reported once."""
    runs = _synthetic().shared_runs(tmp_path_factory, tiny_data_dir).parent
    out = tmp_path_factory.mktemp("report_cli") / "report"
    result = CliRunner().invoke(app, ["report", str(runs / "demo"), "--out", str(out),
                                      "--html", "--json", *FAST])
    assert result.exit_code == 0, result.output
    return runs, out, json.loads(result.stdout)


def test_report_files_figures_and_summary(made):
    runs, out, summary = made
    assert summary == json.loads((out / "report.json").read_text())
    assert [r["name"] for r in summary["runs"]] == ["baseline", "finetune-dense",
                                                    "finetune-gumbel"]
    assert [s["name"] for s in summary["results"]["systems"]] == [r["name"] for r in
                                                                   summary["runs"]]
    from bertune_cli.core.report.results import moverscore_available

    assert summary["results"]["metrics"] == ["BLEU", "chrF2", "F_BERT"] + (
        ["MoverScore"] if moverscore_available() else [])
    assert any("finetune-dense has no test.hyp.txt" in w for w in summary["warnings"])
    assert (out / "outputs" / "finetune-dense.test.hyp.txt").is_file()
    assert set(summary["figures"]) == {"learning_curves", "training_loss", "entropy",
                                       "fbert_scatter", "length_buckets"}
    md = (out / "report.md").read_text()
    for name in summary["figures"].values():
        assert (out / name).read_bytes()[:8] == PNG and f"]({name})" in md
    for heading in ("## Results on the test set", "## Learning curves",
                    "## Sparsity of predictions", "### Baseline vs BERTTune gumbel τ 0.1"):
        assert heading in md
    assert "nrefs:1|bs:100|seed:12345" in md                       # every signature shown
    assert summary["sparsity"]["models"][0]["sentences"] == 5
    assert summary["comparisons"][1]["gains"][0]["line"] in (1, 4, 7)
    assert not list(out.parent.glob(".report.*"))                  # no temporary folder left


def test_html_is_one_self_contained_file(made):
    _, out, summary = made
    html = (out / "report.html").read_text()
    images = re.findall(r"<img [^>]*src='([^']*)'", html)
    assert len(images) == len(summary["figures"])
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r"(src|href)=['\"](?!data:)", html)      # nothing outside the file
    assert "<table>" in html and "Results on the test set" in html


def test_text_output_progress_when_piped_and_replacing_an_older_report(made):
    """stderr is not a terminal here (as in `bertune report ... 2> log`): no bar, but plain
    progress lines, one per stage with BERTUNE_PROGRESS_EVERY=0 (default: every 10 s)."""
    runs, out, _ = made
    result = CliRunner().invoke(app, ["report", str(runs / "demo" / "baseline"),
                                      str(runs / "demo" / "finetune-gumbel"), "-o", str(out),
                                      "--no-moverscore", *FAST],
                                env={"BERTUNE_PROGRESS_EVERY": "0"})
    assert result.exit_code == 0, result.output
    assert "BERTTune gumbel τ 0.1: BLEU" in result.stdout and "report:" in result.stdout
    progress = [ln for ln in result.stderr.splitlines() if ln.startswith("report: ")]
    assert any(ln.startswith("report: scoring the test set and paired bootstrap, stage ")
               and ln.endswith(" elapsed") for ln in progress), result.stderr
    assert any("entropy of finetune-gumbel's predictions" in ln for ln in progress)
    assert progress[-1].startswith("report: done, ") and "\x1b" not in result.stderr
    summary = json.loads((out / "report.json").read_text())
    assert [r["name"] for r in summary["runs"]] == ["baseline", "finetune-gumbel"]
    assert summary["html"] is None and not (out / "report.html").exists()
    assert summary["results"]["metrics"] == ["BLEU", "chrF2", "F_BERT"]


def _error(capsys, *args) -> str:
    with pytest.raises(SystemExit) as exc:
        main(["report", *map(str, args), *FAST])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert exc.value.code != 0 and len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in err
    return lines[0]


def test_errors_name_the_run_and_leave_the_old_report_alone(made, tmp_path, capsys):
    runs, _, _ = made
    demo = tmp_path / "demo"
    for name in ("data", "baseline", "finetune-gumbel"):
        shutil.copytree(runs / "demo" / name, demo / name)
    out = tmp_path / "r"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert "is not a bertune report" in _error(capsys, demo, "--out", out)
    assert (out / "notes.txt").read_text() == "mine"
    hyp = demo / "finetune-gumbel" / "test.hyp.txt"
    hyp.write_text("".join(hyp.read_text().splitlines(keepends=True)[:-1]))
    line = _error(capsys, demo, "--out", tmp_path / "r2")
    assert "finetune-gumbel/test.hyp.txt has 19 lines" in line and "mismatched test sets" in line
    assert not (tmp_path / "r2").exists() and not list(tmp_path.glob(".r2.*"))
    metrics = demo / "finetune-gumbel" / "metrics.jsonl"
    metrics.write_text("".join(r for r in metrics.read_text().splitlines(keepends=True)
                               if '"valid"' not in r))
    assert "finetune-gumbel: metrics.jsonl has no validation rows" in _error(
        capsys, demo / "baseline", demo / "finetune-gumbel", "--out", tmp_path / "r2")
    assert "no such run directory" in _error(capsys, tmp_path / "missing", "--out",
                                             tmp_path / "r3")


def test_translations_a_report_made_are_reused_by_the_next_one(made, tmp_path, monkeypatch):
    from bertune_cli.core.report.build import Decoder
    from bertune_cli.core.report.runs import RunSet, load_run
    from bertune_cli.core.translation import Translator

    runs, _, summary = made
    assert "finetune-dense.test.hyp.txt" in summary["outputs_cache"]
    run = load_run(runs / "demo" / "finetune-dense")
    ev = RunSet(load_run(runs / "demo" / "baseline"), [run], runs / "demo" / "data").eval
    src = (runs / "demo" / "data" / "test.src.txt").read_text().splitlines()
    first, old = tmp_path / "first", tmp_path / "old"
    first.mkdir()
    decode = Decoder(first, old)                        # no report at `old` yet: decodes
    made_now = decode(run, "test", src, ev, "cpu").read_text()
    first.rename(old)                                   # what publishing the report does
    (old / "report.json").write_text(json.dumps({"outputs_cache": decode.keys}))

    def no_decoding(*args, **kwargs):
        raise AssertionError("the cached translation should have been used")
    monkeypatch.setattr(Translator, "load", no_decoding)
    (tmp_path / "next").mkdir()
    assert Decoder(tmp_path / "next", old)(run, "test", src, ev, "cpu").read_text() == made_now
    with pytest.raises(AssertionError, match="cached"):   # other inputs: decoded again
        Decoder(tmp_path / "next", old)(run, "test", src[:-1], ev, "cpu")
