"""The frozen LM's hidden states of the references, computed per length and cached per sentence.

The reference side of F_BERT (``losses.fbert_scores``) depends on nothing but the reference's
LM ids: the LM is frozen and in eval mode. ``reference_hidden`` computes it for a padded batch
of ``[CLS] y_1 … y_n [SEP]`` rows one *length group* at a time: the rows of one length form an
unpadded sub-batch. A sentence's states then do not depend on which sentences share its batch
or how far they are padded (measured bitwise on CPU: each row of a matrix product comes out the
same whatever the number of rows, while a padded, masked row goes through another attention
kernel and differs in the last bits), and no LM time goes into padding.

``ReferenceCache`` keeps those float32 states per sentence, keyed by its LM ids, so a training
sentence costs one LM forward in the first epoch and none after, and every validation reuses
the validation references' states. A hit returns exactly the values a recomputation gives, so
F_BERT and its gradients are equal with and without the cache (tests/core/lm/test_refcache.py).

Memory: (n + 2) × D float32 per sentence (Multi30k train, MiniLM: 441k tokens × 384 × 4 B =
646 MiB). The cache stores sentences until ``max_mb`` is reached (``finetune.ref_cache_mb``,
default 320: about +25 % over the peak of a Multi30k update); the ones it keeps nowhere (see
the spill tier below) are recomputed (every epoch visits every sentence once, in a new order:
keeping the first ones gives a hit rate equal to the stored fraction, where evicting the least
recently used would evict what the next epoch needs). Past ``max_mb``, up to ``spill_mb`` MiB
more go to a spill file in ``spill_dir`` (``finetune.ref_spill_mb``; the fine-tune stage puts it
in its run folder rather than in /tmp, which is often a tmpfs held in memory): an unnamed file,
deleted by the OS when the process ends however it ends, holding the same bytes, read back
with one ``pread`` per sentence. A hit from disk is bitwise the recomputed value too and
costs no resident memory.
States live on the LM's device; under autocast (bf16/fp16) they are kept apart from the fp32
ones; an LM in training mode is never cached.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch


class ReferenceCache:
    """Layer-L states of reference sentences under ``lm``, at most ``max_mb`` MiB of them."""

    def __init__(
        self, lm, max_mb: float = 320.0, spill_mb: float = 0.0, spill_dir: Path | None = None
    ):
        for name, value in (("max_mb", max_mb), ("spill_mb", spill_mb)):
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        self.lm = lm
        self.max_bytes = int(max_mb * 2**20)
        self.nbytes = 0
        self.hits = self.misses = self.disk_hits = 0
        self._store: dict[tuple[Any, bytes], torch.Tensor] = {}
        # the spill tier: (mode, key) -> (offset, nbytes, shape, dtype, device) in one file
        self.max_spill = int(spill_mb * 2**20) if spill_dir is not None else 0
        self.spill_dir = spill_dir
        self.spilled = 0
        self._spill: dict[tuple[Any, bytes], tuple[int, int, tuple[int, ...], Any, Any]] = {}
        self._file = None
        self.spill_error: str | None = None

    def __len__(self) -> int:
        return len(self._store) + len(self._spill)

    def close(self) -> None:
        """Drop the spill file (the OS deletes it); the in-memory states stay."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._spill.clear()
        self.spilled = 0

    def stats(self) -> dict[str, Any]:
        """Sentences stored, MiB used, hits and misses (sentences) so far."""
        return {
            "sentences": len(self._store),
            "mb": round(self.nbytes / 2**20, 1),
            "max_mb": round(self.max_bytes / 2**20, 1),
            "hits": self.hits,
            "misses": self.misses,
            "spilled_sentences": len(self._spill),
            "spill_mb": round(self.spilled / 2**20, 1),
            "max_spill_mb": round(self.max_spill / 2**20, 1),
            "disk_hits": self.disk_hits,
            **({"spill_error": self.spill_error} if self.spill_error else {}),
        }

    def lookup(self, mode: Any, key: bytes) -> torch.Tensor | None:
        found = self._store.get((mode, key))
        if found is None and self._spill:
            where = self._spill.get((mode, key))
            if where is not None:
                found = self._read(*where)
                self.disk_hits += found is not None
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def offer(self, mode: Any, key: bytes, states: torch.Tensor) -> None:
        """Keep ``states`` (L, D) of one sentence while the size bound allows."""
        size = states.numel() * states.element_size()
        if (mode, key) in self._store or (mode, key) in self._spill:
            return
        if self.nbytes + size <= self.max_bytes:
            self._store[(mode, key)] = states.clone()  # never a view of a batch's tensor
            self.nbytes += size
        elif self.spilled + size <= self.max_spill:
            try:
                self._write(mode, key, states)
            except OSError as e:  # disk full, folder gone: stop spilling, recompute instead
                self._stop_spilling(e)

    def _write(self, mode: Any, key: bytes, states: torch.Tensor) -> None:
        if self._file is None:
            Path(self.spill_dir).mkdir(parents=True, exist_ok=True)
            self._file = tempfile.TemporaryFile(dir=self.spill_dir, prefix=".refcache-")
        host = states.detach().to("cpu").contiguous()
        data = host.view(torch.uint8).numpy().tobytes()  # the exact bytes, any dtype
        if os.pwrite(self._file.fileno(), data, self.spilled) != len(data):
            raise OSError(f"short write to the spill file in {self.spill_dir}")
        where = (self.spilled, len(data), tuple(host.shape), host.dtype, states.device)
        self._spill[(mode, key)] = where
        self.spilled += len(data)

    def _read(self, offset: int, size: int, shape, dtype, device) -> torch.Tensor | None:
        """The spilled states, or None (a miss: recomputed) when the file cannot give them."""
        try:
            data = os.pread(self._file.fileno(), size, offset)
            if len(data) != size:
                raise OSError(f"read {len(data)} of {size} bytes")
        except (OSError, ValueError) as e:  # ValueError: the file was closed
            self._stop_spilling(e)
            return None
        return torch.frombuffer(bytearray(data), dtype=dtype).view(shape).to(device)

    def _stop_spilling(self, error: Exception) -> None:
        """A cache only saves time: when its file fails, the states are recomputed (the same
        values), the failure is kept in ``stats()["spill_error"]`` and logged once."""
        import logging

        self.spill_error = f"{type(error).__name__}: {error}"
        logging.getLogger(__name__).warning(
            "reference cache: spilling to %s stopped (%s); recomputing those states instead",
            self.spill_dir,
            self.spill_error,
        )
        self.close()
        self.max_spill = 0


