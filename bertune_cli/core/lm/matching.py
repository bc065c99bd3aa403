"""Greedy-matching BERTScore: the one function shared by the F_BERT loss and the F_BERT metric.

``greedy_match`` follows bert_score 0.3.13's ``greedy_cos_idf`` (method.md §4, §6):

    ĥ_i = h_i / ‖h_i‖,  r̂_j = r_j / ‖r_j‖,  sim_ij = ĥ_i · r̂_j
    P = Σ_i w_i max_j sim_ij / Σ_i w_i        R = Σ_j v_j max_i sim_ij / Σ_j v_j
    F = 2PR / (P + R)   (0 where undefined)

with three deliberate differences, none of which changes a score bert_score computes
correctly:

* every division is out of place (bert_score divides its inputs in place, which breaks
  autograd and silently rescales the caller's tensors);
* padding never takes part in a max (bert_score multiplies similarities by the mask, so a
  padded column contributes a similarity of 0, which only matters when every real similarity
  of a row is negative; that makes its result depend on how sentences were batched);
* a sentence with no weighted token (an empty line: only [CLS] [SEP]) gives P = R = F = 0,
  like bert_score's empty-sentence rule, while a sentence of a single WordPiece is an
  ordinary sentence (the original BERTTune code gave it F = 0 and no gradient).

``lm_hidden`` runs the frozen, truncated LM (``core.lm.load_lm``) on token ids or on word
embeddings (e.g. the expected embeddings p·E of soft predictions); the LM adds its own
position and token-type embeddings and LayerNorm, exactly as for ids.
"""

from __future__ import annotations

import torch


def lm_hidden(
    lm,
    attention_mask: torch.Tensor,
    input_ids: torch.Tensor | None = None,
    inputs_embeds: torch.Tensor | None = None,
) -> torch.Tensor:
    """Hidden states of layer ``lm.layer``: (B, T, D).

    attention_mask: (B, T) 1/True for real tokens; input_ids: (B, T) LM ids, or
    inputs_embeds: (B, T, D) *word* embeddings (E[ids] or p·E). Exactly one of the two.
    Gradients flow to ``inputs_embeds`` when it requires them; the LM itself is frozen.
    """
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError("lm_hidden takes exactly one of input_ids and inputs_embeds")
    out = lm.model(
        input_ids=input_ids,
        inputs_embeds=inputs_embeds,
        attention_mask=attention_mask.long(),
        return_dict=True,
    )
    return out.last_hidden_state


def padded_hidden(lm, seqs: list, device) -> torch.Tensor:
    """Hidden states (B, T, D) of the id sequences ``seqs`` (lists of LM ids, e.g. ``[CLS] …
    [SEP]``), right-padded with the LM's [PAD] to the longest (T) and run as one batch on
    ``device``. Row i's first ``len(seqs[i])`` positions are its states."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), lm.pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return lm_hidden(lm, mask.to(device), input_ids=ids.to(device))


def special_token_weights(mask: torch.Tensor) -> torch.Tensor:
    """Default weights for ``[CLS] y_1 … y_n [SEP]`` rows: 1 on y_1 … y_n, 0 elsewhere.

    mask: (B, T) bool, True on the real positions (left-aligned). Returns (B, T) float32.
    """
    mask = mask.bool()
    lengths = mask.sum(1, keepdim=True)  # (B, 1)
    pos = torch.arange(mask.size(1), device=mask.device).unsqueeze(0)  # (1, T)
    inner = (pos > 0) & (pos < lengths - 1)
    return (mask & inner).float()


def greedy_match(
    hyp: torch.Tensor,
    ref: torch.Tensor,
    hyp_mask: torch.Tensor,
    ref_mask: torch.Tensor,
    hyp_weight: torch.Tensor | None = None,
    ref_weight: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """BERTScore P, R, F of each pair, each (B,). Differentiable in ``hyp`` and ``ref``.

    hyp: (B, T, D), ref: (B, S, D) hidden states. hyp_mask (B, T) / ref_mask (B, S) bool:
    positions that take part in the max (real tokens, [CLS] and [SEP] included).
    hyp_weight (B, T) / ref_weight (B, S): weights of the means (0 on [CLS], [SEP] and
    padding; 1, or idf, elsewhere); ``None`` means 1 on every masked position except the
    first and the last one (the ``[CLS] … [SEP]`` layout). Inputs are never modified.
    """
    hyp_mask, ref_mask = hyp_mask.bool(), ref_mask.bool()
    if hyp_weight is None:
        hyp_weight = special_token_weights(hyp_mask)
    if ref_weight is None:
        ref_weight = special_token_weights(ref_mask)
    hyp_weight = hyp_weight.to(hyp.dtype) * hyp_mask
    ref_weight = ref_weight.to(ref.dtype) * ref_mask

    hyp_n = hyp / hyp.norm(dim=-1, keepdim=True).clamp_min(1e-12)  # (B, T, D)
    ref_n = ref / ref.norm(dim=-1, keepdim=True).clamp_min(1e-12)  # (B, S, D)
    sim = torch.bmm(hyp_n, ref_n.transpose(1, 2))  # (B, T, S)
    pair = hyp_mask.unsqueeze(2) & ref_mask.unsqueeze(1)  # (B, T, S)
    sim = sim.masked_fill(~pair, -2.0)  # below any cosine
    word_p = sim.max(dim=2).values.masked_fill(~hyp_mask, 0.0)  # (B, T)
    word_r = sim.max(dim=1).values.masked_fill(~ref_mask, 0.0)  # (B, S)

    hyp_total = hyp_weight.sum(1, keepdim=True)  # (B, 1)
    ref_total = ref_weight.sum(1, keepdim=True)
    # bert_score normalises the weights first, then sums: same order, same rounding.
    P = (word_p * (hyp_weight / _nonzero(hyp_total))).sum(1)  # (B,)
    R = (word_r * (ref_weight / _nonzero(ref_total))).sum(1)
    empty = (hyp_total.squeeze(1) <= 0) | (ref_total.squeeze(1) <= 0)
    P = P.masked_fill(empty, 0.0)
    R = R.masked_fill(empty, 0.0)
    denom = P + R
    F = torch.where(denom != 0, 2 * P * R / torch.where(denom != 0, denom, 1.0), 0.0)
    return P, R, F


def _nonzero(total: torch.Tensor) -> torch.Tensor:
    """A denominator that is never 0 (rows with zero total weight get P = R = 0 anyway)."""
    return torch.where(total > 0, total, torch.ones_like(total))
