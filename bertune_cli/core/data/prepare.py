"""`prepare`: a recipe's raw corpus -> the data directory every later stage reads (store.py).

Steps: resolve and fingerprint the inputs (corpus.plan) -> stop here when the existing data
directory has the same settings hash (a cache hit) -> check the LM tokenizer -> download and
read (corpus.load) -> normalise whitespace -> Moses-tokenize -> clean the training pairs
(cleaning.py) -> take valid from them when the source has none (every ``valid_every``-th) ->
learn the source BPE on the training source -> encode both sides in batches -> write
everything into a hidden folder next to ``out_dir`` and swap it into place
(``outputs.AtomicFolder``).

The settings hash covers the data settings (locations excepted), the languages, the LM name, the
format version and the fingerprint of every input (sha256 of local files, URL for downloads), so
moving the same files elsewhere is still a cache hit while any changed byte or setting rebuilds.
Every problem is raised before anything is written: a failed prepare leaves no data directory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bertune_cli import __version__
from bertune_cli.core.config.recipe import Recipe
from bertune_cli.core.data import corpus
from bertune_cli.core.data.cleaning import CleanStats, clean_pairs, drop_empty, every_nth
from bertune_cli.core.data.raw import Progress, normalize_space, quiet
from bertune_cli.core.data.source import SourceEncoder
from bertune_cli.core.data.store import MANIFEST, SPLITS, Ragged, Split, write_split
from bertune_cli.core.data.target import TargetCodec
from bertune_cli.core.data.tokenization import moses_tokenize_many
from bertune_cli.core.errors import ConfigError, DataError
from bertune_cli.core.io.locks import run_lock
from bertune_cli.core.io.outputs import AtomicFolder, check_output_dir, output_error

FORMAT = 1
# Where the data comes from is fingerprinted by content (corpus.Input); target_vocab only
# matters to training (the shortlist is always written).
NOT_SETTINGS = ("root", "files", "archive", "csv", "sha256", "target_vocab")


@dataclass
class PrepareResult:
    out_dir: Path
    cached: bool  # True: the directory was already up to date, nothing was done
    manifest: dict[str, Any]
    elapsed: float


def settings_of(recipe: Recipe) -> dict[str, Any]:
    data = {k: v for k, v in dataclasses.asdict(recipe.data).items() if k not in NOT_SETTINGS}
    return {
        "format": FORMAT,
        "src": recipe.src,
        "tgt": recipe.tgt,
        "lm": recipe.lm.name,
        "data": data,
    }


def settings_hash(settings: dict[str, Any], inputs: list[corpus.Input]) -> str:
    blob = json.dumps(
        {"settings": settings, "inputs": {i.role: i.identity for i in inputs}},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def prepare(
    recipe: Recipe,
    out_dir: Path,
    *,
    data_dir: Path | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> PrepareResult:
    """Build (or confirm) the data directory ``out_dir`` for ``recipe``.

    ``data_dir`` replaces ``data.root`` / the archive location (the ``--data-dir`` option);
    ``progress(step, done, total)`` is called during long steps; ``force`` rebuilds even when
    the directory is up to date.
    """
    start = time.perf_counter()
    progress = progress or quiet
    out_dir = Path(out_dir)
    if recipe.data.valid_every < 2:
        raise ConfigError(f"data.valid_every={recipe.data.valid_every}: must be at least 2")
    inputs = corpus.plan(recipe, data_dir)
    settings = settings_of(recipe)
    key = settings_hash(settings, inputs)
    manifest = None if force else up_to_date(out_dir, key)
    if manifest is not None:
        return PrepareResult(out_dir, True, manifest, time.perf_counter() - start)
    check_output_dir(out_dir, "data directory")  # before the work: writable, parents made
    with run_lock(out_dir, "bertune prepare"):  # one writer per data directory
        return _prepare(recipe, out_dir, inputs, settings, key, progress, force, start)


def _prepare(
    recipe: Recipe,
    out_dir: Path,
    inputs,
    settings: dict[str, Any],
    key: str,
    progress: Progress,
    force: bool,
    start: float,
) -> PrepareResult:
    manifest = None if force else up_to_date(out_dir, key)  # built meanwhile by the holder
    if manifest is not None:
        return PrepareResult(out_dir, True, manifest, time.perf_counter() - start)
    _check_replaceable(out_dir)
    codec = TargetCodec.from_lm(recipe.lm.name, recipe.tgt)
    raw = corpus.load(recipe, inputs, progress)
    splits, cleaning, encoder = build(recipe, raw, codec, progress)
    shortlist = np.union1d(np.unique(splits["train"].tgt.ids), sorted(codec.special_ids)).astype(
        np.int64
    )
    manifest = {
        "format": FORMAT,
        "bertune_version": __version__,
        "recipe": recipe.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "src": recipe.src,
        "tgt": recipe.tgt,
        "settings_hash": key,
        "settings": settings,
        "sources": [i.to_dict() for i in inputs],
        "source_info": raw.info,
        "splits": {name: _split_stats(s) for name, s in splits.items()},
        "cleaning": {name: stats.to_dict() for name, stats in cleaning.items()},
        "vocab": {
            "source": encoder.vocab_size,
            "target": codec.vocab_size,
            "shortlist": int(shortlist.size),
        },
        "lm": {
            "name": recipe.lm.name,
            "vocab_size": codec.vocab_size,
            "do_lower_case": codec.settings()["do_lower_case"],
        },
        "tokenizer": {"source": encoder.settings(), "target": codec.settings()},
    }
    manifest["elapsed_s"] = round(time.perf_counter() - start, 2)
    progress("write", 0, 1)
    write_atomic(out_dir, list(splits.values()), encoder, shortlist, manifest)
    progress("write", 1, 1)
    return PrepareResult(out_dir, False, manifest, time.perf_counter() - start)


prepare_recipe = prepare  # the name some callers use


def up_to_date(out_dir: Path, key: str) -> dict[str, Any] | None:
    """The manifest of ``out_dir`` when it is complete and was built with settings hash ``key``."""
    try:
        manifest = json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("settings_hash") != key:
        return None
    needed = ["src_tokenizer.json", "source.json", "shortlist.npy"] + [
        f"{s}.{side}.{kind}"
        for s in manifest.get("splits", {})
        for side in ("src", "tgt")
        for kind in ("ids.npy", "offsets.npy", "txt")
    ]
    return manifest if all((Path(out_dir) / f).is_file() for f in needed) else None


# ----------------------------------------------------------------------------- building


def build(
    recipe: Recipe, raw: corpus.RawCorpus, codec: TargetCodec, progress: Progress
) -> tuple[dict[str, Split], dict[str, CleanStats], SourceEncoder]:
    """Clean, split, learn BPE and encode; returns the splits in store order."""
    text = {
        s: ([normalize_space(x) for x in a], [normalize_space(y) for y in b])
        for s, (a, b) in raw.splits.items()
    }
    jobs = [(f"moses {s}.{recipe.src}", text[s][0], recipe.src) for s in text]
    jobs.append((f"moses train.{recipe.tgt}", text["train"][1], recipe.tgt))  # for cleaning
    *src_lists, tgt_tok = moses_tokenize_many(jobs, progress)
    src_tok = dict(zip(text, src_lists))
    chosen, cleaning = select(recipe, raw, text, src_tok, tgt_tok)
    progress("learn source BPE", 0, 1)
    encoder = SourceEncoder.train(
        [src_tok["train"][i] for i in chosen["train"][1]],
        recipe.src,
        recipe.data.lowercase,
        recipe.data.bpe_vocab,
        pretokenized=True,
    )
    progress("learn source BPE", 1, 1)
    splits = {}
    for k, name in enumerate(chosen):
        pool, idx = chosen[name]
        progress("encode", k, len(chosen))
        src_ids = encoder.encode_tokenized([src_tok[pool][i] for i in idx])
        tgt_text = [text[pool][1][i] for i in idx]
        splits[name] = Split(
            name,
            Ragged.from_lists(src_ids),
            Ragged.from_lists(codec.encode(tgt_text)),
            [text[pool][0][i] for i in idx],
            tgt_text,
        )
    progress("encode", len(chosen), len(chosen))
    return splits, cleaning, encoder


def select(
    recipe: Recipe, raw: corpus.RawCorpus, text: dict, src_tok: dict, tgt_tok: list[str]
) -> tuple[dict[str, tuple[str, list[int]]], dict[str, CleanStats]]:
    """Which pairs each split keeps, as ``{split: (pool split, indices)}`` in store order:
    training pairs cleaned, valid carved from them when needed, held-out splits only lose
    pairs with an empty side. Raises DataError when a split ends up empty."""
    d = recipe.data
    keep, stats = clean_pairs(
        src_tok["train"], tgt_tok, d.max_len, d.max_ratio, d.dedup, texts=text["train"]
    )
    if not keep:
        raise DataError(
            f"no training pairs left after cleaning ({_dropped(stats)})",
            "check that the two sides are aligned and in the recipe's languages, "
            "or relax data.max_len / data.max_ratio",
        )
    chosen, cleaning = {"train": ("train", keep)}, {"train": stats}
    if raw.carve_valid:
        rest, nth = every_nth(keep, d.valid_every)
        chosen = {"train": ("train", rest), "valid": ("train", nth)}
    for s in (s for s in SPLITS if s in text and s != "train"):
        kept, cleaning[s] = drop_empty(src_tok[s], text[s][1])
        chosen[s] = (s, kept)
    for name, (_, idx) in chosen.items():
        if not idx:
            hint = (
                f"give more data or a smaller data.valid_every (now {d.valid_every})"
                if name == "valid"
                else "check the input files"
            )
            raise DataError(
                f"the {name} split is empty after cleaning ({len(keep)} training pairs kept)", hint
            )
    return {s: chosen[s] for s in SPLITS if s in chosen}, cleaning


def _dropped(stats: CleanStats) -> str:
    parts = [f"{stats.read} read"] + [
        f"{k} {step.replace('_', ' ')}" for step, k in stats.dropped.items() if k
    ]
    return ", ".join(parts)


def _split_stats(split: Split) -> dict[str, Any]:
    src, tgt = split.src.lengths(), split.tgt.lengths()
    return {
        "pairs": len(split),
        "src_tokens": int(src.sum()),
        "tgt_tokens": int(tgt.sum()),
        "max_src_len": int(src.max(initial=0)),
        "max_tgt_len": int(tgt.max(initial=0)),
    }


# ----------------------------------------------------------------------------- writing


def _check_replaceable(out_dir: Path) -> None:
    if (
        out_dir.exists()
        and not (out_dir / MANIFEST).is_file()
        and (not out_dir.is_dir() or any(out_dir.iterdir()))
    ):
        raise DataError(
            f"{out_dir} exists and is not a prepared data directory; not replacing it",
            "choose another --out folder, or remove it yourself",
        )


def write_atomic(
    out_dir: Path,
    splits: list[Split],
    encoder: SourceEncoder,
    shortlist: np.ndarray,
    manifest: dict[str, Any],
) -> None:
    """Write into a hidden sibling of ``out_dir``, then swap it into place (``AtomicFolder``)."""
    try:
        with AtomicFolder(out_dir, "data directory") as tmp:
            for split in splits:
                write_split(tmp, split)
            np.save(tmp / "shortlist.npy", shortlist)
            encoder.save(tmp)
            (tmp / MANIFEST).write_text(
                json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
            )
    except OSError as exc:  # everything the body writes is the data directory
        raise output_error(exc, out_dir, "data directory") from exc
