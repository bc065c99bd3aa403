"""`bertune train-baseline` (lands with issue 5)."""
from __future__ import annotations

from bertune_cli._options import Pair


def train_baseline(pair: Pair = "demo") -> None:
    """Not available yet.

    Example: [bold]bertune train-baseline --pair demo[/]
    """
    from bertune_cli.core.errors import NotYetAvailable

    raise NotYetAvailable("`bertune train-baseline` is not built yet (issue 5)",
                          "update bertune; earlier stages work already")
