"""bertune core: never imports typer, rich, click, bertune_cli.commands or bertune_cli.serve.

Packages: ``config``, ``io``, ``system``, ``data``, ``model``, ``lm``, ``ops``, ``loops``,
``pipeline``, ``translation``, ``engines``, ``explain``, ``metrics``, ``evaluation``,
``tracking``, ``report``; ``errors`` holds the typed errors every package raises.
"""

__all__ = [
    "errors",
    "config",
    "io",
    "system",
    "data",
    "model",
    "lm",
    "ops",
    "loops",
    "pipeline",
    "translation",
    "engines",
    "explain",
    "metrics",
    "evaluation",
    "tracking",
    "report",
]
