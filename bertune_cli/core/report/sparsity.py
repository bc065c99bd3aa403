"""Sparsity of predictions (paper Fig. 1): entropy of per-position probability vectors.

With teacher forcing on the reference translations (the fine-tuning setting), every target
position t of a sentence gives decoder logits z_t (V,) — V = the model's output vocabulary
(the shortlist, or the LM's 30522 ids). For each soft mode of ``core.ops.SOFT_MODES`` the
vector the mode feeds the LM is p = mode(z_t) (the ops reference functions):

    dense       softmax(z_t)  — also the decoder's own output distribution
    sparsemax   [z_t − τ*]₊ (exact threshold), whose support size |{p > 0}| is reported too
    gumbel      softmax((z_t + g) / τ) with fresh Gumbel noise g, as in training (seeded here)

and its entropy H(p) = −Σ p log p in nats (0 log 0 = 0). Dense ≫ Gumbel (τ 0.1) ≈ sparsemax
in the paper. Only the first ``max_sentences`` sentences of the split are used (budget).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

MODES = ("dense", "sparsemax", "gumbel")


@dataclass
class ModelSparsity:
    """Per-position entropies (nats) of one model; ``support``: sparsemax support sizes."""

    name: str
    label: str
    entropy: dict[str, np.ndarray]  # mode -> (N,) float64
    support: np.ndarray  # (N,) int64
    sentences: int

    @property
    def positions(self) -> int:
        return int(len(self.support))

    def summary(self) -> dict[str, Any]:
        def stats(a: np.ndarray) -> dict[str, float]:
            q = np.quantile(a, [0.1, 0.5, 0.9]) if len(a) else [float("nan")] * 3
            return {
                "mean": float(np.mean(a)) if len(a) else float("nan"),
                "p10": float(q[0]),
                "median": float(q[1]),
                "p90": float(q[2]),
            }

        return {
            "name": self.name,
            "label": self.label,
            "sentences": self.sentences,
            "positions": self.positions,
            "entropy_nats": {m: stats(a) for m, a in self.entropy.items()},
            "sparsemax_support": {
                "mean": float(np.mean(self.support)) if len(self.support) else float("nan"),
                "median": float(np.median(self.support)) if len(self.support) else float("nan"),
            },
        }


@dataclass
class Sparsity:
    models: list[ModelSparsity]
    split: str
    tau: float
    vocab_size: int
    seed: int
    max_sentences: int
    modes: tuple[str, ...] = field(default=MODES)

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "tau": self.tau,
            "vocab_size": self.vocab_size,
            "seed": self.seed,
            "max_sentences": self.max_sentences,
            "units": "nats",
            "modes": list(self.modes),
            "models": [m.summary() for m in self.models],
        }


def prediction_entropy(
    model,
    vocab,
    split,
    *,
    tau: float = 0.1,
    max_sentences: int = 200,
    seed: int = 0,
    device: str = "cpu",
    max_tokens: int = 2048,
    modes: tuple[str, ...] = MODES,
) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """Entropies of ``model``'s teacher-forced soft predictions on ``split`` (a data Split).

    Returns ({mode: (N,) entropies in nats}, (N,) sparsemax support sizes, sentences used),
    N = the number of non-pad target positions ([SEP] included). ``vocab``: the model's
    TargetVocab (maps the split's LM ids to model ids). The Gumbel noise comes from a
    ``torch.Generator`` seeded with ``seed``, so every model sees the same noise stream.
    """
    import torch

    from bertune_cli.core.data.batching import collate, length_batches
    from bertune_cli.core.ops import soft_probs

    n = min(len(split), max_sentences) if max_sentences > 0 else len(split)
    chosen = np.arange(n)
    src_lens, tgt_lens = split.src.lengths()[:n], split.tgt.lengths()[:n] - 1
    gen = torch.Generator().manual_seed(int(seed))
    out: dict[str, list[np.ndarray]] = {m: [] for m in modes}
    support: list[np.ndarray] = []
    model = model.to(device).eval()
    with torch.inference_mode():
        for idx in length_batches(src_lens, tgt_lens, max_tokens):
            batch = collate(split, chosen[idx], vocab.from_lm).to(device)
            logits = model(
                input_ids=batch.src, attention_mask=batch.src_mask, decoder_input_ids=batch.tgt_in
            ).logits.float()  # (B, T, V)
            z = logits[batch.tgt_out.ne(0)].cpu()  # (M, V)
            for mode in modes:
                p = soft_probs(z, mode, tau=tau, noise=True, generator=gen)  # (M, V)
                out[mode].append(torch.special.entr(p).sum(-1).double().numpy())
                if mode == "sparsemax":
                    support.append(p.gt(0).sum(-1).numpy())
    if "sparsemax" not in modes:
        support = [np.zeros(0, np.int64)]
    cat = {m: np.concatenate(v) if v else np.zeros(0) for m, v in out.items()}
    return cat, (np.concatenate(support).astype(np.int64) if support else np.zeros(0, np.int64)), n


def model_sparsity(name: str, label: str, checkpoint, split, **options) -> ModelSparsity:
    """``prediction_entropy`` of the model in ``checkpoint`` (a checkpoint or run folder)."""
    from bertune_cli.core.model.checkpoint import load_checkpoint

    loaded = load_checkpoint(checkpoint, "cpu")
    entropy, support, n = prediction_entropy(loaded.model, loaded.vocab, split, **options)
    return ModelSparsity(name, label, entropy, support, n)
