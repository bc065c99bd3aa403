"""Translation: text in, text out, through the path training's validation uses.

Modules: ``options`` (``DecodeOptions``, the one value a decoding takes, and ``from_eval``,
which builds it from a recipe's ``eval`` section), ``translator`` (``Translator``: encode,
length-sorted batches, ``generate`` through an engine of ``core.engines``, decode), ``results``
(``Hypothesis`` and the printed forms of a result), ``io`` (stream input in chunks, text
repair, the atomic output sink). Explanations of a translation are ``core.explain``.
"""

from bertune_cli.core.translation.io import AtomicOutput, text_chunks, valid_text
from bertune_cli.core.translation.options import DecodeOptions, auto_batch_tokens, from_eval
from bertune_cli.core.translation.results import Hypothesis, format_result, result_row
from bertune_cli.core.translation.translator import Translator

__all__ = [
    "AtomicOutput",
    "DecodeOptions",
    "Hypothesis",
    "Translator",
    "auto_batch_tokens",
    "format_result",
    "from_eval",
    "result_row",
    "text_chunks",
    "valid_text",
]
