"""Training losses.

Label-smoothed cross-entropy with fairseq's semantics (``label_smoothed_cross_entropy``):
for a target y with log-probabilities lp over V classes and smoothing ε,

    loss = (1 − ε − ε/(V−1)) · (−lp[y]) + ε/(V−1) · Σ_v (−lp[v])

summed over the non-pad target positions (the caller normalises, by tokens for CE). This equals
cross-entropy against a target distribution 1 − ε on y and ε/(V−1) on every other class. The
(B, T, V) log-probabilities are never materialised: they and the gradient are computed a
cache-sized chunk of rows at a time (``_SmoothedNLL``).
"""

from __future__ import annotations

import torch


def label_smoothed_nll_loss(
    logits: torch.Tensor, target: torch.Tensor, epsilon: float, ignore_index: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed (loss, nll) over positions where ``target != ignore_index``.

    logits: (B, T, V) (any float dtype; computed in fp32); target: (B, T) model ids.
    Computed by ``_SmoothedNLL`` (fused kernels in cache-sized chunks, a hand-written backward).
    """
    return _SmoothedNLL.apply(logits, target, float(epsilon), ignore_index)


# Rows per pass of the CE kernels: ~4 MB of float32, so each chunk's passes stay in cache.
CHUNK_ELEMENTS = 2**20


class _SmoothedNLL(torch.autograd.Function):
    """Label-smoothed NLL with a hand-written backward, computed in cache-sized row chunks.

    Autograd of the formula builds three (B, T, V) gradients (logsumexp's, a zero-filled
    scatter for the gather, the sum's) and adds them up: ~7 passes over the logits and three
    allocations, which made the baseline's update slower than a plain ``F.cross_entropy`` loop
    with the full 30522-word vocabulary. Here the forward is the formula itself on the fused
    log-softmax kernel's output, a chunk of rows at a time in a small buffer (no (B, T, V)
    tensor, 2x faster than ``torch.logsumexp``), and with p = softmax(z) the gradient is, per
    kept position,

        ∂/∂z_v = (c1 + c2·V)·p_v − c1·[v = y] − c2,
        c1 = g_loss·(1 − ε − ε/(V−1)) + g_nll,   c2 = g_loss·ε/(V−1),

    written chunk by chunk into one buffer (softmax, scale, shift), then a scatter on the
    targets.
    """

    @staticmethod
    def forward(ctx, logits, target, epsilon, ignore_index):
        z = logits.float()
        vocab = z.size(-1)
        flat, picks = z.reshape(-1, vocab), target.reshape(-1, 1)  # (N, V), (N, 1)
        nll, smooth = flat.new_empty(flat.size(0)), flat.new_empty(flat.size(0))
        step = max(1, CHUNK_ELEMENTS // vocab)
        buf = flat.new_empty(min(step, flat.size(0)), vocab)
        for start in range(0, flat.size(0), step):
            rows = slice(start, start + step)
            lp = torch.log_softmax(flat[rows], dim=-1, out=buf[: flat[rows].size(0)])
            nll[rows] = lp.gather(-1, picks[rows]).squeeze(-1).neg()  # −lp[y]
            smooth[rows] = lp.sum(-1).neg()  # Σ_v −lp[v]
        nll, smooth = nll.view(target.shape), smooth.view(target.shape)  # (B, T)
        keep = target.ne(ignore_index)
        nll = nll.masked_fill(~keep, 0.0).sum()
        smooth = smooth.masked_fill(~keep, 0.0).sum()
        eps_i = epsilon / (vocab - 1)
        loss = (1.0 - epsilon - eps_i) * nll + eps_i * smooth
        ctx.save_for_backward(z, target, keep)
        ctx.coefs = (1.0 - epsilon - eps_i, eps_i)
        ctx.in_dtype = logits.dtype
        return loss, nll

    @staticmethod
    def backward(ctx, g_loss, g_nll):
        z, target, keep = ctx.saved_tensors
        a, eps_i = ctx.coefs
        vocab = z.size(-1)
        c1 = g_loss * a + g_nll  # () tensors
        c2 = g_loss * eps_i
        kept = keep.reshape(-1, 1).to(z.dtype)  # (N, 1)
        scale, shift = kept * (c1 + c2 * vocab), kept * c2
        flat = z.reshape(-1, vocab)
        # Not a view: autograd then adds the other gradient of the logits (the soft
        # prediction's) into this buffer in place instead of allocating their sum.
        grad = torch.empty_like(z)  # (B, T, V)
        out = grad.view(-1, vocab)
        step = max(1, CHUNK_ELEMENTS // vocab)
        for start in range(0, flat.size(0), step):
            rows = slice(start, start + step)
            torch.softmax(flat[rows], dim=-1, out=out[rows])
            out[rows].mul_(scale[rows]).sub_(shift[rows])
        del out
        grad.scatter_add_(-1, target.unsqueeze(-1), (kept * -c1).view(*target.shape, 1))
        return grad.to(ctx.in_dtype), None, None, None


# ----------------------------------------------------------------------------- F_BERT (BERTTune)
# method.md §4. The LM (a core.lm.LoadedLM) is frozen; gradients reach the logits through the
# soft embedding p·E of the hypothesis.

FBERT_REDUCTIONS = ("sentence", "token")


def fbert_hypothesis(
    logits: torch.Tensor,
    embedding_rows: torch.Tensor,
    cls_embedding: torch.Tensor,
    attention: torch.Tensor,
    *,
    soft: str,
    tau: float = 0.1,
    hard: bool = False,
    training: bool = True,
    seed: int | None = None,
    impl: str = "auto",
) -> torch.Tensor:
    """The hypothesis as the LM sees it: ``[E[CLS], p_1·E, …, p_T·E]``, (B, T+1, D).

    logits: (B, T, V') teacher-forced (prediction t sits in reference slot t+1, so the last
    prediction of a sentence is where its [SEP] is); embedding_rows: (V', D); cls_embedding:
    (D,); attention: (B, T+1) bool. Padded slots are not computed (zeros). ``training=False``:
    no Gumbel noise (validation, evaluation).
    """
    from bertune_cli.core.ops import soft_embedding

    soft_emb = soft_embedding(
        logits,
        embedding_rows,
        soft,
        tau=tau,
        hard=hard,
        noise=training,
        seed=seed,
        impl=impl,
        mask=attention[:, 1:],
    )  # (B, T, D)
    cls = cls_embedding.to(soft_emb.dtype).expand(soft_emb.size(0), 1, -1)  # (B, 1, D)
    return torch.cat([cls, soft_emb], dim=1)


def fbert_scores(
    logits: torch.Tensor,
    tgt_lm_ids: torch.Tensor,
    lm,
    embedding_rows: torch.Tensor | None = None,
    *,
    soft: str = "gumbel",
    tau: float = 0.1,
    hard: bool = False,
    training: bool = True,
    seed: int | None = None,
    impl: str = "auto",
    ref_cache=None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Differentiable BERTScore of the soft prediction against the reference: P, R, F (B,) and
    the (B, T+1) token weights.

    logits: (B, T, V') decoder logits under teacher forcing; tgt_lm_ids: (B, T+1) LM ids
    ``[CLS] y_1 … y_n [SEP]`` padded with the LM's [PAD]; lm: a frozen ``LoadedLM``;
    embedding_rows: (V', D) = ``E[target_vocab.lm_ids]`` (None: E, a full-vocabulary model).
    Reference and hypothesis (``fbert_hypothesis``) share the reference's attention mask;
    [CLS]/[SEP] take part in the max with weight 0; P and R are means over real tokens,
    F = 2PR/(P+R), 0 where P + R = 0 (``greedy_match``: an empty sentence gives 0; a
    one-WordPiece sentence is ordinary). Non-finite activations are *not* masked: a NaN or inf
    must reach the training loop, which skips that update (``trainer``), instead of turning
    into a finite loss whose gradient is NaN.
    For one-hot p these equal ``bert_score.score`` (idf off) on the corresponding texts.
    The reference's states come from ``refcache.reference_hidden`` (per length, no padding);
    ``ref_cache``: a ``refcache.ReferenceCache`` for ``lm`` that keeps them across calls (the
    same values, computed once).
    """
    from bertune_cli.core.lm.matching import greedy_match, lm_hidden, special_token_weights
    from bertune_cli.core.lm.refcache import reference_hidden

    if tgt_lm_ids.size(0) != logits.size(0) or tgt_lm_ids.size(1) != logits.size(1) + 1:
        raise ValueError(
            f"tgt_lm_ids {tuple(tgt_lm_ids.shape)} must be (B, T + 1) for logits "
            f"{tuple(logits.shape)}"
        )
    E = lm.embeddings  # (V_LM, D)
    rows = E if embedding_rows is None else embedding_rows  # (V', D)
    attention = tgt_lm_ids.ne(lm.pad_id)  # (B, T+1)
    weight = special_token_weights(attention)  # (B, T+1)
    hyp_in = fbert_hypothesis(
        logits,
        rows,
        E[lm.cls_id],
        attention,
        soft=soft,
        tau=tau,
        hard=hard,
        training=training,
        seed=seed,
        impl=impl,
    )
    ref = reference_hidden(lm, tgt_lm_ids, ref_cache)  # (B, T+1, D)
    hyp = lm_hidden(lm, attention, inputs_embeds=hyp_in.to(E.dtype))  # (B, T+1, D)
    dtype = torch.float64 if hyp.dtype == torch.float64 else torch.float32
    P, R, F = greedy_match(
        hyp.to(dtype), ref.to(dtype), attention, attention, weight, weight
    )  # (B,) each
    return P, R, F, weight


def fbert_loss(
    logits: torch.Tensor,
    tgt_lm_ids: torch.Tensor,
    lm,
    embedding_rows: torch.Tensor | None = None,
    *,
    soft: str = "gumbel",
    tau: float = 0.1,
    hard: bool = False,
    training: bool = True,
    reduction: str = "sentence",
    ce_weight: float = 0.0,
    labels: torch.Tensor | None = None,
    label_smoothing: float = 0.1,
    seed: int | None = None,
    impl: str = "auto",
    ref_cache=None,
) -> tuple[torch.Tensor, dict]:
    """−F_BERT of the soft prediction (``fbert_scores``; same arguments), summed.

    Returns ``(loss, logs)`` in the training loop's convention: ``loss`` is a *sum* over
    ``logs["sample_size"]`` units — sentences (``reduction="sentence"``: per unit −F, the
    paper's mean over sentences) or reference tokens (``"token"``: the token-weighted mean, what
    the original code's sums amounted to). ``ce_weight`` λ > 0 mixes in label-smoothed CE
    against ``labels`` (B, T) model ids (pad 0): per unit ``(1 − λ)·(−F) + λ·CE per token``.
    logs: sample_size, fbert / P / R (sums over sentences), nll (summed over target tokens,
    when ``labels`` is given).
    """
    from contextlib import nullcontext

    if reduction not in FBERT_REDUCTIONS:
        raise ValueError(f"reduction must be one of {FBERT_REDUCTIONS}, got {reduction!r}")
    if ce_weight > 0 and labels is None:
        raise ValueError("ce_weight > 0 needs labels (the target model ids)")
    P, R, F, weight = fbert_scores(
        logits,
        tgt_lm_ids,
        lm,
        embedding_rows,
        soft=soft,
        tau=tau,
        hard=hard,
        training=training,
        seed=seed,
        impl=impl,
        ref_cache=ref_cache,
    )
    units = torch.ones_like(F) if reduction == "sentence" else weight.sum(1).to(F.dtype)
    sample_size = float(units.sum())
    loss = -(units * F).sum()
    logs = {
        "sample_size": sample_size,
        "fbert": float(F.detach().sum()),
        "P": float(P.detach().sum()),
        "R": float(R.detach().sum()),
        "nsentences": int(F.numel()),
    }
    if labels is not None:
        with nullcontext() if ce_weight > 0 else torch.no_grad():
            ce, nll = label_smoothed_nll_loss(logits, labels, label_smoothing, 0)
        logs["nll"] = float(nll.detach())
        if ce_weight > 0:
            ntokens = max(int(labels.ne(0).sum()), 1)
            loss = (1.0 - ce_weight) * loss + ce_weight * ce * (sample_size / ntokens)
    return loss, logs
