"""What F_BERT feeds the LM (core/metrics/bertscore.py): truncating tokenization and its
warnings, idf / special-token weights, and the rescale baseline file."""

from __future__ import annotations

import csv
import hashlib
import math
from collections import Counter
from pathlib import Path

import numpy as np

from bertune_cli.core.errors import DataError


def max_input_length(lm) -> int:
    """The longest input the LM takes: its tokenizer's ``model_max_length``, capped by the
    model's position embeddings (tokenizers without a limit report a huge number)."""
    max_len = lm.tokenizer.model_max_length
    max_pos = getattr(lm.model.config, "max_position_embeddings", None)
    if max_pos and (not max_len or max_len > max_pos):
        max_len = max_pos
    return max_len


def _tokenize(lm, sentences: list[str]) -> tuple[list[list[int]], int, np.ndarray]:
    """Token ids ([CLS] … [SEP], truncated to the LM's maximum length like bert_score's
    ``sent_encode``), that maximum, and which sentences were truncated (bool, (n,))."""
    tok = lm.tokenizer
    max_len = max_input_length(lm)
    ids = tok(sentences, add_special_tokens=True, truncation=True, max_length=max_len)["input_ids"]
    truncated = np.zeros(len(ids), bool)
    at_cap = [i for i, s in enumerate(ids) if len(s) >= max_len]
    if at_cap:  # rare: re-tokenize only these, untruncated, to know which were longer
        full = tok([sentences[i] for i in at_cap], add_special_tokens=False, verbose=False)
        extra = tok.num_special_tokens_to_add(pair=False)
        for i, f in zip(at_cap, full["input_ids"]):
            truncated[i] = len(f) + extra > max_len
    return ids, max_len, truncated


def _truncation_warnings(
    truncated: np.ndarray, hyp_s: np.ndarray, ref_s: np.ndarray, max_len: int
) -> list[str]:
    """One warning counting the hypothesis and reference lines the LM saw truncated."""
    hyp_lines = (np.flatnonzero(truncated[hyp_s]) + 1).tolist()
    ref_lines = (np.flatnonzero(truncated[ref_s].any(0)) + 1).tolist()
    if not hyp_lines and not ref_lines:
        return []
    shown = ", ".join(map(str, sorted(set(hyp_lines + ref_lines))[:5]))
    return [
        f"{len(hyp_lines)} hypothesis and {len(ref_lines)} reference line(s) are longer "
        f"than the LM's maximum of {max_len} tokens (line {shown}"
        f"{', …' if len(set(hyp_lines + ref_lines)) > 5 else ''}): F_BERT scores only "
        f"their first {max_len} tokens (bert_score truncates the same way)"
    ]


def _weights(lm, ids: list[list[int]], ref_sent: np.ndarray | None) -> list[np.ndarray]:
    """Per-sentence float32 weights: idf from the reference lines, or 1 (0 on [CLS]/[SEP])."""
    if ref_sent is None:
        special = {lm.cls_id, lm.sep_id}
        return [np.array([0.0 if t in special else 1.0 for t in s], np.float32) for s in ids]
    counts = Counter()
    for s in ref_sent:  # duplicates count: one document per reference line
        counts.update(set(ids[s]))
    m = len(ref_sent)
    unseen = math.log((m + 1) / 1)
    idf = {t: math.log((m + 1) / (c + 1)) for t, c in counts.items()}
    return [np.array([idf.get(t, unseen) for t in s], np.float32) for s in ids]


def _read_baseline(path: str | Path, layer: int) -> tuple[np.ndarray, str]:
    """bert_score's rescale baseline CSV (header ``LAYER,P,R,F``; row ``layer`` by position)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"rescale baseline file not found: {path}",
            "pass a bert_score baseline CSV (columns LAYER,P,R,F)",
        )
    raw = path.read_bytes()
    try:
        rows = list(csv.reader(raw.decode("utf-8").splitlines()))
        values = [float(v) for v in rows[1 + layer][1:4]]
    except (UnicodeDecodeError, IndexError, ValueError) as exc:
        raise DataError(
            f"{path}: not a bert_score baseline CSV with a row for layer {layer} "
            f"({exc.__class__.__name__})",
            "expected a header LAYER,P,R,F and one row per layer 0..N",
        ) from exc
    return np.array(values), hashlib.sha256(raw).hexdigest()[:8]
