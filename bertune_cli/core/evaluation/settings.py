"""Where an evaluation's settings come from: a recipe (the fine-tune report, the grid), or a
command's options over a run's recipe (``score``/``significance --model``) over the defaults.

A run's ``bertune.json`` holds its resolved recipe: the F_BERT LM and layer
(``config.lm``) and the evaluation settings (``config.eval``: lowercase, BLEU tokenizer,
MoverScore's LM). ``--model`` uses them, so a run is scored the way its own validation and
test report scored it; an explicit option wins. The settings' ``source`` names the run, and
every metric's signature carries them (BLEU ``case:lc|tok:13a``, F_BERT ``minilm_L5_…``).
"""

from __future__ import annotations

from pathlib import Path

from bertune_cli.core.errors import CheckpointError
from bertune_cli.core.metrics.protocol import EvalSettings


def recipe_settings(recipe, device: str = "auto") -> EvalSettings:
    """A recipe's evaluation settings (its ``eval`` and ``lm`` sections)."""
    e = recipe.eval
    return EvalSettings(
        lowercase=e.lowercase,
        tokenize=e.bleu_tokenize,
        lm=recipe.lm.name,
        layer=recipe.lm.layer,
        ms_lm=e.ms_lm,
        device=device,
        source=f"recipe {recipe.name}",
    )


def command_settings(
    model: str | Path | None = None,
    *,
    need_lm: bool = True,
    lm: str | None = None,
    layer: int | None = None,
    lowercase: bool | None = None,
    tokenize: str | None = None,
    ms_lm: str | None = None,
    **options,
) -> EvalSettings:
    """``score``/``significance`` settings: the options given (not None) win over the recipe
    of the run ``model`` (a run or checkpoint folder, or its ``bertune.json``), which wins over
    the defaults (cased BLEU/chrF, 13a, the bundled MiniLM at its default layer). ``need_lm``:
    F_BERT is asked for, so the run must name its LM. ``options``: the other EvalSettings
    fields (idf, rescale, bf16, ms_stop_words, batch_size, device)."""
    if model is None:
        return EvalSettings(
            lowercase=bool(lowercase), tokenize=tokenize, lm=lm, layer=layer, ms_lm=ms_lm, **options
        )
    from bertune_cli.core.model.checkpoint import read_json_object

    path = find_run_json(Path(model))
    meta = read_json_object(path, "pass a checkpoint or run directory written by bertune")
    name, run_layer = lm_from_meta(meta)
    if name is None and need_lm:
        raise CheckpointError(
            f"{path} does not name an LM (expected config.lm.name)", "pass --lm and --layer instead"
        )
    ev = _eval_section(meta)
    return EvalSettings(
        lowercase=bool(ev.get("lowercase", False)) if lowercase is None else lowercase,
        tokenize=tokenize if tokenize is not None else ev.get("bleu_tokenize"),
        lm=lm or name,
        layer=layer if layer is not None else run_layer,
        ms_lm=ms_lm if ms_lm is not None else ev.get("ms_lm"),
        source=f"run {path}",
        **options,
    )


def _eval_section(meta) -> dict:
    config = meta.get("config") if isinstance(meta, dict) else None
    ev = config.get("eval") if isinstance(config, dict) else None
    return ev if isinstance(ev, dict) else {}


def find_run_json(path: Path) -> Path:
    """The ``bertune.json`` of a checkpoint or run folder (or the file itself)."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise CheckpointError(
            f"run or checkpoint not found: {path}",
            "pass a checkpoint folder or run directory (with bertune.json)",
        )
    for pattern in ("bertune.json", "*/bertune.json", "*/*/bertune.json"):
        found = sorted(path.glob(pattern))
        if found:
            return found[0]
    raise CheckpointError(
        f"no bertune.json in {path} or its subfolders",
        "pass a checkpoint folder written by bertune, or --lm/--layer",
    )


def lm_from_meta(meta: dict) -> tuple[str | None, int | None]:
    """Lenient: config.lm.{name,layer}, lm.{name,layer}, lm_name/lm_layer, or lm as a string."""
    for holder in (meta.get("config") or {}, meta):
        lm = holder.get("lm") if isinstance(holder, dict) else None
        if isinstance(lm, dict) and lm.get("name"):
            layer = lm.get("layer")
            return str(lm["name"]), int(layer) if layer is not None else None
        if isinstance(lm, str):
            layer = holder.get("lm_layer", holder.get("layer"))
            return lm, int(layer) if layer is not None else None
        if isinstance(holder, dict) and holder.get("lm_name"):
            layer = holder.get("lm_layer")
            return str(holder["lm_name"]), int(layer) if layer is not None else None
    return None, None
