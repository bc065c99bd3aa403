"""`bertune recipes`: list the shipped recipes."""
from __future__ import annotations

from bertune_cli._options import Json


def recipes(json_out: Json = False) -> None:
    """List the shipped recipes with a one-line description.

    Example: [bold]bertune recipes[/]  then  [bold]bertune finetune --pair demo[/]
    """
    import json

    from rich.console import Console
    from rich.table import Table

    from bertune_cli.core.config import RECIPES_DIR, list_recipes

    rows = list_recipes()
    if json_out:
        print(json.dumps([{"name": n, "description": d} for n, d in rows], indent=2))
        return
    table = Table(title=f"recipes in {RECIPES_DIR}", title_justify="left")
    table.add_column("name", style="bold cyan", no_wrap=True)
    table.add_column("description")
    for name, desc in rows:
        table.add_row(name, desc)
    Console().print(table)
