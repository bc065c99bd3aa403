"""The prepared data directory: the contract between `prepare` and every later stage.

Layout (written atomically by prepare; read-only afterwards)::

    <data_dir>/
      manifest.json                 sources, checksums, counts, vocab sizes, LM, settings hash
      src_tokenizer.json            source BPE (HF tokenizers) over Moses-tokenized text
      source.json                   source preprocessing settings (lang, lowercase, ...)
      shortlist.npy                 int64, sorted LM ids seen in train targets + LM specials
      <split>.src.ids.npy  <split>.src.offsets.npy   source BPE ids (+ </s>), ragged
      <split>.tgt.ids.npy  <split>.tgt.offsets.npy   target LM ids [CLS] y_1 .. y_n [SEP]
      <split>.src.txt  <split>.tgt.txt               the untokenized text, one line per pair

Token ids are stored as one flat int32 array plus int64 offsets (n + 1), so training never
re-tokenizes and a split of 160k pairs loads in milliseconds (memory-mapped).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from bertune_cli.core.errors import CheckpointError, DataError

MANIFEST = "manifest.json"
SPLITS = ("train", "valid", "test")


class Ragged:
    """A list of int sequences stored as ``ids`` (flat) + ``offsets`` (n + 1)."""

    def __init__(self, ids: np.ndarray, offsets: np.ndarray):
        self.ids = ids
        self.offsets = offsets

    @classmethod
    def from_lists(cls, seqs: Iterable[Sequence[int]]) -> "Ragged":
        arrays = [np.asarray(s, dtype=np.int32) for s in seqs]
        offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        if arrays:
            np.cumsum([len(a) for a in arrays], out=offsets[1:])
        ids = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int32)
        return cls(ids.astype(np.int32, copy=False), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def save(self, prefix: Path) -> None:
        np.save(f"{prefix}.ids.npy", self.ids)
        np.save(f"{prefix}.offsets.npy", self.offsets)

    @classmethod
    def load(cls, prefix: Path) -> "Ragged":
        return cls(np.load(f"{prefix}.ids.npy", mmap_mode="r"), np.load(f"{prefix}.offsets.npy"))


@dataclass
class Split:
    """One split: aligned source ids, target LM ids and the untokenized text."""

    name: str
    src: Ragged
    tgt: Ragged
    src_text: list[str]
    tgt_text: list[str]

    def __len__(self) -> int:
        return len(self.src)


def write_split(data_dir: Path, split: Split) -> None:
    """Write one split (used by prepare inside its temporary directory)."""
    if not (len(split.src) == len(split.tgt) == len(split.src_text) == len(split.tgt_text)):
        raise DataError(f"split {split.name}: source/target sizes differ")
    split.src.save(data_dir / f"{split.name}.src")
    split.tgt.save(data_dir / f"{split.name}.tgt")
    for side, lines in (("src", split.src_text), ("tgt", split.tgt_text)):
        with open(data_dir / f"{split.name}.{side}.txt", "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)


class DataDir:
    """Read access to a prepared data directory."""

    def __init__(self, path: Path):
        self.path = Path(path)
        manifest = self.path / MANIFEST
        if not manifest.is_file():
            raise CheckpointError(
                f"{self.path} is not a prepared data directory (no {MANIFEST})",
                "run `bertune prepare --pair <recipe>` first",
            )
        self.manifest: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))

    @property
    def splits(self) -> list[str]:
        return [s for s in SPLITS if (self.path / f"{s}.src.ids.npy").is_file()]

    def split(self, name: str, with_text: bool = True) -> Split:
        if name not in self.splits:
            raise CheckpointError(
                f"{self.path} has no {name!r} split",
                f"available: {', '.join(self.splits) or 'none'}",
            )
        src_text = tgt_text = []
        if with_text:
            src_text = _read_lines(self.path / f"{name}.src.txt")
            tgt_text = _read_lines(self.path / f"{name}.tgt.txt")
        return Split(
            name,
            Ragged.load(self.path / f"{name}.src"),
            Ragged.load(self.path / f"{name}.tgt"),
            src_text,
            tgt_text,
        )

    def shortlist(self) -> np.ndarray:
        """Sorted LM ids seen in the training targets plus the LM's special ids."""
        return np.load(self.path / "shortlist.npy")

    @property
    def lm_name(self) -> str:
        return self.manifest["lm"]["name"]

    @property
    def fingerprint(self) -> str:
        """Identifies the data (stored in checkpoints)."""
        return self.manifest.get("settings_hash", "")


def _read_lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]
