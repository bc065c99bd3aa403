"""`bertune translate` (lands with issue 5)."""
from __future__ import annotations

from bertune_cli._options import Pair


def translate(pair: Pair = "demo") -> None:
    """Not available yet.

    Example: [bold]bertune translate --pair demo[/]
    """
    from bertune_cli.core.errors import NotYetAvailable

    raise NotYetAvailable("`bertune translate` is not built yet (issue 5)",
                          "update bertune; earlier stages work already")
