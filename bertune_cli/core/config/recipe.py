"""Recipes: YAML files loaded into frozen dataclasses.

A recipe names a language pair, where its data comes from, the LM whose WordPiece vocabulary is
the decoder vocabulary, a model preset and the training/fine-tuning/evaluation settings. Values
are type-checked against the dataclass annotations; ``key.sub=value`` overrides are checked the
same way, and every problem (unknown key, wrong type, bad value) is reported in one ConfigError.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Optional

from bertune_cli.core.config.build import _build, _coerce
from bertune_cli.core.config.input import (
    check_value,
    is_name,
    listed,
    parse_yaml,
    read_yaml_text,
    shown,
)
from bertune_cli.core.errors import ConfigError

RECIPES_DIR = Path(__file__).resolve().parents[3] / "recipes"
# `--pair` as users write it -> the shipped recipe it runs (`bertune recipes` shows this table):
# the paper's four IWSLT14 pairs and the blog's Hindi-English corpus, both directions.
PAIR_ALIASES: dict[str, str] = {
    "de-en": "iwslt14-de-en",
    "zh-en": "iwslt14-zh-en",
    "en-tr": "iwslt14-en-tr",
    "en-es": "iwslt14-en-es",
    "hi-en": "hi-en",
    "en-hi": "en-hi",
}


@dataclass(frozen=True)
class SplitFiles:
    """Source and target files (local path or URL, ``.gz`` accepted) of one split."""

    src: str
    tgt: str


@dataclass(frozen=True)
class DataConfig:
    """Where the corpus comes from and how it is cleaned and tokenized (method.md §1, §8)."""

    source: Literal["demo", "files", "csv", "wit3"] = "demo"
    # files: split name -> files; relative paths are resolved against `data.root` when set.
    files: dict[str, SplitFiles] = field(default_factory=dict)
    root: Optional[str] = None
    # wit3: an archive (URL, local .tgz or extracted directory) with the IWSLT14 layout;
    # test_sets: member prefixes such as IWSLT14.TED.tst2010 (default: fairseq's split).
    archive: Optional[str] = None
    sha256: Optional[str] = None
    valid_every: int = 23
    test_sets: tuple[str, ...] = ()
    # csv: one file with named columns; without a `split` column, `csv_split` = (train, test)
    # fractions as sklearn's train_test_split(random_state=split_seed); valid = every
    # `valid_every`-th training pair (also for wit3, and for files without a valid split).
    csv: Optional[str] = None
    src_column: str = "src"
    tgt_column: str = "tgt"
    csv_split: tuple[float, float] = (0.9, 0.1)
    split_seed: int = 42
    # demo: the embedded generator
    demo_seed: int = 1234
    demo_sizes: dict[str, int] = field(
        default_factory=lambda: {"train": 20000, "valid": 500, "test": 500}
    )
    # processing
    lowercase: bool = True
    max_len: int = 175
    max_ratio: float = 1.5
    dedup: bool = False
    bpe_vocab: int = 32000
    target_vocab: Literal["full", "shortlist"] = "full"


@dataclass(frozen=True)
class LMConfig:
    """The pretrained LM: its vocabulary is the decoder vocabulary; its layer feeds F_BERT."""

    name: str = "minilm"
    layer: Optional[int] = None


@dataclass(frozen=True)
class ModelConfig:
    """A model preset (numbers live in code, core/model) plus the few knobs recipes change."""

    preset: str = "transformer_iwslt_de_en"
    dropout: Optional[float] = None


@dataclass(frozen=True)
class TrainConfig:
    """Baseline training (method.md §2)."""

    lr: float = 5e-4
    warmup_updates: int = 4000
    warmup_init_lr: float = 1e-7
    betas: tuple[float, float] = (0.9, 0.98)
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    clip_norm: float = 0.0
    max_tokens: int = 4096
    update_freq: int = 1
    max_epochs: int = 100
    max_steps: int = 0
    max_time: float = 0.0
    patience: int = 3
    valid_every_steps: int = 0
    log_every: int = 50
    seed: int = 1
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    # resume points: checkpoint_last is also written every `save_every_steps` updates (0: only
    # at validations) and every `autosave_seconds` of wall time; `max_bad_updates` skipped
    # (non-finite) updates in a row stop training (core/loops/trainer.py)
    save_every_steps: int = 0
    autosave_seconds: float = 600.0
    max_bad_updates: int = 5


# The fine-tuning settings that default to the train section's value (method.md §5): a
# `finetune` key left unset (None) takes `train.<key>`, in one place (``resolve_finetune``),
# and a fine-tuning run's config.yaml shows the resolved values. `seed` also names the run
# folder when it is set in the recipe (``finetune-<soft>-seed<k>``), so the folder name is
# decided before resolution.
INHERITED_FROM_TRAIN = (
    "warmup_init_lr",
    "betas",
    "weight_decay",
    "label_smoothing",
    "clip_norm",
    "update_freq",
    "log_every",
    "precision",
    "seed",
    "save_every_steps",
    "autosave_seconds",
    "max_bad_updates",
)


@dataclass(frozen=True)
class FinetuneConfig:
    """BERTTune fine-tuning (method.md §4, §5)."""

    soft: Literal["dense", "sparsemax", "gumbel"] = "gumbel"
    tau: float = 0.1
    hard: bool = False
    ce_weight: float = 0.0
    reduction: Literal["sentence", "token"] = "sentence"
    lr: float = 5e-5
    warmup_updates: int = 4000
    max_tokens: int = 4096
    max_epochs: int = 10
    max_steps: int = 0
    max_time: float = 0.0
    patience: int = 3
    select_metric: Literal["bleu", "bertscore", "moverscore"] = "bleu"
    valid_every_steps: int = 0
    impl: Literal["auto", "torch", "triton"] = "auto"
    # validate the starting checkpoint (update 0) first: it competes for checkpoint_best, so a
    # fine-tune that never beats its start on validation returns the start (and says so)
    validate_start: bool = True
    # MiB of the frozen LM's reference states kept in memory for reuse (core/lm/refcache.py;
    # Multi30k's train split needs 646 MiB to be cached whole, 320 keeps a fine-tune within
    # +25 % peak memory); 0: recompute every reference. Results are the same either way.
    ref_cache_mb: float = 320.0
    # MiB more of them written to an unnamed spill file in the run folder (on disk, deleted by
    # the OS when the process ends) and read back bitwise; 0: none. Multi30k needs 326 MiB.
    ref_spill_mb: float = 2048.0
    # run seed (batch order, dropout, Gumbel noise); None: train.seed. A set seed names the run
    # directory finetune-<soft>-seed<k>, so independent runs of one mode sit side by side.
    seed: Optional[int] = None
    # None: the train section's value (INHERITED_FROM_TRAIN, ``resolve_finetune``)
    warmup_init_lr: Optional[float] = None
    betas: Optional[tuple[float, float]] = None
    weight_decay: Optional[float] = None
    label_smoothing: Optional[float] = None  # of the CE term (ce_weight > 0)
    clip_norm: Optional[float] = None
    update_freq: Optional[int] = None
    log_every: Optional[int] = None
    precision: Optional[Literal["fp32", "bf16", "fp16"]] = None
    save_every_steps: Optional[int] = None
    autosave_seconds: Optional[float] = None
    max_bad_updates: Optional[int] = None


@dataclass(frozen=True)
class EvalConfig:
    """Decoding and scoring (method.md §6)."""

    beam: int = 5
    lenpen: float = 1.0
    max_len_a: float = 1.2
    max_len_b: int = 10
    lowercase: bool = True
    # padded source tokens per decoding batch; 0 = by device (translate.auto_batch_tokens)
    batch_tokens: int = 0
    bleu_tokenize: str = "13a"
    # MoverScore's LM (its last layer; method.md §9): validation with select_metric
    # moverscore and the fine-tuning test report. Deliberately not tied to lm.name.
    ms_lm: str = "minilm"


@dataclass(frozen=True)
class Recipe:
    """One language pair / setting. ``name`` is the recipe file stem."""

    name: str
    description: str
    src: str
    tgt: str
    data: DataConfig = field(default_factory=DataConfig)
    lm: LMConfig = field(default_factory=LMConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    # experiment trackers fed by the training loop's events (core/tracking/tracker.py):
    # mlflow, tensorboard
    tracking: tuple[Literal["mlflow", "tensorboard"], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def section_hash(self, *sections: str) -> str:
        """Stable hash of some sections, e.g. ``("data", "lm")`` decides whether data is stale."""
        blob = json.dumps(
            {
                s: dataclasses.asdict(getattr(self, s))
                if dataclasses.is_dataclass(getattr(self, s))
                else getattr(self, s)
                for s in sections
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def resolve_finetune(recipe: Recipe) -> Recipe:
    """``recipe`` with every unset (None) ``finetune`` key of ``INHERITED_FROM_TRAIN`` taken
    from the ``train`` section: the fine-tuning settings as they run (and as a fine-tuning
    run's config.yaml shows them). Idempotent."""
    ft = recipe.finetune
    inherited = {
        k: getattr(recipe.train, k) for k in INHERITED_FROM_TRAIN if getattr(ft, k) is None
    }
    return (
        dataclasses.replace(recipe, finetune=dataclasses.replace(ft, **inherited))
        if inherited
        else recipe
    )


# ----------------------------------------------------------------------------- loading


def list_recipes() -> list[tuple[str, str]]:
    """(name, description) of every shipped recipe, sorted by name."""
    out = []
    for path in sorted(RECIPES_DIR.glob("*.yaml")):
        raw = _read_yaml(path)
        out.append((path.stem, str(raw.get("description", "")).strip()))
    return out


def aliases_of(recipe_name: str) -> list[str]:
    """The pair names (``PAIR_ALIASES``) that resolve to ``recipe_name`` (hi-en: itself)."""
    return [a for a, r in PAIR_ALIASES.items() if r == recipe_name]


def resolve_recipe_path(pair_or_path: str) -> Path:
    """``demo`` -> recipes/demo.yaml, ``de-en`` -> recipes/iwslt14-de-en.yaml (a pair alias);
    an existing ``.yaml`` path is taken as is."""
    candidate = Path(pair_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        if candidate.is_file():
            return candidate
        raise ConfigError(
            f"recipe file not found: {shown(pair_or_path)}",
            "check the path, or pass a shipped recipe name (see `bertune recipes`)",
        )
    name = PAIR_ALIASES.get(pair_or_path.lower(), pair_or_path)
    shipped = RECIPES_DIR / f"{name}.yaml"
    if is_name(name) and shipped.is_file():  # a name, never a path out of recipes/
        return shipped
    names = ", ".join(n for n, _ in list_recipes())
    raise ConfigError(
        f"unknown recipe or pair {shown(pair_or_path)}",
        f"pairs: {', '.join(PAIR_ALIASES)}; shipped recipes: {names}; or pass a "
        "path to a .yaml file",
    )


def load_recipe(
    pair_or_path: str,
    overrides: list[str] | tuple[str, ...] = (),
    values: Mapping[str, Any] | None = None,
) -> Recipe:
    """Load, override and validate a recipe; all problems reported at once.

    ``overrides``: ``key.sub=value`` strings, the value read as YAML (``--set``). ``values``:
    typed values by key (a command's options, e.g. ``{"lm.name": "yes", "finetune.tau":
    0.2}``; None: not given), applied after them with ``dataclasses.replace`` and never read
    as YAML, so ``--lm yes`` names a folder ``yes``, not the boolean true."""
    path = resolve_recipe_path(pair_or_path)
    raw = _read_with_base(path)
    raw.setdefault("name", path.stem)
    problems: list[str] = []
    for item in overrides:
        _apply_override(raw, item, problems)
    recipe = _build(Recipe, raw, "", problems)
    if recipe is not None and values:
        recipe = _replace_values(recipe, values, problems)
    if recipe is not None:  # value ranges: one table, core/config/ranges.py
        from bertune_cli.core.config.ranges import range_problems

        problems += range_problems(recipe, problems)
        if isinstance(recipe.name, str) and not is_name(recipe.name):
            problems.append(
                f"name: {shown(recipe.name)} is not a recipe name (letters, digits, "
                "'.', '_', '-'; not '.' or '..'): it names the run folder"
            )
    if problems:
        raise ConfigError(
            f"invalid recipe {path.name[:80]}: " + listed(problems, 10, "; ", "more problems"),
            "fix the recipe or the --set overrides",
            problems=problems,
        )
    return recipe


def with_values(recipe: Recipe, values: Mapping[str, Any]) -> Recipe:
    """``recipe`` with typed ``section.key`` values (see ``load_recipe``), checked as the
    loader checks a recipe (type, range): ConfigError listing every problem."""
    from bertune_cli.core.config.ranges import range_problems

    problems: list[str] = []
    out = _replace_values(recipe, values, problems)
    problems = problems or range_problems(out)
    if problems:
        raise ConfigError(
            f"invalid recipe {recipe.name}: " + listed(problems, 10, "; ", "more problems"),
            "fix the options or the recipe",
            problems=problems,
        )
    return out


def _replace_values(recipe: Recipe, values: Mapping[str, Any], problems: list[str]) -> Recipe:
    """``recipe`` with typed ``section.key`` values (None: skipped), type-checked like a
    recipe's own (an Enum option stands for its value; a mapping for a nested dataclass)."""
    by_section: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if value is not None:
            section, _, name = key.partition(".")
            by_section.setdefault(section, {})[name] = (
                value.value if isinstance(value, enum.Enum) else value
            )
    changes = {}
    for section, items in by_section.items():
        cfg = getattr(recipe, section)
        hints = typing.get_type_hints(type(cfg))
        unknown = [f"{section}.{name}" for name in items if name not in hints]
        if unknown:
            raise KeyError(f"not recipe settings: {', '.join(unknown)}")
        changes[section] = dataclasses.replace(
            cfg,
            **{
                name: _coerce(hints[name], value, f"{section}.{name}", problems)
                for name, value in items.items()
            },
        )
    return dataclasses.replace(recipe, **changes)


def recipe_from_dict(raw: dict[str, Any]) -> Recipe:
    """Rebuild a Recipe from its ``to_dict()`` form (as stored in checkpoints)."""
    problems: list[str] = []
    recipe = _build(Recipe, json.loads(json.dumps(raw)), "", problems)
    if problems:
        raise ConfigError("stored config is invalid: " + "; ".join(problems), problems=problems)
    return recipe


def _read_with_base(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A recipe's mapping; ``base: <shipped recipe>`` starts from that recipe's mapping and
    merges this file's keys over it, section by section (a variant names only what differs)."""
    raw = _read_yaml(path)
    base = raw.pop("base", None)
    if base is None:
        return raw
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{path}: base must be a recipe name, got {type(base).__name__}")
    base_path = resolve_recipe_path(base)
    if base_path.resolve() in seen or len(seen) >= 8:
        raise ConfigError(
            f"{path}: recipe bases form a cycle or are nested too deep",
            "a recipe's base must not lead back to itself",
        )
    merged = _read_with_base(base_path, seen + (path.resolve(),))
    merged.pop("name", None)
    merged.pop("description", None)
    _merge(merged, raw)
    return merged


def _merge(into: dict[str, Any], over: dict[str, Any]) -> None:
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _read_yaml(path: Path) -> dict[str, Any]:
    """A recipe file's mapping, read within bounds (core/config/input.py)."""
    raw = parse_yaml(read_yaml_text(path), str(path))
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe must be a YAML mapping")
    return raw


def _apply_override(raw: dict[str, Any], item: str, problems: list[str]) -> None:
    import yaml

    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        problems.append(f"override {shown(item)} is not key=value")
        return
    parts = key.strip().split(".")
    node = raw
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            problems.append(f"override {shown(key)}: {shown(part)} is not a section")
            return
        node = child
    try:
        node[parts[-1]] = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        node[parts[-1]] = value
    except RecursionError:
        problems.append(f"override {shown(key)}: the value is nested too deeply")
        return
    try:
        check_value(node[parts[-1]], f"override {shown(key)}")
    except ConfigError as exc:
        del node[parts[-1]]  # refused: not built, not echoed
        problems.append(exc.message)
