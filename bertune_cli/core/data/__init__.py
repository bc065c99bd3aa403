"""Corpora, from raw files to the prepared data directory.

``raw`` (locating and downloading raw inputs), ``table`` (CSV/TSV corpora), ``wit3`` (IWSLT
archives), ``corpus`` (a recipe's inputs and their fingerprint), ``cleaning``, ``source`` and
``target`` (each side's preprocessing), ``tokenization``, ``prepare`` (``bertune prepare``),
``store`` (the data directory contract), ``batching`` (token batches), ``demo`` and
``demo_lexicon`` (the embedded offline corpus).
"""

__all__ = [
    "raw",
    "table",
    "wit3",
    "corpus",
    "cleaning",
    "source",
    "target",
    "tokenization",
    "prepare",
    "store",
    "batching",
    "demo",
    "demo_lexicon",
]
