"""`bertune score` (lands with issue 6)."""
from __future__ import annotations

from bertune_cli._options import Pair


def score(pair: Pair = "demo") -> None:
    """Not available yet.

    Example: [bold]bertune score --pair demo[/]
    """
    from bertune_cli.core.errors import NotYetAvailable

    raise NotYetAvailable("`bertune score` is not built yet (issue 6)",
                          "update bertune; earlier stages work already")
