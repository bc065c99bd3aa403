"""Tokenizer files that let plain ``transformers`` use a checkpoint (no bertune installed).

A checkpoint is a ``MarianMTModel`` folder, so ``AutoModelForSeq2SeqLM.from_pretrained`` loads
it; these files make ``AutoTokenizer`` load its two vocabularies too:

- ``tokenizer.json`` + ``tokenizer_config.json`` (the folder itself): the **source** tokenizer,
  exactly bertune's (``source/src_tokenizer.json``: lowercasing when the recipe lowercases,
  BPE, ``</s>`` appended); its input is Moses-tokenized text (sacremoses, the source language,
  ``escape=False``), as in training.
- ``target/``: the **target** tokenizer — the LM's WordPiece pipeline with the model's own ids
  (a shortlist model predicts a subset of the LM vocabulary, renumbered: model id ``i`` is LM
  id ``lm_ids[i]``), so ``decode`` of ``generate``'s output gives the WordPieces bertune
  decodes; ``cleanup`` off, as bertune's decoder (then Moses-detokenize for the text).

``docs/reference/translate.md`` (Translating with plain transformers) has the snippet, which a
test runs against ``bertune translate``. Both files are plain JSON (no code, no pickle).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

TOKENIZER_FILE, CONFIG_FILE = "tokenizer.json", "tokenizer_config.json"
TARGET_DIR = "target"
SOURCE_SPECIALS = {"pad_token": "<pad>", "unk_token": "<unk>", "eos_token": "</s>"}
TARGET_SPECIALS = ("pad", "unk", "cls", "sep", "mask")


def write_hf_tokenizers(
    folder: Path, source, meta: dict[str, Any], max_positions: int | None = None
) -> None:
    """Write the source tokenizer into ``folder`` and the target one into ``folder/target``.
    ``meta``: the checkpoint's bertune.json (its ``lm`` and ``target_vocab``)."""
    folder = Path(folder)
    source.tokenizer.save(str(folder / TOKENIZER_FILE))
    _config(folder, {**SOURCE_SPECIALS, "model_max_length": _max_len(max_positions)})
    from bertune_cli.core.model.vocab import TargetVocab

    lm = _lm_tokenizer(meta["lm"]["name"])
    lm_ids = TargetVocab.from_dict(meta["target_vocab"]).lm_ids.tolist()  # full: all LM ids
    spec, specials = target_spec(lm, lm_ids)
    (folder / TARGET_DIR).mkdir(exist_ok=True)
    (folder / TARGET_DIR / TOKENIZER_FILE).write_text(
        json.dumps(spec, ensure_ascii=False), encoding="utf-8"
    )
    _config(
        folder / TARGET_DIR,
        {
            **specials,
            "model_max_length": _max_len(max_positions),
            "do_lower_case": bool(getattr(lm, "do_lower_case", False)),
        },
    )


def target_spec(lm, lm_ids: list[int]) -> tuple[dict[str, Any], dict[str, str]]:
    """The LM's tokenizer.json with model ids: its vocabulary restricted to ``lm_ids`` and
    renumbered, its special tokens and post-processor ids mapped the same way, WordPiece
    decoding without clean-up. Also the special tokens for tokenizer_config.json."""
    spec = json.loads(lm.backend_tokenizer.to_str())
    piece = {i: p for p, i in lm.get_vocab().items()}
    model_id = {int(lm_id): m for m, lm_id in enumerate(lm_ids)}
    spec["model"]["vocab"] = {piece[lm_id]: m for lm_id, m in model_id.items()}
    spec["added_tokens"] = [
        {**t, "id": model_id[t["id"]]} for t in spec.get("added_tokens", []) if t["id"] in model_id
    ]
    spec["truncation"] = spec["padding"] = None
    _renumber_post_processor(spec.get("post_processor"), spec["model"]["vocab"])
    if (spec.get("decoder") or {}).get("type") == "WordPiece":
        spec["decoder"]["cleanup"] = False
    specials = {
        f"{name}_token": getattr(lm, f"{name}_token")
        for name in TARGET_SPECIALS
        if getattr(lm, f"{name}_token_id", None) in model_id
    }
    return spec, specials


def _renumber_post_processor(post: dict[str, Any] | None, vocab: dict[str, int]) -> None:
    if not post:
        return
    for special in (post.get("special_tokens") or {}).values():  # TemplateProcessing
        special["ids"] = [vocab[t] for t in special.get("tokens", [])]
    for key in ("sep", "cls"):  # BertProcessing / RobertaProcessing: [token, id]
        if isinstance(post.get(key), list):
            post[key] = [post[key][0], vocab[post[key][0]]]
    for inner in post.get("processors") or []:  # Sequence
        _renumber_post_processor(inner, vocab)


def _config(folder: Path, values: dict[str, Any]) -> None:
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "clean_up_tokenization_spaces": False,
        **{k: v for k, v in values.items() if v is not None},
    }
    (folder / CONFIG_FILE).write_text(
        json.dumps(config, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def _max_len(max_positions: int | None) -> int | None:
    return max_positions - 1 if max_positions else None  # one position for the start token


@lru_cache(maxsize=4)
def _lm_tokenizer(name: str):
    from bertune_cli.core.lm.model import load_tokenizer

    return load_tokenizer(name)
