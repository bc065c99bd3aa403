"""Checks that can be made before the expensive work are made before it: translate's request
(--n-best > --beam, --engine, --attention-layer) before the model loads; export's and report's
output folder before the conversion / the analysis. Each test makes the expensive step fail
loudly if it is reached."""
from __future__ import annotations

import json

import pytest

from bertune_cli.main import main


class Reached(Exception):
    pass


def _never(*args, **kwargs):
    raise Reached("the expensive work started before the check")


def _exit(capsys, *args) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return info.value.code, " ".join(err.split())


@pytest.fixture()
def model(tmp_path, monkeypatch):
    """A checkpoint's small JSON files only (beam 2, 3 decoder layers); loading it fails."""
    from bertune_cli.core.translation import Translator

    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "bertune.json").write_text(json.dumps(
        {"format": 1, "config": {"eval": {"beam": 2}}, "lm": {"name": "minilm"}}))
    (folder / "config.json").write_text(json.dumps({"decoder_layers": 3}))
    monkeypatch.setattr(Translator, "load", classmethod(_never))
    return folder


@pytest.mark.parametrize("args, message", [
    (["--n-best", "3"], "--n-best 3 is larger than the beam (2)"),          # the recipe's beam
    (["--n-best", "5", "--beam", "4"], "--n-best 5 is larger than the beam (4)"),
    (["--engine", "foo"], "unknown engine 'foo' — use one of: torch, ct2"),
    (["--attention", "maps", "--attention-layer", "99"],
     "--attention-layer 99 is out of range: the decoder has 3 layers"),
    (["--json", "--confidence", "--attention-layer", "-4"], "--attention-layer -4 is out of range"),
    (["--engine", "ct2", "--json", "--confidence"], "explanations need the model's weights"),
])
def test_translate_refuses_before_the_model_loads(model, capsys, args, message):
    """Before: --n-best > --beam, --engine foo and --attention-layer 99 were found after the
    model had loaded (seconds to minutes)."""
    code, err = _exit(capsys, "translate", "-m", model, *args)
    assert code == 2 and message in err, err


def test_translate_within_range_reaches_the_model(model, capsys):
    with pytest.raises(Reached):
        main(["translate", "-m", str(model), "--n-best", "2", "--json", "--confidence",
              "--attention-layer", "-3"])


@pytest.fixture()
def checkpoint(tmp_path, monkeypatch):
    """A folder resolve_checkpoint accepts; the conversion must never start."""
    import bertune_cli.core.engines.export as export
    import bertune_cli.core.model.checkpoint as ckpt

    folder = tmp_path / "run" / "checkpoint_best"
    folder.mkdir(parents=True)
    (folder / "bertune.json").write_text(json.dumps({"format": 1}))
    monkeypatch.setattr(ckpt, "load_checkpoint", _never)
    monkeypatch.setattr(export, "require_ctranslate2", _never)
    return folder


def test_export_force_never_empties_a_folder_that_is_not_an_export(checkpoint, tmp_path, capsys):
    """Before: --force replaced any folder, user files included."""
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("precious")
    code, err = _exit(capsys, "export", "-m", checkpoint, "--out", user, "--force")
    assert code == 2 and "is not a bertune export" in err and "even with --force" in err
    assert (user / "notes.txt").read_text() == "precious"
    fake = tmp_path / "fake"            # the two file names, but not a bertune export
    fake.mkdir()
    (fake / "model.bin").write_bytes(b"x")
    (fake / "bertune.json").write_text(json.dumps({"format": 1}))
    code, err = _exit(capsys, "export", "-m", checkpoint, "--out", fake, "--force")
    assert code == 2 and "is not a bertune export" in err
    assert sorted(p.name for p in fake.iterdir()) == ["bertune.json", "model.bin"]


def test_export_force_may_replace_an_export(checkpoint, tmp_path, capsys):
    out = tmp_path / "exported"
    out.mkdir()
    (out / "model.bin").write_bytes(b"x")
    (out / "bertune.json").write_text(json.dumps({"export": {"format": "ctranslate2"}}))
    code, err = _exit(capsys, "export", "-m", checkpoint, "--out", out)
    assert code == 2 and "already holds an export — pass --force" in err
    with pytest.raises(Reached):   # with --force the checks pass: on to the conversion
        main(["export", "-m", str(checkpoint), "--out", str(out), "--force"])


@pytest.mark.parametrize("command", ["export", "report"])
def test_an_unwritable_output_folder_is_refused_before_any_work(command, checkpoint, tmp_path,
                                                                capsys, monkeypatch):
    """Before: export converted the model (~15 s) and report ran its analysis before finding
    that --out could not be written."""
    import bertune_cli.core.io.outputs as outputs
    import bertune_cli.core.report.build as build

    monkeypatch.setattr(build, "load_runs", _never)

    def denied(folder, target, what):
        raise outputs.OutputError(f"cannot write {what} {target}: permission denied")

    monkeypatch.setattr(outputs, "_check_folder", denied)
    args = (["export", "-m", checkpoint] if command == "export" else ["report", tmp_path])
    code, err = _exit(capsys, *args, "--out", tmp_path / "out")
    assert code == 1 and "permission denied" in err and str(tmp_path / "out") in err


@pytest.mark.parametrize("command", ["finetune", "train-baseline", "ablate"])
def test_an_lm_layer_the_lm_does_not_have_is_refused_before_any_stage(command, capsys,
                                                                       monkeypatch, tmp_path):
    """Before: finetune --layer 99 prepared the data and trained the baseline, and failed only
    when the fine-tuning loaded the LM (exit 1)."""
    from bertune_cli.core.data import prepare

    monkeypatch.setattr(prepare, "prepare_recipe", _never)
    code, err = _exit(capsys, command, "--pair", "demo", "--set", "lm.layer=99",
                      "--runs-dir", tmp_path / "runs")
    assert code == 2 and "layer 99 is out of range for minilm (6 layers)" in err
    assert not (tmp_path / "runs").exists()
