"""What a decoding returns per input line, and how it is written out.

``Hypothesis`` is one output of the search; ``format_result`` writes one input line's result
as ``bertune translate`` prints it (plain, ``--scores``, ``--n-best``, ``--json``) and
``result_row`` is its JSON object, which ``core/explain`` extends with its fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Hypothesis:
    text: str
    score: float | None = None  # sentence log-probability (natural log, [SEP] included,
    #                              under the decoding distribution: [PAD]/[CLS] excluded)
    tokens: int = 0  # predicted WordPieces, [SEP] included
    ids: list[int] | None = None  # the predicted model-vocabulary ids ([SEP] included; no
    #                               [CLS]); map to LM ids with ``vocab.to_lm``


def format_result(result: Any, scores: bool = False, as_json: bool = False) -> str:
    """One input line's result as output text (ends with a newline).

    Plain: the translation; ``--n-best k`` writes k lines (best first); ``--scores`` prefixes
    each with its log-probability and a tab. JSON lines: ``{"translation", "score",
    "n_best": [{"text", "score", "tokens"}]}``.
    """
    import json

    hyps = result if isinstance(result, list) else [Hypothesis(result)]
    if as_json:
        return json.dumps(result_row(hyps, scores), ensure_ascii=False) + "\n"
    if scores:
        return "".join(f"{h.score:.4f}\t{h.text}\n" for h in hyps)
    return "".join(h.text + "\n" for h in hyps)


def result_row(hyps: list[Hypothesis], scores: bool = False) -> dict[str, Any]:
    """The JSON object of one input line (``format_result``'s ``--json`` form; core/explain
    adds its fields to it)."""
    row: dict[str, Any] = {"translation": hyps[0].text}
    if scores:
        row["score"] = hyps[0].score
    if len(hyps) > 1 or scores:
        row["n_best"] = [{"text": h.text, "score": h.score, "tokens": h.tokens} for h in hyps]
    return row
