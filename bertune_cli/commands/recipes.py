"""`bertune recipes`: list the shipped recipes and the pair names that resolve to them."""

from __future__ import annotations

from bertune_cli._options import Json


def recipes(json_out: Json = False) -> None:
    """List the shipped recipes with a one-line description and their pair aliases.

    `--pair` takes a recipe name, a pair as users write it (de-en, zh-en, en-tr, en-es: the
    paper's IWSLT14 recipes; hi-en, en-hi: the blog's Hindi-English corpus) or a .yaml path.

    Example: [bold]bertune recipes[/]  then  [bold]bertune finetune --pair de-en --soft gumbel[/]
    """
    import json

    from rich.console import Console
    from rich.table import Table

    from bertune_cli.core.config.recipe import PAIR_ALIASES, RECIPES_DIR, aliases_of, list_recipes

    rows = [(name, desc, aliases_of(name)) for name, desc in list_recipes()]
    if json_out:  # one object, as every --json: {recipes_dir, recipes: [...], pairs: {...}}
        print(
            json.dumps(
                {
                    "recipes_dir": str(RECIPES_DIR),
                    "recipes": [{"name": n, "description": d, "aliases": a} for n, d, a in rows],
                    "pairs": dict(PAIR_ALIASES),
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    table = Table(title=f"recipes in {RECIPES_DIR}", title_justify="left")
    table.add_column("name", style="bold cyan", no_wrap=True)
    table.add_column("pair", no_wrap=True)
    table.add_column("description")
    for name, desc, aliases in rows:
        table.add_row(name, ", ".join(aliases), desc)
    console = Console()
    console.print(table)
    console.print(
        "--pair PAIR runs the recipe of that row: "
        + ", ".join(f"{a} → {r}" for a, r in PAIR_ALIASES.items() if a != r),
        highlight=False,
    )
