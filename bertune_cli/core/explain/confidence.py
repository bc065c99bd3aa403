"""Confidence: p(y_t | y_<t, x) for every output WordPiece of the chosen hypothesis ([SEP]
included), grouped into the words of the detokenized output (character alignment, so Moses'
re-attached punctuation and ``##`` merges land on the right word)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from bertune_cli.core.explain.common import pad, pieces
from bertune_cli.core.translation import Translator


def confidence(tr: Translator, srcs, best, todo) -> list[dict]:
    """Per-token probabilities of the chosen hypotheses (one batched teacher-forced pass)."""
    import torch

    out = [
        {
            "tokens": [],
            "words": [],
            "mean_prob": None,
            "min_prob": None,
            "logprob": 0.0,
            "logprob_per_token": None,
            "tokens_count": 0,
        }
        for _ in srcs
    ]
    if not todo:
        return out
    ids, mask = pad([srcs[i] for i in todo], tr.device)
    with torch.inference_mode():
        lp, _ = tr.teacher_forced(
            [best[i].ids for i in todo], None, input_ids=ids, attention_mask=mask, use_cache=False
        )  # (N, T)
    for row, i in zip(lp.double().cpu().numpy(), todo):
        hyp_ids = best[i].ids
        tlp = row[: len(hyp_ids)]
        shown, text_pieces = pieces(tr, hyp_ids)
        words, owner = words_of(text_pieces, best[i].text, _prefix(tr))
        probs = np.exp(tlp)
        tokens = [
            {"piece": p, "prob": float(q), "logprob": float(lp), "word": w}
            for p, q, lp, w in zip(shown, probs, tlp, owner)
        ]
        members = [[t for t, w in enumerate(owner) if w == k] for k in range(len(words))]
        out[i] = {
            "tokens": tokens,
            "words": [
                {
                    "text": text,
                    "prob": float(np.prod(probs[m])) if m else None,
                    "min_prob": float(probs[m].min()) if m else None,
                    "tokens": m,
                }
                for text, m in zip(words, members)
            ],
            "mean_prob": float(probs.mean()),
            "min_prob": float(probs.min()),
            "logprob": float(tlp.sum()),
            "logprob_per_token": float(tlp.mean()),
            "tokens_count": len(hyp_ids),
        }
    return out


def words_of(
    pieces: list[str | None], text: str, prefix: str = "##"
) -> tuple[list[str], list[int | None]]:
    """The words of the detokenized ``text`` (whitespace-split) and, for every output piece,
    the index of the word its characters landed in (None for specials, given as None).

    Detokenization only moves spaces (WordPiece joins ``##`` pieces, the joins of
    core/data/target.py and Moses attach punctuation), so the pieces' characters and the
    text's non-space characters are aligned with difflib; a piece belongs to the word that
    holds most of its characters.
    """
    import difflib

    chars: list[str] = []
    owner: list[int] = []
    for i, piece in enumerate(pieces):
        if piece is None:
            continue
        piece = piece[len(prefix) :] if prefix and piece.startswith(prefix) else piece
        chars.extend(piece)
        owner.extend([i] * len(piece))
    words = text.split()
    where = [k for k, w in enumerate(words) for _ in w]
    matcher = difflib.SequenceMatcher(None, "".join(chars), "".join(words), autojunk=False)
    votes: list[Counter] = [Counter() for _ in pieces]
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            votes[owner[a + k]][where[b + k]] += 1
    return words, [v.most_common(1)[0][0] if v else None for v in votes]


def _prefix(tr: Translator) -> str:
    model = tr.codec.tokenizer.backend_tokenizer.model
    return getattr(model, "continuing_subword_prefix", None) or "##"
