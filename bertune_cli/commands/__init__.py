"""One module per ``bertune`` command (registered by ``bertune_cli.main``)."""

__all__ = [
    "prepare",
    "train_baseline",
    "finetune",
    "ablate",
    "translate",
    "score",
    "significance",
    "report",
    "export",
    "serve",
    "recipes",
]
