"""The four source kinds of a recipe (``data.source``) -> raw parallel text per split.

Each kind has two steps:

- ``plan``: resolve every input (``--data-dir``, ``data.root``) and fingerprint it without
  reading it: local files by sha256, URLs by URL (+ the recipe's sha256), the demo by the hash
  of its generator's code. Prepare compares these fingerprints with the manifest to decide
  whether anything has to be redone.
- ``load``: download what is remote, read and check everything, and return ``RawCorpus``.

Kinds: ``demo`` (the embedded generator), ``files`` (aligned plain/.gz files per split),
``csv`` (named columns, 90/10 split with seed 42 unless a ``split`` column exists) and
``wit3`` (IWSLT14 archives, fairseq split). When no validation split is given it is taken,
after cleaning, as every ``data.valid_every``-th training pair (fairseq's rule).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bertune_cli.core.config.recipe import Recipe
from bertune_cli.core.data import raw as io
from bertune_cli.core.data import table, wit3
from bertune_cli.core.data.raw import Progress
from bertune_cli.core.errors import ConfigError, DataError, UsageError

SPLITS = ("train", "valid", "test")


@dataclass
class Input:
    """One input of a recipe: a local path or a URL, and its fingerprint."""

    role: str  # "train.src", "archive", "csv", "demo", ...
    location: str  # URL or local path
    sha256: str | None = None  # content hash (local files; URLs once downloaded)
    expected: str | None = None  # the recipe's sha256 for a download

    @property
    def is_url(self) -> bool:
        return io.is_url(self.location)

    @property
    def identity(self) -> str:
        """What decides a cache hit: the content hash, or for a URL the URL (and sha256)."""
        return f"{self.location}#{self.expected or ''}" if self.is_url else str(self.sha256)

    def local(self, progress: Progress) -> Path:
        if not self.is_url:
            return Path(self.location)
        path = io.fetch(self.location, self.expected, progress)
        self.sha256 = io.sha256_file(path)
        return path

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "location": self.location, "sha256": self.sha256}


@dataclass
class RawCorpus:
    """Untokenized text per split; ``carve_valid``: take valid from cleaned train."""

    splits: dict[str, tuple[list[str], list[str]]]
    carve_valid: bool = False
    info: dict[str, Any] = field(default_factory=dict)


def local_input(role: str, location: str, what: str = "file") -> Input:
    if io.is_url(location):
        return Input(role, location)
    path = io.require_file(Path(location), what, io.RECIPE_PATH_HINT)
    return Input(role, str(path), io.sha256_file(path))


# ----------------------------------------------------------------------------- demo


def _plan_demo(recipe: Recipe, data_dir: Path | None) -> list[Input]:
    from bertune_cli.core.data import demo, demo_lexicon

    if data_dir is not None:
        raise UsageError(
            "--data-dir does not apply to the demo corpus (it is generated)",
            "drop --data-dir, or use a recipe that reads files",
        )
    digest = hashlib.sha256()
    for module in (demo, demo_lexicon):
        digest.update(Path(module.__file__).read_bytes())
    return [Input("demo", "bertune_cli.core.data.demo", digest.hexdigest())]


def _load_demo(recipe: Recipe, inputs: list[Input], progress: Progress) -> RawCorpus:
    from bertune_cli.core.data.demo import generate_demo_corpus

    progress("generate demo corpus", 0, None)
    corpus = generate_demo_corpus(recipe.data.demo_seed, dict(recipe.data.demo_sizes))
    splits = {s: ([de for de, _ in pairs], [en for _, en in pairs]) for s, pairs in corpus.items()}
    progress("generate demo corpus", 1, 1)
    return RawCorpus(splits, info={"demo_seed": recipe.data.demo_seed})


# ----------------------------------------------------------------------------- files


def _plan_files(recipe: Recipe, data_dir: Path | None) -> list[Input]:
    files = recipe.data.files
    unknown = sorted(set(files) - set(SPLITS))
    if unknown:
        raise ConfigError(
            f"data.files: unknown split {', '.join(unknown)}", "use train, valid and test"
        )
    if "train" not in files:
        raise ConfigError(
            "data.files has no train split", "give --src-file train=PATH --tgt-file train=PATH"
        )
    out = []
    for split in SPLITS:
        if split in files:
            for side in ("src", "tgt"):
                where = io.locate(getattr(files[split], side), recipe.data.root, data_dir)
                out.append(local_input(f"{split}.{side}", where))
    return out


def _load_files(recipe: Recipe, inputs: list[Input], progress: Progress) -> RawCorpus:
    by_role = {i.role: i for i in inputs}
    splits = {}
    for split in SPLITS:
        if f"{split}.src" not in by_role:
            continue
        src_in, tgt_in = by_role[f"{split}.src"], by_role[f"{split}.tgt"]
        progress(f"read {split}", 0, 2)
        src = io.read_lines(src_in.local(progress), src_in.location)
        tgt = io.read_lines(tgt_in.local(progress), tgt_in.location)
        progress(f"read {split}", 2, 2)
        if len(src) != len(tgt):
            raise DataError(
                f"{split}: {src_in.location} has {len(src)} lines but "
                f"{tgt_in.location} has {len(tgt)}",
                "source and target files must be aligned line by line",
            )
        splits[split] = (src, tgt)
    return RawCorpus(splits, carve_valid="valid" not in splits)


# ----------------------------------------------------------------------------- csv


def _plan_csv(recipe: Recipe, data_dir: Path | None) -> list[Input]:
    if not recipe.data.csv:
        raise ConfigError(
            f"recipe {recipe.name} has no data.csv",
            "pass the file: --set data.csv=/path/to/corpus.csv",
        )
    return [local_input("csv", io.locate(recipe.data.csv, recipe.data.root, data_dir), "CSV file")]


def _load_csv(recipe: Recipe, inputs: list[Input], progress: Progress) -> RawCorpus:
    d = recipe.data
    progress("read csv", 0, None)
    t = table.read_table(inputs[0].local(progress), d.src_column, d.tgt_column, inputs[0].location)
    progress("read csv", t.rows, t.rows)
    info = {"rows": t.rows, "empty_rows_dropped": t.empty}
    if t.split is not None:
        splits = {
            s: (
                [x for x, k in zip(t.src, t.split) if k == s],
                [y for y, k in zip(t.tgt, t.split) if k == s],
            )
            for s in SPLITS
        }
        splits = {s: v for s, v in splits.items() if v[0]}
        info["split"] = "column 'split'"
        return RawCorpus(splits, carve_valid="valid" not in splits, info=info)
    train, test = table.random_split(len(t.src), d.csv_split[0], d.csv_split[1], d.split_seed)
    info["split"] = (
        f"train_test_split(train_size={d.csv_split[0]}, test_size={d.csv_split[1]}, "
        f"random_state={d.split_seed}); valid = every {d.valid_every}-th train pair"
    )
    pick = lambda idx: ([t.src[i] for i in idx], [t.tgt[i] for i in idx])  # noqa: E731
    return RawCorpus({"train": pick(train), "test": pick(test)}, carve_valid=True, info=info)


# ----------------------------------------------------------------------------- wit3


def _archive_location(recipe: Recipe, data_dir: Path | None) -> str:
    """The archive: ``data.archive``, or what ``--data-dir`` holds (an extracted folder, the
    pair's folder or the archive file named like the recipe's URL)."""
    d, src, tgt = recipe.data, recipe.src, recipe.tgt
    if data_dir is None:
        if not d.archive:
            raise ConfigError(
                f"recipe {recipe.name} has no data.archive",
                f"pass the WIT3 archive: --data-dir DIR (holding {src}-{tgt}.tgz "
                f"or its extracted folder) or --set data.archive=PATH_OR_URL",
            )
        return io.locate(d.archive, d.root)
    data_dir = Path(data_dir).expanduser()
    names = [io.basename(d.archive)] if d.archive else []
    names += [
        f"{a}-{b}{ext}" for a, b in ((src, tgt), (tgt, src)) for ext in (".tgz", ".tar.gz", "")
    ]
    for name in names:
        if (data_dir / name).exists():
            return str(data_dir / name)
    if data_dir.is_dir():
        return str(data_dir)  # an extracted archive; Archive() says what is missing
    raise DataError(
        f"--data-dir {data_dir} does not exist",
        f"give the folder that holds {names[0] if names else f'{src}-{tgt}.tgz'}",
    )


def _plan_wit3(recipe: Recipe, data_dir: Path | None) -> list[Input]:
    where = _archive_location(recipe, data_dir)
    if io.is_url(where):
        return [Input("archive", where, expected=recipe.data.sha256)]
    archive = wit3.Archive(Path(where))
    _, names = wit3.member_names(archive, recipe.src, recipe.tgt, recipe.data.test_sets)
    checksum, expected = archive.checksum(names), recipe.data.sha256
    if expected and Path(where).is_file() and checksum != expected.lower():
        raise DataError(
            f"checksum mismatch for {where}: expected sha256 {expected}, got {checksum}",
            "check data.sha256, or get the archive again",
        )
    return [Input("archive", where, checksum, expected)]


def _load_wit3(recipe: Recipe, inputs: list[Input], progress: Progress) -> RawCorpus:
    path = inputs[0].local(progress)
    progress("read archive", 0, None)
    corpus = wit3.load_wit3(wit3.Archive(path), recipe.src, recipe.tgt, recipe.data.test_sets)
    progress("read archive", 1, 1)
    info = {"pair": corpus.pair, "test_sets": corpus.test_counts, "members": corpus.members}
    return RawCorpus(
        {"train": (corpus.train_src, corpus.train_tgt), "test": (corpus.test_src, corpus.test_tgt)},
        carve_valid=True,
        info=info,
    )


# ----------------------------------------------------------------------------- dispatch

KINDS: dict[str, tuple[Callable, Callable]] = {
    "demo": (_plan_demo, _load_demo),
    "files": (_plan_files, _load_files),
    "csv": (_plan_csv, _load_csv),
    "wit3": (_plan_wit3, _load_wit3),
}


def plan(recipe: Recipe, data_dir: Path | None = None) -> list[Input]:
    """Every input of ``recipe`` with its fingerprint (reads no corpus text)."""
    return KINDS[recipe.data.source][0](recipe, data_dir)


def load(recipe: Recipe, inputs: list[Input], progress: Progress = io.quiet) -> RawCorpus:
    """The raw parallel text of ``recipe`` (downloads first when an input is a URL)."""
    return KINDS[recipe.data.source][1](recipe, inputs, progress)
