"""Import direction (design.md): core never imports the CLI layer, typer or rich;
core.metrics never imports core.model or core.ops (`bertune score` runs without an NMT model)."""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "bertune_cli"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _violations(folder: Path, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in sorted(folder.rglob("*.py")):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(PKG.parent)} imports {name}")
    return bad


def test_core_does_not_import_cli_typer_or_rich():
    assert _violations(PKG / "core", ("bertune_cli.commands", "bertune_cli.main",
                                      "bertune_cli._options", "bertune_cli.serve", "typer",
                                      "rich", "click")) == []


def test_core_never_imports_the_serve_adapter():
    """design.md: the HTTP adapter imports core; core never imports an adapter."""
    assert _violations(PKG / "core", ("bertune_cli.serve",)) == []


def test_matching_imports_nothing_above_lm_and_errors():
    """core/matching.py (greedy matching shared by the F_BERT loss and the metric) sits at the
    bottom of the stack: besides torch and the standard library it may use core.lm and
    core.errors only (issue #17: it was core/bertscore.py)."""
    allowed = ("bertune_cli.core.lm", "bertune_cli.core.errors")
    names = {n for n in _imports(PKG / "core" / "matching.py") if n.startswith("bertune_cli")}
    assert not [n for n in names if not any(n == a or n.startswith(a + ".") for a in allowed)]
    assert not (PKG / "core" / "bertscore.py").exists()


def test_metrics_do_not_import_model_or_ops():
    assert _violations(PKG / "core" / "metrics",
                       ("bertune_cli.core.model", "bertune_cli.core.ops",
                        "bertune_cli.core.loops", "bertune_cli.core.pipeline")) == []


def test_scanner_sees_violations(tmp_path):
    """The scan itself works (guards against a test that can never fail)."""
    (tmp_path / "m.py").write_text("import rich.console\nfrom typer import Option\n")
    global PKG
    old, PKG = PKG, tmp_path
    try:
        assert len(_violations(tmp_path, ("typer", "rich"))) == 3
    finally:
        PKG = old
