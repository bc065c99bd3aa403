"""Loading the model a server serves, and the settings that describe it."""
from __future__ import annotations

import inspect
from dataclasses import replace
from pathlib import Path

from bertune_cli.serve.settings import ServeSettings


def engine_supported() -> bool:
    """Whether ``Translator.load`` takes ``engine=`` (the CTranslate2 engine is optional)."""
    from bertune_cli.core.translate import Translator

    return "engine" in inspect.signature(Translator.load).parameters


def load_translator(path: Path, settings: ServeSettings):
    """The ``Translator`` for ``path`` on ``settings.device`` (and engine, when supported)."""
    from bertune_cli.core.translate import Translator

    if engine_supported():
        return Translator.load(path, settings.device, engine=settings.engine)
    if settings.engine != "torch":
        from bertune_cli.core.errors import UsageError
        raise UsageError(f"engine {settings.engine!r} is not available in this bertune",
                         "use --engine torch")
    return Translator.load(path, settings.device)


def describe_model(path: Path, settings: ServeSettings) -> ServeSettings:
    """``settings`` with the model's path and language pair (from its bertune.json)."""
    from bertune_cli.core.errors import CheckpointError
    from bertune_cli.core.model.checkpoint import read_meta

    try:
        config = read_meta(path).get("config", {})
    except CheckpointError:
        if settings.engine == "torch":
            raise
        config = {}  # e.g. a `bertune export` folder: the engine reads its own metadata
    return replace(settings, model=str(path), source_lang=str(config.get("src", "de")),
                   target_lang=str(config.get("tgt", "en")))
