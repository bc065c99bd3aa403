"""Decoding engines behind ``Translator``: ``torch`` (transformers' ``generate``) and ``ct2``
(CTranslate2 on a folder written by ``bertune export``).

``Translator`` owns everything around the search — source preprocessing, length-sorted batches,
the max-length rule ``a·(source length) + b`` per sentence, model ids -> LM ids -> text — and
hands each batch to its engine. An engine only runs beam search on model ids:

    engine.generate(srcs, beam=, lenpen=, max_new=, n_best=, scores=)
        srcs: list of B source id lists (each ending with </s>, no padding)
        max_new: B caps, source i gets at most max_new[i] new tokens ([SEP] included), decoded
           exactly as if alone: no decision of its search may depend on the other sources
        -> B·n_best (ids, score) pairs, n_best per source, best first; ``ids`` are predicted
           model ids up to and including the first [SEP] (no [CLS], no padding); ``score`` is
           the sentence log-probability (natural log, [SEP] included, under the decoding
           distribution: suppressed ids excluded), or None when ``scores`` is False. Each
           engine computes its own scores (torch: a teacher-forced pass over the outputs,
           ``TorchEngine.score``; ct2: CTranslate2's normalised score times length**lenpen).

Both engines suppress the checkpoint's ``generation_config.suppress_tokens`` ([PAD], [CLS]),
stop a beam search when ``beam`` hypotheses are finished (HF ``early_stopping=True`` =
CTranslate2 ``patience=1``) and rank hypotheses by ``logprob / length**lenpen`` with the length
counting [SEP], so on the same weights they give the same output up to float rounding.

``ENGINES`` maps an engine name to its loader: ``(path, device) -> (engine, meta, vocab,
source)``, where ``meta`` is the folder's ``bertune.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable


def _load_torch(path: Path, device: str):
    from bertune_cli.core.engines.torch_engine import TorchEngine

    return TorchEngine.load(path, device)


def _load_ct2(path: Path, device: str):
    from bertune_cli.core.engines.ct2_engine import CT2Engine

    return CT2Engine.load(path, device)


ENGINES: dict[str, Callable[[Path, str], tuple[Any, dict, Any, Any]]] = {
    "torch": _load_torch,
    "ct2": _load_ct2,
}


def load_engine(name: str, path: Path, device: str):
    """``(engine, meta, vocab, source)`` for engine ``name`` on a run, checkpoint or export."""
    from bertune_cli.core.errors import UsageError

    if name not in ENGINES:
        raise UsageError(f"unknown engine {name!r}", f"use one of: {', '.join(ENGINES)}")
    return ENGINES[name](Path(path), device)


__all__ = ["ENGINES", "load_engine", "torch_engine", "ct2_engine", "export"]
