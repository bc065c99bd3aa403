"""Runtime knobs are set once, at start-up, for every command (core/system/runtime.py), not inside
library functions. Before: OMP_WAIT_POLICY=PASSIVE was set by train-baseline, translate and
serve but not by finetune (the main job), and set_flush_denormal by the training loop, the
fine-tuning and the decoding engine."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bertune_cli
from bertune_cli.core.system import runtime
from bertune_cli.main import app

# a cheap invocation per command that gets past argument parsing into the command body
STARTS = {
    "prepare": ["--pair", "no-such-recipe"], "train-baseline": ["--pair", "no-such-recipe"],
    "finetune": ["--pair", "no-such-recipe"], "ablate": ["--pair", "no-such-recipe"],
    "translate": ["-m", "/no/such/run"],
    "export": ["-m", "/no/such/run", "--out", "x"], "score": ["/no/such.hyp", "/no/such.ref"],
    "significance": ["/no/r", "/no/a", "/no/b"], "recipes": ["--json"],
    "report": ["/no/such/run"], "serve": ["-m", "/no/such/run"],
}


def test_every_command_is_listed():
    assert {c.name for c in app.registered_commands} == set(STARTS)


@pytest.mark.parametrize("command", sorted(STARTS))
def test_every_command_applies_the_runtime_settings_before_its_body(command, monkeypatch,
                                                                    runs_dir):
    calls = []
    monkeypatch.setattr(runtime, "configure", lambda: calls.append(command))
    CliRunner().invoke(app, [command, *STARTS[command]])
    assert calls == [command]


def test_a_usage_error_never_reaches_the_settings(monkeypatch):
    calls = []
    monkeypatch.setattr(runtime, "configure", lambda: calls.append(1))
    assert CliRunner().invoke(app, ["finetune", "--tau", "0"]).exit_code == 2
    assert calls == []


def test_no_library_code_sets_them():
    package = Path(bertune_cli.__file__).parent
    offenders = [str(p.relative_to(package)) for p in package.rglob("*.py")
                 if p.relative_to(package).as_posix() != "core/system/runtime.py" and any(
                     knob in p.read_text(encoding="utf-8")
                     for knob in ("set_flush_denormal(", "OMP_WAIT_POLICY\", \""))]
    assert offenders == []


def test_configure_keeps_a_users_setting_and_flushes_denormals(monkeypatch):
    import torch

    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    monkeypatch.setattr(runtime, "_configured", set())
    runtime.configure()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    assert (torch.tensor([1e-39]) * 1.0).item() == 0.0          # flushed to zero
    monkeypatch.delenv("OMP_WAIT_POLICY")
    monkeypatch.setattr(runtime, "_configured", set())
    runtime.configure()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_the_torch_setting_waits_for_torch_to_be_imported():
    """A command checks its arguments before it imports torch (seconds): configure does not
    import it, and flushes denormals as soon as torch has been imported."""
    import subprocess
    import sys

    code = ("import sys; from bertune_cli.core.system import runtime; runtime.configure(); "
            "assert 'torch' not in sys.modules; import torch; "
            "print((torch.tensor([1e-39]) * 1.0).item())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and float(out.stdout) == 0.0, out.stderr
    plain = subprocess.run([sys.executable, "-c", "import torch; print((torch.tensor([1e-39])"
                            " * 1.0).item())"], capture_output=True, text=True, timeout=300)
    assert float(plain.stdout) > 0                       # denormals kept without configure
