"""Can this recipe run here? Every missing input named at once, before any stage starts.

``check_runnable(recipe, stage, raw_data_dir, runs_root)`` looks — without reading a corpus,
loading a model or touching the network — for everything a stage will need and raises one
error listing all of it: the raw data (the CSV, the WIT3 archive, the split files: where they
were looked for and where to put them), or the prepared data a later stage reads, and every
LM (the decoder-vocabulary / F_BERT LM ``lm.name`` and MoverScore's ``eval.ms_lm``) with the
command that fetches it, and every optional package the recipe asks for (its trackers,
``finetune.impl: triton``) with the extra that installs it. Used by ``prepare``,
``train-baseline`` and ``finetune`` (the
pipeline), so a pair that cannot run fails in a second instead of after the first stage.

"Offline" is ``HF_HUB_OFFLINE=1`` (bertune's documented offline switch): then an LM missing
from the local Hugging Face cache, or a data URL not yet in bertune's download cache, is a
problem; online, both would be downloaded and are not reported.
"""

from __future__ import annotations

import os
from pathlib import Path

from bertune_cli.core.config.recipe import Recipe
from bertune_cli.core.errors import DataError, LMUnavailable, MissingExtra

STAGES = ("prepare", "train-baseline", "finetune")


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE") == "1"


def check_runnable(
    recipe: Recipe,
    stage: str = "finetune",
    raw_data_dir: Path | None = None,
    runs_root: Path | None = None,
) -> None:
    """Raise one DataError (or LMUnavailable when only LMs are missing) naming every missing
    input of ``stage`` (prepare | train-baseline | finetune) for ``recipe``."""
    check_layer(recipe)
    data = data_problems(recipe, stage, raw_data_dir, runs_root)
    lms = lm_problems(recipe, stage)
    extras = extra_problems(recipe, stage)
    if not data and not lms and not extras:
        return
    problems = data + lms + extras
    listed = "; ".join(f"({i}) {p}" for i, p in enumerate(problems, 1))
    message = (
        f"recipe {recipe.name!r} cannot run here — {len(problems)} thing"
        f"{'s are' if len(problems) > 1 else ' is'} missing: {listed}"
    )
    error = DataError if data else LMUnavailable if lms else MissingExtra
    raise error(message, "supply them as said, then run the same command again")


def data_problems(
    recipe: Recipe, stage: str, raw_data_dir: Path | None, runs_root: Path | None
) -> list[str]:
    """What is missing of the data ``stage`` reads."""
    from bertune_cli.core.io.paths import stage_dir

    prepared = stage_dir(recipe.name, "data", runs_root)
    if (prepared / "manifest.json").is_file() and raw_data_dir is None and stage != "prepare":
        return []
    if stage == "train-baseline":
        return [
            f"prepared data in {prepared} (run `bertune prepare --pair {recipe.name}` first)"
        ] + _raw_problems(recipe, raw_data_dir)
    return _raw_problems(recipe, raw_data_dir)


def _raw_problems(recipe: Recipe, raw_data_dir: Path | None) -> list[str]:
    from bertune_cli.core.data import raw as io

    d = recipe.data
    where = (
        f"put it in {raw_data_dir}"
        if raw_data_dir
        else "put it in a folder and pass --data-dir DIR"
    )
    if d.source == "demo":
        return []
    if (
        raw_data_dir is not None
        and not Path(raw_data_dir).expanduser().is_dir()
        and not (d.source == "wit3" and Path(raw_data_dir).expanduser().is_file())
    ):
        return [f"the folder --data-dir {raw_data_dir} (it does not exist)"]
    if d.source == "csv":
        if not d.csv:
            return [
                f"the CSV corpus (columns {d.src_column}, {d.tgt_column}): pass "
                "--set data.csv=PATH, or --data-dir DIR holding it"
            ]
        return _missing(
            io.locate(d.csv, d.root, raw_data_dir),
            "the CSV corpus",
            f"{where} (or pass --set data.csv=PATH)",
        )
    if d.source == "wit3":
        name = f"{recipe.src}-{recipe.tgt}.tgz"
        what = f"the IWSLT14 WIT3 2014-01 archive {name} (or its extracted folder)"
        if raw_data_dir is not None:
            folder = Path(raw_data_dir).expanduser()
            names = [io.basename(d.archive)] if d.archive else []
            names += [
                f"{a}-{b}{e}"
                for a, b in ((recipe.src, recipe.tgt), (recipe.tgt, recipe.src))
                for e in (".tgz", ".tar.gz", "")
            ]
            if (
                folder.is_file()
                or any((folder / n).exists() for n in names)
                or any(folder.glob("train.tags.*"))
            ):
                return []
            return [f"{what}: not in {folder}; put {name} there"]
        if not d.archive:
            return [f"{what}: {where}, or pass --set data.archive=PATH_OR_URL"]
        return _missing(
            io.locate(d.archive, d.root), what, f"{where} (or pass --set data.archive=PATH_OR_URL)"
        )
    out = []
    for split, files in sorted(d.files.items()):
        for side, name in (("source", files.src), ("target", files.tgt)):
            out += _missing(
                io.locate(name, d.root, raw_data_dir), f"the {split} {side} file", where
            )
    return out


