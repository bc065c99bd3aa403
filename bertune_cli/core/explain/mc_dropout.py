"""MC dropout (Gal & Ghahramani 2016): N teacher-forced passes of the chosen hypothesis and N
beam searches with dropout on, on the model's twin (common.py) under its lock; seeded per line
from (seed, line text), so a line's numbers do not depend on its position, the batching or the
chunking of a stream."""

from __future__ import annotations

import logging
import zlib
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

from bertune_cli.core.explain.common import pad
from bertune_cli.core.translation import DecodeOptions, Translator

log = logging.getLogger("bertune.explain")


def mc_dropout(
    twin: Translator, lock, line: str, src: list[int], hyp, n: int, seed: int, dec: DecodeOptions
) -> dict:
    """N dropout masks: the chosen hypothesis' log-probability under each (teacher forcing)
    and N beam searches with ``dec`` (one hypothesis each); both seeded by (seed, line)."""
    import torch

    line_seed = (seed * 1_000_003 + zlib.crc32(line.encode("utf-8"))) % 2**63
    ids, mask = pad([src], twin.device)
    with lock, seeded(line_seed, twin.device), torch.inference_mode():
        twin.model.train()  # dropout on; no grads (inference_mode)
        try:
            lp, _ = twin.teacher_forced(
                [hyp.ids] * n,
                torch.zeros(n, dtype=torch.long, device=ids.device),
                input_ids=ids,
                attention_mask=mask,
                use_cache=False,
            )
            sums = lp.double().sum(-1).cpu().numpy()  # (N,)
            hyps = twin.generate([src] * n, dec.with_(n_best=1, return_scores=False))
        finally:
            twin.model.eval()
    outputs = [h[0].text for h in hyps]
    bleu, signature = sentence_bleu()
    return {
        "passes": n,
        "seed": seed,
        "line_seed": line_seed,
        "logprob_mean": float(sums.mean()),
        "logprob_var": float(sums.var()),
        "bleu_mean": mean_sentence_bleu(bleu, outputs, hyp.text),
        "exact_match": float(np.mean([o == hyp.text for o in outputs])),
        "outputs": outputs,
        "dropout": dropout_rates(twin.model),
        "bleu_signature": signature,
    }


def mc_empty(n: int, seed: int, twin: Translator) -> dict:
    """The MC-dropout fields of a line with nothing to explain (empty input or output)."""
    return {
        "passes": n,
        "seed": seed,
        "line_seed": None,
        "logprob_mean": None,
        "logprob_var": None,
        "bleu_mean": None,
        "exact_match": None,
        "outputs": [],
        "dropout": dropout_rates(twin.model),
        "bleu_signature": sentence_bleu()[1],
    }


def mean_sentence_bleu(bleu, outputs: list[str], ref: str) -> float:
    """Mean sentence BLEU of ``outputs`` against ``ref``, rounded to 6 decimals like the other
    explanation numbers (sacrebleu's exp-of-mean-log gives 100.00000000000004 for a match)."""
    return round(float(np.mean([bleu.sentence_score(o, [ref]).score for o in outputs])), 6)


@lru_cache(maxsize=1)
def sentence_bleu():
    """Sentence BLEU against the main output (one reference) and its sacrebleu signature."""
    from sacrebleu.metrics import BLEU

    bleu = BLEU(effective_order=True)
    bleu.sentence_score("a", ["a"])  # sacrebleu knows the number of references only after one
    return bleu, str(bleu.get_signature())


def dropout_rates(model) -> dict:
    """The model's dropout rates (a warning when all are 0: the passes would all agree)."""
    c = model.config
    rates = {
        k: float(getattr(c, k, 0.0) or 0.0)
        for k in ("dropout", "attention_dropout", "activation_dropout")
    }
    if not any(rates.values()):
        log.warning("the model has no dropout (all rates 0): MC-dropout passes equal the main one")
    return rates


@contextmanager
def seeded(seed: int, device):
    """Seed the RNG of ``device`` (and the CPU's) for the block, restoring them afterwards."""
    import torch

    dev = torch.device(device)
    index = (
        (dev.index if dev.index is not None else torch.cuda.current_device())
        if dev.type == "cuda"
        else None
    )
    with torch.random.fork_rng(devices=[] if index is None else [index]):
        torch.default_generator.manual_seed(seed)
        if index is not None:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        yield
