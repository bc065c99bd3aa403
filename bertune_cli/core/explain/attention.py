"""Cross-attention: one decoder layer (default: the last), heads averaged, output WordPieces x
source BPE tokens, each row summing to 1; computed on the model's eager twin (common.py) and
optionally drawn as a PNG (plots.py)."""

from __future__ import annotations

from pathlib import Path

from bertune_cli.core.explain.common import pad, pieces, source_pieces, twin
from bertune_cli.core.translation import Translator


def attention(tr: Translator, srcs, best, todo, layer: int) -> list[dict]:
    """Cross-attention of decoder ``layer``, heads averaged: (T, S) per line."""
    import torch

    config = tr.model.config
    out = [
        {
            "layer": layer,
            "layers": int(config.decoder_layers),
            "heads": int(config.decoder_attention_heads),
            "source": [],
            "target": [],
            "alignment": [],
            "matrix": [],
        }
        for _ in srcs
    ]
    if not todo:
        return out
    eager, lock = twin(tr)
    ids, mask = pad([srcs[i] for i in todo], tr.device)
    with lock, torch.inference_mode():
        _, res = eager.teacher_forced(
            [best[i].ids for i in todo],
            None,
            input_ids=ids,
            attention_mask=mask,
            output_attentions=True,
            use_cache=False,
        )
        att = res.cross_attentions[layer].float().mean(1).cpu().numpy()  # (N, T, S)
    for a, i in zip(att, todo):
        m = a[: len(best[i].ids), : len(srcs[i])]
        out[i].update(
            source=source_pieces(tr, srcs[i]),
            target=pieces(tr, best[i].ids)[0],
            alignment=m.argmax(1).tolist(),
            matrix=[[round(float(x), 6) for x in r] for r in m],
        )
    return out


def plot(att: dict, path: Path, source: str, translation: str) -> None:
    """Draw ``att`` into ``path`` and record the PNG (and any glyphs no font has) in it."""
    from bertune_cli.core.explain.plots import save_attention

    png, missing = save_attention(att, path, source, translation)
    att["png"] = str(png)
    if missing:
        att["missing_glyphs"] = missing
