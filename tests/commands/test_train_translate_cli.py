"""`bertune train-baseline` and `bertune translate` from the command line."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

from bertune_cli.core.errors import CheckpointError, DataError
from bertune_cli.main import app

from tiny import cli_sets, copy_runs

torch.set_num_threads(1)  # tiny models; spinning OpenMP threads crawl on shared cores


def _invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), catch_exceptions=True, input=input)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_data_dir):
    """prepare (a cache hit on a copy of the session's tiny data) -> train-baseline (2 epochs of
    the shared tiny recipe) through the CLI: its own run, not the shared tiny_baseline, since
    the first test checks what the command printed and wrote."""
    runs = copy_runs(tiny_data_dir, None, tmp_path_factory.mktemp("runs"))
    old = os.environ.get("BERTUNE_RUNS")
    os.environ["BERTUNE_RUNS"] = str(runs)
    try:
        prep = _invoke("prepare", "--pair", "demo", *cli_sets())
        assert prep.exit_code == 0, prep.output
        result = _invoke("train-baseline", "--pair", "demo", *cli_sets(), "--max-epochs", "2",
                         "--device", "cpu", "--json")
    finally:
        os.environ.pop("BERTUNE_RUNS") if old is None else os.environ.update(BERTUNE_RUNS=old)
    assert result.exit_code == 0, result.output
    return runs, json.loads(result.stdout)


def test_train_baseline_prints_a_json_summary_and_writes_the_run(trained):
    runs, summary = trained
    run = runs / "demo" / "baseline"
    assert summary["reason"] == "max_epochs" and summary["epochs"] == 2
    assert summary["checkpoint_best"] == str(run / "checkpoint_best")
    assert (run / "DONE").is_file() and (run / "checkpoint_last" / "trainer_state.json").is_file()
    assert "bleu" in summary["test"]


def test_translate_a_file_to_a_file_and_stdin_to_stdout(trained, tmp_path):
    runs, _ = trained
    src = runs / "demo" / "data" / "test.src.txt"
    out = tmp_path / "test.en"
    result = _invoke("translate", "--model", str(runs / "demo" / "baseline"), "-i", str(src),
                     "-o", str(out), "--device", "cpu")
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(src.read_text(encoding="utf-8").splitlines())
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file
    # `cat file | bertune translate --model RUN` (a real process, stdin -> stdout)
    proc = subprocess.run([sys.executable, "-m", "bertune_cli.main", "translate", "--model",
                           str(runs / "demo" / "baseline"), "--device", "cpu"],
                          input=src.read_bytes(), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode("utf-8").splitlines() == lines


def test_ctrl_c_prints_one_line_and_exits_130(trained):
    """Ctrl-C: main()'s one line and exit 130, no traceback. Deterministic: the first line's
    translation on stdout proves the process is inside the command, waiting on its open
    stdin for the next line, when the SIGINT arrives (a timed sleep raced the command)."""
    runs, _ = trained
    # Python's own SIGINT handler in the child even when this test runs with SIGINT ignored
    # (a harness started in the background, `nohup`: the child would inherit SIG_IGN, and
    # Python installs no handler then, so the signal did nothing and the wait timed out)
    child = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler);"
             " sys.argv[0] = 'bertune'; runpy.run_module('bertune_cli.main', run_name='__main__')")
    proc = subprocess.Popen([sys.executable, "-c", child, "translate", "--model",
                             str(runs / "demo" / "baseline"), "--device", "cpu"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "HF_HUB_OFFLINE": "1",
                                 "BERTUNE_PROGRESS_EVERY": "3600"})  # stderr: only the error
    try:
        proc.stdin.write(b"ein hund\n")
        proc.stdin.flush()
        first = proc.stdout.readline()  # answered line by line (Translator.stream's wait)
        assert first.strip(), proc.stderr.read().decode()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)  # stdin stays open (communicate would close it: EOF, exit 0)
        err = proc.stderr.read().decode()
    finally:
        proc.kill() if proc.poll() is None else None
        proc.stdin.close()
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130, err
    # translate does not resume (before, the line said "re-run the same command to resume")
    assert lines == ["error: interrupted — translate does not resume; re-run it on the whole "
                     "input (an -o file is written only when complete)"]


def test_sigterm_during_translate_o_removes_the_temporary_file_and_exits_143(trained, tmp_path):
    """SIGTERM is handled like Ctrl-C. Before: the process died at once and left
    .out.en.<pid>-<rand>.tmp behind for ever. Deterministic: the signal is sent once the
    first translation is in the temporary file (the process waits on its open stdin)."""
    import time

    runs, _ = trained
    out = tmp_path / "out.en"
    proc = subprocess.Popen([sys.executable, "-m", "bertune_cli.main", "translate", "--model",
                             str(runs / "demo" / "baseline"), "--device", "cpu", "-o", str(out)],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        proc.stdin.write(b"ein hund\n")
        proc.stdin.flush()
        deadline = time.monotonic() + 120
        while not any(p.stat().st_size for p in tmp_path.glob(".out.en.*.tmp")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        err = proc.stderr.read().decode()
    finally:
        proc.kill() if proc.poll() is None else None
        proc.stdin.close()
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 143, err
    assert lines == ["error: terminated (SIGTERM) — translate does not resume; re-run it on the "
                     "whole input (an -o file is written only when complete)"]
    assert list(tmp_path.iterdir()) == []       # no temporary file, no half-written output


def test_translate_json_lines_with_n_best_and_scores(trained):
    runs, _ = trained
    result = CliRunner().invoke(app, ["translate", "-m", str(runs / "demo" / "baseline"),
                                      "--n-best", "2", "--beam", "3", "--scores", "--json",
                                      "--device", "cpu"], input="ein hund\n\nzwei katzen\n")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3 and rows[1]["translation"] == ""
    assert len(rows[0]["n_best"]) == 2 and rows[0]["score"] <= 0


def test_train_baseline_without_prepared_data_says_to_run_prepare(tmp_path, runs_dir):
    result = _invoke("train-baseline", "--pair", "demo", "--device", "cpu")
    # the preflight (core/pipeline/preflight.py) names it before anything is loaded
    assert result.exit_code != 0 and isinstance(result.exception, DataError)
    assert "bertune prepare --pair demo" in str(result.exception)


def test_translate_with_a_missing_model_is_a_checkpoint_error(tmp_path):
    result = _invoke("translate", "--model", str(tmp_path / "nope"))
    assert isinstance(result.exception, CheckpointError)
    assert str(result.exception).startswith("no checkpoint or run directory")


def test_translate_with_a_missing_input_file_is_a_usage_error(tmp_path):
    result = _invoke("translate", "--model", str(tmp_path), "-i", str(tmp_path / "none.de"))
    assert result.exit_code == 2 and "none.de" in " ".join(result.output.split())


def test_translate_output_into_a_missing_folder_creates_it(trained, tmp_path):
    """-o into a missing directory creates it (no FileNotFoundError traceback)."""
    runs, _ = trained
    out = tmp_path / "new" / "deeper" / "test.en"
    result = _invoke("translate", "--model", str(runs / "demo" / "baseline"), "-o", str(out),
                     "--device", "cpu", input="ein hund\n")
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").count("\n") == 1
    assert [p.name for p in out.parent.iterdir()] == ["test.en"]


def test_translate_with_a_corrupt_checkpoint_is_one_line(trained, tmp_path, capsys):
    """A truncated model.safetensors is one CheckpointError line, not a safetensors traceback."""
    import shutil

    from bertune_cli.main import main

    runs, _ = trained
    copy = tmp_path / "baseline"
    shutil.copytree(runs / "demo" / "baseline", copy)
    weights = copy / "checkpoint_best" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(SystemExit) as info:
        main(["translate", "-m", str(copy), "--device", "cpu"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert info.value.code == 1 and len(lines) == 1 and "Traceback" not in err
    assert "is corrupt" in lines[0] and "model.safetensors" in lines[0]
    assert "checkpoint_last is intact" in lines[0]
