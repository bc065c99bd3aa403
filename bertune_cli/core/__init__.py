"""bertune core: never imports typer, rich or bertune_cli.commands."""
