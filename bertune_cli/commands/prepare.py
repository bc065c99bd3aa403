"""`bertune prepare` (lands with issue 4)."""
from __future__ import annotations

from bertune_cli._options import Pair


def prepare(pair: Pair = "demo") -> None:
    """Not available yet.

    Example: [bold]bertune prepare --pair demo[/]
    """
    from bertune_cli.core.errors import NotYetAvailable

    raise NotYetAvailable("`bertune prepare` is not built yet (issue 4)",
                          "update bertune; earlier stages work already")
