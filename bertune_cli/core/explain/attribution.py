"""Attribution: Integrated Gradients (captum) over the encoder input embeddings, one run per
output token (target: that token's log-probability), summed over the embedding dimension and
over the BPE pieces of each source word. Runs on the translator's own model, without hooks."""

from __future__ import annotations

from bertune_cli.core.explain.common import MARK, pad, pieces, source_pieces
from bertune_cli.core.translation import Translator

BASELINE = "zero embeddings, </s> kept"


def attribution(tr: Translator, src: list[int], hyp_ids: list[int], steps: int) -> dict:
    """Integrated Gradients (captum) from a baseline of zero embeddings (``</s>`` kept) to
    the source embeddings, one run per output token t with target log p(y_t | y_<t, x).
    Returns T x W attributions per source word and captum's convergence delta per token."""
    import torch
    from captum.attr import IntegratedGradients

    encoder = tr.model.get_encoder()
    eos = tr.source.eos_id
    ids, mask = pad([src], tr.device)
    with torch.inference_mode(False), torch.enable_grad():
        emb = encoder.embed_tokens(ids).detach()  # (1, S, d)
        base = emb * ids.eq(eos).unsqueeze(-1)

        def logprobs(e):  # (n, S, d) -> (n, T)
            n = e.shape[0]
            lp, _ = tr.teacher_forced(
                [hyp_ids] * n,
                None,
                inputs_embeds=e * encoder.embed_scale,
                attention_mask=mask.expand(n, -1),
                use_cache=False,
            )
            return lp

        ig = IntegratedGradients(logprobs)
        per_token, deltas = [], []
        for t in range(len(hyp_ids)):
            attr, delta = ig.attribute(
                emb, baselines=base, target=t, n_steps=steps, return_convergence_delta=True
            )
            per_token.append(attr.sum(-1)[0].detach().double().cpu().numpy())  # (S,)
            deltas.append(float(delta.reshape(-1)[0]))
    words, groups = source_words(tr, src)
    return {
        "method": "integrated_gradients",
        "steps": steps,
        "baseline": BASELINE,
        "source_words": words,
        "target": pieces(tr, hyp_ids)[0],
        "matrix": [[round(float(r[g].sum()), 6) for g in groups] for r in per_token],
        "delta": deltas,
    }


def attribution_empty(steps: int) -> dict:
    """The attribution fields of a line with nothing to explain (empty input or output)."""
    return {
        "method": "integrated_gradients",
        "steps": steps,
        "baseline": BASELINE,
        "source_words": [],
        "target": [],
        "matrix": [],
        "delta": [],
    }


def source_words(tr: Translator, src: list[int]) -> tuple[list[str], list[list[int]]]:
    """Moses words of the source (BPE pieces merged at the ``▁`` marks; ``</s>`` left out)
    and the piece positions of each."""
    words: list[str] = []
    groups: list[list[int]] = []
    for k, piece in enumerate(source_pieces(tr, src)):
        if src[k] == tr.source.eos_id:
            continue
        if piece.startswith(MARK) or not words:
            words.append(piece.lstrip(MARK))
            groups.append([k])
        else:
            words[-1] += piece
            groups[-1].append(k)
    return words, groups
