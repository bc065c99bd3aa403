"""What the explanation methods share: padding sources, naming pieces, and the model's twin.

The twin is a deep copy of the translator's model with eager attention (SDPA returns no
attention weights), built on first use, one per model, costing one more copy of the weights.
MC dropout (train mode) and attention run on it under its lock, so the caller's model is never
switched out of eval mode or to another attention implementation and a server can keep
translating on other threads.
"""

from __future__ import annotations

import copy
import threading
import weakref
from typing import Any

import numpy as np

from bertune_cli.core.translation import Translator

MARK = "\u2581"  # the source BPE's word-start marker (core/data/source.py)
_twins: "weakref.WeakKeyDictionary[Any, tuple[Translator, threading.Lock]]" = (
    weakref.WeakKeyDictionary()
)
_twins_lock = threading.Lock()


def twin(tr: Translator) -> tuple[Translator, threading.Lock]:
    """The model's eager-attention twin translator and its lock (built once per model)."""
    with _twins_lock:
        if tr.model not in _twins:
            model = copy.deepcopy(tr.model)
            model.set_attn_implementation("eager")  # SDPA returns no attention weights
            model.requires_grad_(False)
            _twins[tr.model] = (tr.with_model(model), threading.Lock())
        return _twins[tr.model]


def pad(srcs: list[list[int]], device):
    """Source ids (B, S) padded with 0 and their mask."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    ids = pad_sequence([torch.as_tensor(s) for s in srcs], batch_first=True).to(device)
    return ids, ids.ne(0).long()


def pieces(tr: Translator, hyp_ids: list[int]) -> tuple[list[str], list[str | None]]:
    """Output WordPieces (for display) and the same with specials as None (for text)."""
    lm = tr.vocab.to_lm(np.asarray(hyp_ids, dtype=np.int64)).tolist()
    shown = tr.codec.tokenizer.convert_ids_to_tokens(lm)
    return shown, [None if i in tr.codec.special_ids else p for i, p in zip(lm, shown)]


def source_pieces(tr: Translator, src: list[int]) -> list[str]:
    """The source BPE pieces of model ids ``src``."""
    return [tr.source.tokenizer.id_to_token(int(i)) for i in src]
