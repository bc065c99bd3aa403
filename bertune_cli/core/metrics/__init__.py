"""Metrics behind one protocol (segment statistics -> corpus score, signature).

``protocol`` (the protocol and its settings), ``sacre`` and ``ngrams`` (BLEU / chrF / TER
through sacrebleu), ``bertscore`` (F_BERT), ``moverscore``, ``stats``, ``sentences``,
``inputs``, ``lm_inputs`` and ``cache`` (shared pieces). The registry of names is
``core.evaluation.registry``.
"""

__all__ = [
    "protocol",
    "sacre",
    "ngrams",
    "bertscore",
    "moverscore",
    "stats",
    "sentences",
    "inputs",
    "lm_inputs",
    "cache",
]
