"""Optional packages: imported through one helper, refused with one line naming the extra.

``pip install bertune`` runs the whole method (prepare, train, fine-tune, translate, score,
significance — MoverScore's POT included). The rest is optional; ``EXTRAS`` says which
``pip install 'bertune[<extra>]'`` brings each importable module. ``require(module, purpose)``
imports it or raises ``MissingExtra`` ("bertune serve needs uvicorn, which is not installed —
pip install 'bertune[serve]'", exit 1) instead of a ``ModuleNotFoundError`` traceback;
``missing(modules)`` answers without importing (``find_spec``), for checks made before any
work (core/pipeline/preflight.py, the commands).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any, Iterable

from bertune_cli.core.errors import MissingExtra

EXTRAS: dict[str, str] = {
    "ctranslate2": "ct2",
    "fastapi": "serve",
    "uvicorn": "serve",
    "prometheus_client": "serve",
    "captum": "explain",
    "matplotlib": "report",
    "mlflow": "mlflow",
    "tensorboard": "tensorboard",
    "triton": "gpu",
}


def install_hint(module: str, extra: str | None = None) -> str:
    """``pip install 'bertune[serve]'`` for ``uvicorn``."""
    return f"pip install 'bertune[{extra or EXTRAS.get(module, 'all')}]'"


def require(module: str, purpose: str, extra: str | None = None) -> Any:
    """``import module``, or MissingExtra naming ``purpose`` (what needs it) and the extra
    (``extra`` overrides ``EXTRAS``, e.g. matplotlib for ``--attention`` is ``explain``)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        if exc.name and exc.name.split(".")[0] != top:  # installed, but broken
            what = f"{top}, which cannot be imported ({exc.name} is missing)"
        else:
            what = f"{top}, which is not installed"
        raise MissingExtra(f"{purpose} needs {what}", install_hint(top, extra)) from exc


def missing(modules: Iterable[str]) -> list[str]:
    """The modules of ``modules`` that cannot be found (without importing any)."""
    out = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(module)
    return out


def require_all(modules: Iterable[str], purpose: str, extra: str | None = None) -> None:
    """MissingExtra naming every module of ``modules`` that is not installed (none imported)."""
    absent = missing(modules)
    if absent:
        raise MissingExtra(
            f"{purpose} needs {', '.join(absent)}, which "
            f"{'is' if len(absent) == 1 else 'are'} not installed",
            install_hint(absent[0], extra),
        )
