"""Every package states its public API in ``__all__``, and every name there exists."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "bertune_cli"
PACKAGES = sorted(".".join(p.parent.relative_to(PKG.parent).parts)
                  for p in PKG.rglob("__init__.py") if "__pycache__" not in p.parts)


def test_the_package_list_is_complete():
    assert {"bertune_cli", "bertune_cli.core", "bertune_cli.core.io", "bertune_cli.core.lm",
            "bertune_cli.serve.routes"} <= set(PACKAGES)


@pytest.mark.parametrize("name", PACKAGES)
def test_every_package_has_a_resolvable_all(name):
    package = importlib.import_module(name)
    assert isinstance(getattr(package, "__all__", None), list), f"{name} has no __all__"
    missing = []
    for public in package.__all__:
        if hasattr(package, public):
            continue
        try:
            importlib.import_module(f"{name}.{public}")
        except ModuleNotFoundError:
            missing.append(public)
    assert missing == []


def test_every_public_module_is_listed():
    """A package whose ``__all__`` lists modules (not re-exported names) lists all of them: a
    module added to it is either named there or private (``_x``)."""
    unlisted, listing = [], 0
    for name in PACKAGES:
        folder = PKG.parent.joinpath(*name.split("."))
        modules = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
        modules |= {p.name for p in folder.iterdir() if (p / "__init__.py").is_file()}
        public = importlib.import_module(name).__all__
        if name == "bertune_cli" or not set(public) <= modules:
            continue  # the top package, or one that re-exports names (its modules are internal)
        listing += 1
        unlisted += [f"{name}.{m}" for m in sorted(modules) if not m.startswith("_")
                     and m not in public]
    assert listing >= 10 and unlisted == []
