"""Loading the model a server serves, and the settings that describe it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bertune_cli.serve.settings import ServeSettings


def load_translator(path: Path, settings: ServeSettings):
    """The ``Translator`` for ``path`` on ``settings.device`` with ``settings.engine`` (its
    decoding options: the checkpoint recipe's)."""
    from bertune_cli.core.translation import Translator

    return Translator.load(path, settings.device, engine=settings.engine)


def describe_model(path: Path, settings: ServeSettings) -> ServeSettings:
    """``settings`` with the model's path, language pair, corpus and an example sentence (from
    its bertune.json)."""
    from bertune_cli.core.errors import CheckpointError
    from bertune_cli.core.model.checkpoint import read_meta

    try:
        meta = read_meta(path)
    except CheckpointError:
        if settings.engine == "torch":
            raise
        from bertune_cli.core.engines.export import export_meta

        # a `bertune export` folder: its own bertune.json ({} if unreadable: the engine
        # reports a broken export when it loads it)
        meta = export_meta(path)
    config = meta.get("config", {})
    return replace(
        settings,
        model=str(path),
        source_lang=str(config.get("src", "de")),
        target_lang=str(config.get("tgt", "en")),
        corpus=corpus_line(config),
        example=example_sentence(meta),
    )


def corpus_line(config: dict) -> str | None:
    """What the model was trained on, from its recipe: ``recipe NAME: DESCRIPTION``."""
    name, description = config.get("name"), config.get("description")
    if not (name or description):
        return None
    return f"recipe {name}: {description}" if name and description else str(name or description)


def example_sentence(meta: dict) -> str | None:
    """The first sentence of the model's test set (its data folder, if it is still there): a
    sentence the model was made for, for the page's placeholder."""
    folder = (meta.get("data") or {}).get("path")
    if not folder:
        return None
    try:
        with open(Path(folder) / "test.src.txt", encoding="utf-8") as f:
            for _, line in zip(range(50), f):
                if 0 < len(line.strip()) <= 200:
                    return line.strip()
    except (OSError, UnicodeDecodeError):
        return None
    return None
