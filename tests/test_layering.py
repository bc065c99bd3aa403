"""Import direction (design.md): core never imports the CLI layer, typer or rich;
core.metrics never imports core.model or core.ops (`bertune score` runs without an NMT model)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "bertune_cli"


def _module_name(path: Path) -> list[str]:
    """Dotted name of the module at ``path``, as parts (a package's ``__init__`` is the package)."""
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names: ``from ..errors import X`` in
    ``bertune_cli/core/ops/__init__.py`` is ``bertune_cli.core.errors``."""
    if node.level == 0:
        return node.module or ""
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package[:-1]
    up = node.level - 1
    if up >= len(package):
        raise ValueError(f"{path}: relative import beyond the top-level package")
    base = package[:len(package) - up]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(path: Path) -> set[str]:
    """Every module (and ``module.name``) that ``path`` imports, relative imports resolved."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(path, node)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
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
    """core/lm/matching.py (greedy matching shared by the F_BERT loss and the metric) sits at the
    bottom of the stack: besides torch and the standard library it may use core.lm.model and
    core.errors only (it replaced core/bertscore.py, which must not come back)."""
    allowed = ("bertune_cli.core.lm.model", "bertune_cli.core.errors")
    names = {n for n in _imports(PKG / "core" / "lm" / "matching.py") if n.startswith("bertune_cli")}
    assert not [n for n in names if not any(n == a or n.startswith(a + ".") for a in allowed)]
    assert not (PKG / "core" / "bertscore.py").exists()


def test_metrics_do_not_import_model_or_ops():
    assert _violations(PKG / "core" / "metrics",
                       ("bertune_cli.core.model", "bertune_cli.core.ops",
                        "bertune_cli.core.loops", "bertune_cli.core.pipeline")) == []


@pytest.fixture
def fake_pkg(tmp_path):
    """Point the scanner at a throw-away ``bertune_cli`` package under tmp_path."""
    global PKG
    old, PKG = PKG, tmp_path / "bertune_cli"
    PKG.mkdir()
    try:
        yield PKG
    finally:
        PKG = old


def test_relative_imports_are_resolved(fake_pkg):
    """A relative import is checked as the absolute module it names, at every level and from
    both a module and a package ``__init__``."""
    (fake_pkg / "core" / "ops").mkdir(parents=True)
    (fake_pkg / "core" / "ops" / "__init__.py").write_text("from ...serve import app\n")
    (fake_pkg / "core" / "ops" / "k.py").write_text("from ..errors import E\nfrom . import ref\n")
    (fake_pkg / "core" / "m.py").write_text("from .. import commands\nfrom .ops import k\n")
    assert _imports(fake_pkg / "core" / "ops" / "k.py") == {
        "bertune_cli.core.errors", "bertune_cli.core.errors.E",
        "bertune_cli.core.ops", "bertune_cli.core.ops.ref"}
    assert sorted(_violations(fake_pkg / "core", ("bertune_cli.serve", "bertune_cli.commands"))) == [
        "bertune_cli/core/m.py imports bertune_cli.commands",
        "bertune_cli/core/ops/__init__.py imports bertune_cli.serve",
        "bertune_cli/core/ops/__init__.py imports bertune_cli.serve.app"]


def test_relative_import_beyond_the_package_is_reported(fake_pkg):
    (fake_pkg / "m.py").write_text("from .. import x\n")
    with pytest.raises(ValueError, match="beyond the top-level package"):
        _imports(fake_pkg / "m.py")


def test_scanner_sees_violations(fake_pkg):
    """The scan itself works (guards against a test that can never fail)."""
    (fake_pkg / "m.py").write_text("import rich.console\nfrom typer import Option\n")
    assert len(_violations(fake_pkg, ("typer", "rich"))) == 3
