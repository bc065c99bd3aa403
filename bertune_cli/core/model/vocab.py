"""The decoder's output vocabulary and its map to the LM's WordPiece ids (method.md §1).

Model ids index the decoder's embedding and output rows; LM ids index the LM's vocabulary (and
its embedding matrix E). Two kinds:

- ``full``: the model predicts every LM id; the map is the identity (the paper's setting).
- ``shortlist``: the model predicts only ``data_dir.shortlist()`` — the LM ids seen in the
  training targets plus the LM's special ids — kept in LM-id order, so model id ``i`` is LM id
  ``lm_ids[i]``. Because the list is sorted and [PAD] is LM id 0, [PAD] keeps model id 0.

Every consumer of output ids (detokenization, F_BERT's rows of E, checkpoints) goes through
``to_lm``/``from_lm``. LM ids outside a shortlist (validation/test targets can contain pieces
never seen in training) map to the model id of [UNK] by default (``strict=True`` raises instead):
they can never be predicted, and counting them as [UNK] keeps the validation loss finite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bertune_cli.core.errors import CheckpointError, DataError

KINDS = ("full", "shortlist")


@dataclass(frozen=True)
class LMSpecials:
    """The LM ids the model needs to know (read from the LM's tokenizer)."""

    vocab_size: int
    pad: int
    cls: int
    sep: int
    unk: int

    @classmethod
    def from_tokenizer(cls, tokenizer) -> "LMSpecials":
        return cls(
            vocab_size=len(tokenizer),
            pad=tokenizer.pad_token_id,
            cls=tokenizer.cls_token_id,
            sep=tokenizer.sep_token_id,
            unk=tokenizer.unk_token_id,
        )


class TargetVocab:
    """Model output ids <-> LM ids. ``lm_ids`` is sorted int64, one entry per model id."""

    def __init__(self, kind: str, lm_ids: np.ndarray, specials: LMSpecials):
        if kind not in KINDS:
            raise CheckpointError(
                f"unknown target vocabulary kind {kind!r}", f"use one of: {', '.join(KINDS)}"
            )
        lm_ids = np.asarray(lm_ids, dtype=np.int64)
        if lm_ids.ndim != 1 or (np.diff(lm_ids) <= 0).any():
            raise DataError("a target vocabulary must be strictly increasing LM ids")
        if lm_ids.size and (lm_ids[0] < 0 or lm_ids[-1] >= specials.vocab_size):
            raise DataError(
                f"target vocabulary has ids outside the LM vocabulary "
                f"(0..{specials.vocab_size - 1})",
                "the data directory was built for another LM",
            )
        missing = [
            n for n in ("pad", "cls", "sep", "unk") if not np.isin(getattr(specials, n), lm_ids)
        ]
        if missing:
            raise DataError(
                f"target vocabulary lacks the LM special tokens {missing}",
                "re-run prepare: the shortlist must contain the LM specials",
            )
        self.kind = kind
        self.lm_ids = lm_ids
        self.specials = specials
        # LM id -> model id (-1 where absent); 30522 int64 entries, cheap.
        self._inverse = np.full(specials.vocab_size, -1, dtype=np.int64)
        self._inverse[lm_ids] = np.arange(lm_ids.size)
        self.pad_id = int(self._inverse[specials.pad])
        self.bos_id = int(self._inverse[specials.cls])  # decoder start = [CLS]
        self.eos_id = int(self._inverse[specials.sep])  # end of sentence = [SEP]
        self.unk_id = int(self._inverse[specials.unk])
        self._torch_cache: dict[Any, tuple[Any, Any]] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def full(cls, specials: LMSpecials) -> "TargetVocab":
        return cls("full", np.arange(specials.vocab_size, dtype=np.int64), specials)

    @classmethod
    def shortlist(cls, lm_ids: np.ndarray, specials: LMSpecials) -> "TargetVocab":
        return cls("shortlist", np.unique(np.asarray(lm_ids, dtype=np.int64)), specials)

    @classmethod
    def build(cls, kind: str, specials: LMSpecials, shortlist: np.ndarray | None = None):
        """``kind`` from the recipe (``data.target_vocab``); ``shortlist`` from the data dir."""
        if kind == "shortlist":
            if shortlist is None:
                raise DataError(
                    "a shortlist vocabulary needs the data directory's shortlist.npy",
                    "re-run `bertune prepare`",
                )
            return cls.shortlist(shortlist, specials)
        return cls.full(specials) if kind == "full" else cls(kind, np.zeros(0), specials)

    def to_dict(self) -> dict[str, Any]:
        """JSON form stored in ``bertune.json`` (full vocabularies do not list their ids)."""
        return {
            "kind": self.kind,
            "size": len(self),
            "lm_ids": None if self.kind == "full" else self.lm_ids.tolist(),
            "lm_specials": vars(self.specials).copy(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TargetVocab":
        try:
            specials = LMSpecials(**d["lm_specials"])
            if d["kind"] == "full":
                return cls.full(specials)
            return cls(d["kind"], np.asarray(d["lm_ids"], dtype=np.int64), specials)
        except (KeyError, TypeError) as exc:
            raise CheckpointError(
                f"bertune.json has a malformed target_vocab ({exc})",
                "the checkpoint is damaged; use another one",
            ) from exc

    def __len__(self) -> int:
        return int(self.lm_ids.size)

    def __repr__(self) -> str:
        return f"TargetVocab({self.kind}, size={len(self)})"

    # ------------------------------------------------------------------ mapping
    def to_lm(self, ids):
        """Model ids -> LM ids; numpy or torch (same type, device and shape back)."""
        if self.kind == "full":
            return ids
        if _is_torch(ids):
            fwd, _ = self._tables(ids.device)
            return fwd[ids]
        return self.lm_ids[np.asarray(ids)]

    def from_lm(self, ids, strict: bool = False):
        """LM ids -> model ids; ids outside the vocabulary become ``unk_id`` (or raise)."""
        if self.kind == "full":
            return ids
        if _is_torch(ids):
            _, inv = self._tables(ids.device)
            out = inv[ids]
            bad = bool((out < 0).any())
            if bad and strict:
                raise DataError(f"{int((out < 0).sum())} LM ids are outside the shortlist")
            return out.masked_fill(out < 0, self.unk_id) if bad else out
        out = self._inverse[np.asarray(ids)]
        if (out < 0).any():
            if strict:
                raise DataError(f"{int((out < 0).sum())} LM ids are outside the shortlist")
            out = np.where(out < 0, self.unk_id, out)
        return out

    def _tables(self, device):
        if device not in self._torch_cache:
            import torch

            self._torch_cache[device] = (
                torch.as_tensor(self.lm_ids, device=device),
                torch.as_tensor(self._inverse, device=device),
            )
        return self._torch_cache[device]


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")
