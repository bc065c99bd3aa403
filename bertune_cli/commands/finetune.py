"""`bertune finetune` (lands with issue 7)."""
from __future__ import annotations

from bertune_cli._options import Pair


def finetune(pair: Pair = "demo") -> None:
    """Not available yet.

    Example: [bold]bertune finetune --pair demo[/]
    """
    from bertune_cli.core.errors import NotYetAvailable

    raise NotYetAvailable("`bertune finetune` is not built yet (issue 7)",
                          "update bertune; earlier stages work already")