def _missing(location: str, what: str, where: str) -> list[str]:
    from bertune_cli.core.data import raw as io

    if io.is_url(location):
        if offline() and not io.cache_path(location).is_file():
            return [
                f"{what}: {location} has to be downloaded and HF_HUB_OFFLINE=1 says there "
                f"is no network; {where}"
            ]
        return []
    if Path(location).exists():
        return []
    return [f"{what}: not found at {location}; {where}"]


def extra_problems(recipe: Recipe, stage: str) -> list[str]:
    """Optional packages the recipe asks for that are not installed (core/system/extras.py)."""
    from bertune_cli.core.system.extras import install_hint, missing

    if stage == "prepare":
        return []
    wanted = {name: f"the tracker {name} (tracking: / --track)" for name in recipe.tracking}
    if stage == "finetune" and recipe.finetune.impl == "triton":
        wanted["triton"] = "the Triton kernels (finetune.impl: triton / --impl triton)"
    return [
        f"{what}: {module} is not installed ({install_hint(module)})"
        for module, what in wanted.items()
        if missing([module])
    ]


def lm_problems(recipe: Recipe, stage: str) -> list[str]:
    """LMs the stage needs that cannot be loaded here, with the command that fetches them."""
    names = [recipe.lm.name]
    if stage == "finetune" and recipe.eval.ms_lm not in names:
        names.append(recipe.eval.ms_lm)  # the test report's MoverScore
    out = []
    for name in names:
        why = lm_missing(name)
        if why:
            role = "MoverScore LM (eval.ms_lm)" if name != recipe.lm.name else "LM (lm.name)"
            out.append(f"the {role} {name}: {why}")
    return out


def check_layer(recipe: Recipe) -> None:
    """``lm.layer`` within the LM's encoder layers, read from its config.json when the LM is
    here (LMChoiceError, exit 2) — before a stage trains anything, not when the LM loads."""
    import json

    from bertune_cli.core.errors import LMChoiceError
    from bertune_cli.core.lm.model import DEFAULT_LM, minilm_path

    layer = recipe.lm.layer
    if layer is None:
        return
    try:
        folder = minilm_path() if recipe.lm.name == DEFAULT_LM else Path(recipe.lm.name)
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
        total = int(config.get("num_hidden_layers") or config.get("n_layers"))
    except (LMUnavailable, OSError, ValueError, TypeError):
        return  # not here (lm_problems says so) or not a BERT-like config
    if not 1 <= layer <= total:
        raise LMChoiceError(
            f"layer {layer} is out of range for {recipe.lm.name} ({total} layers)",
            f"pass --layer between 1 and {total}",
        )


def lm_missing(name: str) -> str | None:
    """Why ``name`` cannot be loaded here (None when it can, or when it would be downloaded)."""
    from bertune_cli.core.lm.model import DEFAULT_LM, minilm_path

    if name == DEFAULT_LM:
        try:
            minilm_path()
        except LMUnavailable as exc:
            return str(exc)
        return None
    path = Path(name).expanduser()
    if path.exists():
        return (
            None
            if (path / "config.json").is_file()
            else f"{path} is not a model folder (no config.json)"
        )
    if name.startswith((".", "/", "~")):
        return f"no such folder {name}"
    if not offline():
        return None
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except ValueError:  # not a valid repo id
        cached = None
    if isinstance(cached, str):
        return None
    return (
        f"not in the local Hugging Face cache and HF_HUB_OFFLINE=1; fetch it once with "
        f"`hf download {name}` (or pass --lm with a local folder)"
    )
