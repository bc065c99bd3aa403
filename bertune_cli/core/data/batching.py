"""Token-based batching for training and validation.

A batch holds as many pairs as fit ``max_tokens`` *padded* tokens, counting for each pair the
longer of its source and target (fairseq's ``--max-tokens``), so memory is bounded whichever
side is longer. Pairs are length-bucketed: sorted by (target, source) length after a seeded
random permutation (ties are broken differently every epoch), cut greedily into batches, and the
batch order is shuffled. Everything derives from ``numpy.random.default_rng([seed, epoch])``,
so an epoch's batches are a pure function of (seed, epoch): a resumed run rebuilds the same
list and skips the batches it has already done.

Distributed training (DDP): every rank builds the same global list and takes
``batches[rank::world_size]``; the ``len % world_size`` batches left over are dropped for that
epoch (they differ between epochs), so global step i is the union of batch ``i·W + r`` over
ranks r — exactly what a single process would see with the concatenated batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from bertune_cli.core.data.store import Split


def length_groups(
    sizes, max_tokens: int, max_items: int = 0, slack: float = math.inf
) -> list[tuple[int, int]]:
    """Cut a sequence of item sizes, in the order given, into consecutive groups ``[lo, hi)``:
    the rule every length-capped batcher uses (training and validation batches, translation,
    the LM passes of F_BERT and MoverScore).

    A new item starts a new group when, added to the current one, the group would hold more
    than ``max_tokens`` padded tokens (its largest size × its count), more than ``max_items``
    items (0: no limit), or would pad its earlier items by more than ``slack`` tokens in all.
    An item larger than ``max_tokens`` gets a group of its own.
    """
    groups: list[tuple[int, int]] = []
    start, longest = 0, 0
    for i, size in enumerate(sizes):
        size = int(size)
        wider, count = max(longest, size), i - start + 1
        if i > start and (
            wider * count > max_tokens
            or (max_items and count > max_items)
            or (count - 1) * (wider - longest) > slack
        ):
            groups.append((start, i))
            start, wider = i, size
        longest = wider
    if start < len(sizes):
        groups.append((start, len(sizes)))
    return groups


def length_batches(
    src_lens: np.ndarray,
    tgt_lens: np.ndarray,
    max_tokens: int,
    rng: np.random.Generator | None = None,
    max_sentences: int = 0,
) -> list[np.ndarray]:
    """Pair indices cut into batches of at most ``max_tokens`` padded tokens, in length order.

    With ``rng`` ties between equal lengths are broken randomly; without it the order is stable
    (validation, translation). A single pair longer than ``max_tokens`` gets a batch of its own.
    """
    src_lens = np.asarray(src_lens, dtype=np.int64)
    tgt_lens = np.asarray(tgt_lens, dtype=np.int64)
    n = len(src_lens)
    perm = rng.permutation(n) if rng is not None else np.arange(n)
    order = perm[np.lexsort((src_lens[perm], tgt_lens[perm]))]
    size = np.maximum(src_lens, tgt_lens)[order]
    return [order[lo:hi] for lo, hi in length_groups(size.tolist(), max_tokens, max_sentences)]


class EpochBatches:
    """The batches of every epoch for one rank: ``batches(epoch)`` (epochs count from 1)."""

    def __init__(
        self,
        src_lens: np.ndarray,
        tgt_lens: np.ndarray,
        max_tokens: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.src_lens, self.tgt_lens = np.asarray(src_lens), np.asarray(tgt_lens)
        self.max_tokens, self.seed = max_tokens, seed
        self.rank, self.world_size = rank, world_size

    def batches(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        batches = length_batches(self.src_lens, self.tgt_lens, self.max_tokens, rng)
        order = rng.permutation(len(batches))
        batches = [batches[i] for i in order]
        usable = len(batches) - len(batches) % self.world_size
        return batches[self.rank : usable : self.world_size]

    def __len__(self) -> int:
        """Batches per epoch for one rank (the same every epoch up to ±1)."""
        return len(self.batches(1))


@dataclass
class Batch:
    """A padded batch. Target model ids: ``tgt_in`` = [CLS] y_1..y_n, ``tgt_out`` = y_1..y_n [SEP].

    src, src_mask: (B, S); tgt_in, tgt_out: (B, T); pad is 0 on both sides.
    """

    src: "object"
    src_mask: "object"
    tgt_in: "object"
    tgt_out: "object"
    ntokens: int  # non-pad target tokens (the CE normaliser)
    nsentences: int
    indices: np.ndarray  # pair indices in the split

    def to(self, device) -> "Batch":
        return Batch(
            self.src.to(device),
            self.src_mask.to(device),
            self.tgt_in.to(device),
            self.tgt_out.to(device),
            self.ntokens,
            self.nsentences,
            self.indices,
        )


def collate(
    split: Split, indices: np.ndarray, tgt_map: Callable[[np.ndarray], np.ndarray], pad: int = 0
) -> Batch:
    """Pairs ``indices`` of ``split`` -> a Batch; ``tgt_map`` maps LM ids to model ids."""
    import torch

    srcs = [np.asarray(split.src[int(i)]) for i in indices]
    tgts = [tgt_map(np.asarray(split.tgt[int(i)], dtype=np.int64)) for i in indices]
    src = _pad(srcs, pad)  # (B, S)
    tgt = _pad(tgts, pad)  # (B, T + 1): [CLS] y_1..y_n [SEP]
    src_t = torch.from_numpy(src)
    tgt_t = torch.from_numpy(tgt)
    return Batch(
        src=src_t,
        src_mask=src_t.ne(pad).long(),
        tgt_in=tgt_t[:, :-1].contiguous(),
        tgt_out=tgt_t[:, 1:].contiguous(),
        ntokens=int(sum(len(t) - 1 for t in tgts)),
        nsentences=len(indices),
        indices=np.asarray(indices),
    )


def _pad(seqs: list[np.ndarray], pad: int) -> np.ndarray:
    out = np.full((len(seqs), max(len(s) for s in seqs)), pad, dtype=np.int64)
    for row, s in zip(out, seqs):
        row[: len(s)] = s
    return out
