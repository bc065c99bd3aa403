"""Optional packages go through one helper (core/system/extras.py): a missing one is one line naming
the extra that installs it, found before any work. Before: `serve` imported uvicorn bare (a
ModuleNotFoundError traceback after the model had loaded)."""
from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

import bertune_cli
from bertune_cli.core.errors import MissingExtra
from bertune_cli.core.system import extras
from bertune_cli.main import main


def _exit(capsys, *args) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return info.value.code, lines[0]


def test_require_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(MissingExtra) as info:
        extras.require("uvicorn", "bertune serve")
    assert str(info.value) == ("bertune serve needs uvicorn, which is not installed — "
                               "pip install 'bertune[serve]'")
    assert extras.missing(["uvicorn", "json"]) == ["uvicorn"]


def test_serve_without_uvicorn_is_one_line_before_the_model(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    code, line = _exit(capsys, "serve", "-m", tmp_path / "no-model")  # the model: exit 2
    assert code == 1 and "needs uvicorn" in line and "pip install 'bertune[serve]'" in line


def test_report_without_matplotlib_is_one_line_before_the_work(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, line = _exit(capsys, "report", tmp_path / "no-run", "--out", tmp_path / "r")
    assert code == 1 and "bertune report needs matplotlib" in line and "[report]" in line


def test_export_without_ctranslate2_names_the_ct2_extra(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ctranslate2", None)
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "bertune.json").write_text(json.dumps({"format": 1}))
    code, line = _exit(capsys, "export", "-m", ckpt, "--out", tmp_path / "e")
    assert code == 1 and "needs ctranslate2" in line and "pip install 'bertune[ct2]'" in line


def test_preflight_names_the_packages_a_recipe_asks_for(monkeypatch, tmp_path):
    from bertune_cli.core.config.recipe import load_recipe
    from bertune_cli.core.pipeline.preflight import check_runnable

    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "triton", None)
    recipe = load_recipe("demo", ["tracking=[mlflow]", "finetune.impl=triton"])
    with pytest.raises(MissingExtra) as info:
        check_runnable(recipe, "finetune", None, tmp_path)
    text = str(info.value)
    assert "(1) the tracker mlflow" in text and "pip install 'bertune[mlflow]'" in text
    assert "(2) the Triton kernels" in text and "pip install 'bertune[gpu]'" in text
    check_runnable(recipe, "prepare", None, tmp_path)           # prepare needs neither


def test_no_module_imports_an_optional_package_at_import_time():
    """Only the serve adapter (entered after `serve` checked its extra) and the Triton kernels
    (imported after resolve_impl) import optional packages at module level."""
    package = Path(bertune_cli.__file__).parent
    exempt = {"serve", "triton_kernels.py", "triton_soft.py"}
    offenders = []
    for path in package.rglob("*.py"):
        if exempt & set(path.relative_to(package).parts):
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in extras.EXTRAS]
    assert offenders == []