def reference_hidden(lm, ids: torch.Tensor, cache: ReferenceCache | None = None) -> torch.Tensor:
    """Hidden states of layer ``lm.layer`` for reference rows: (B, W, D), zeros on padding.

    ids: (B, W) LM ids ``[CLS] y_1 … y_n [SEP]``, left-aligned, padded with ``lm.pad_id``.
    Rows are computed per length (unpadded sub-batches) under ``no_grad``; ``cache`` (bound to
    ``lm``) supplies and keeps the states of single sentences.
    """
    from bertune_cli.core.lm.matching import lm_hidden

    if cache is not None and cache.lm is not lm:
        raise ValueError("this ReferenceCache belongs to another LM")
    if lm.model.training:
        cache = None  # dropout: the states are not a function of the ids
    lengths = ids.ne(lm.pad_id).sum(1)  # (B,)
    mode = _autocast_mode(ids.device.type)
    host = ids.cpu().numpy() if cache is not None else None
    out = None
    with torch.no_grad():
        for length in torch.unique(lengths).tolist():
            if length == 0:
                continue
            rows = torch.nonzero(lengths == length).squeeze(1)  # (n,)
            keys = [host[r, :length].tobytes() for r in rows.tolist()] if host is not None else []
            found = (
                [cache.lookup(mode, k) for k in keys] if cache is not None else [None] * len(rows)
            )
            todo = [i for i, f in enumerate(found) if f is None]
            group = None
            if todo:
                sub = ids[rows[todo], :length]  # (m, L), no padding
                group = lm_hidden(lm, torch.ones_like(sub, dtype=torch.bool), input_ids=sub)
                for j, i in enumerate(todo):
                    found[i] = group[j]
                    if cache is not None:
                        cache.offer(mode, keys[i], group[j])
            if len(todo) < len(found):
                group = torch.stack(found)  # (n, L, D)
            if out is None:
                out = group.new_zeros(ids.size(0), ids.size(1), group.size(-1))
            out[rows, :length] = group
    if out is None:  # no real row at all
        out = lm.embeddings.new_zeros(ids.size(0), ids.size(1), lm.embeddings.size(1))
    return out


def _autocast_mode(device_type: str) -> Any:
    """The autocast dtype in force for ``device_type`` (None: off); states differ by it."""
    if device_type in ("cpu", "cuda") and torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return None
