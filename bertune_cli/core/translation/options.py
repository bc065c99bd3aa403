"""Decoding options: one frozen value for everything a decoding takes.

``DecodeOptions`` is what ``Translator.translate``, ``explain``, ``bertune serve`` and
validation decode with. A run's decoding defaults are its recipe's ``eval`` section
(``core/config/recipe.py`` ``EvalConfig``: beam, lenpen, max_len_a, max_len_b, batch_tokens);
``from_eval`` is the one function that turns such a section — the dataclass of a loaded recipe
or the dict a checkpoint's ``bertune.json`` holds — into options. The per-request fields
(``n_best``, ``return_scores``) are not recipe keys. The field defaults equal ``EvalConfig``'s
(tests/core/translation/test_translate_options.py holds them together).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# the recipe's eval keys that are decoding options (the rest of the section is scoring)
RECIPE_KEYS = ("beam", "lenpen", "max_len_a", "max_len_b", "batch_tokens")


@dataclass(frozen=True)
class DecodeOptions:
    """How to decode. ``max_len_a``/``max_len_b``: a source of n tokens gets at most
    ``a·n + b`` output tokens ([SEP] included; fairseq's ``--max-len-a/--max-len-b``);
    ``batch_tokens``: padded source tokens per batch, 0 = ``auto_batch_tokens(device)``;
    ``n_best`` hypotheses per line (at most ``beam``); ``return_scores``: sentence
    log-probabilities, and results as hypotheses rather than text."""

    beam: int = 5
    lenpen: float = 1.0
    max_len_a: float = 1.2
    max_len_b: int = 10
    batch_tokens: int = 0
    n_best: int = 1
    return_scores: bool = False

    def with_(self, **given: Any) -> "DecodeOptions":
        """These options with the ``given`` ones that are not None (a command's or a
        request's unset options keep the recipe's). An unknown name is a TypeError."""
        return dataclasses.replace(self, **{k: v for k, v in given.items() if v is not None})

    def check(self) -> "DecodeOptions":
        """Refuse options no search can honour (a UsageError naming the fix)."""
        if self.n_best > self.beam:
            from bertune_cli.core.errors import UsageError

            raise UsageError(
                f"--n-best {self.n_best} is larger than the beam ({self.beam})",
                "use --n-best <= --beam",
            )
        return self

    def plain(self) -> bool:
        """Whether results are plain text (one best translation, no scores)."""
        return self.n_best == 1 and not self.return_scores


def from_eval(section: Any = None) -> DecodeOptions:
    """The decoding options of a recipe's ``eval`` section: an ``EvalConfig`` (any object with
    those attributes), a mapping (a checkpoint's ``config["eval"]``) or None (the defaults).
    Keys it lacks keep the defaults; its scoring keys (lowercase, bleu_tokenize, ms_lm) are not
    decoding options."""
    if section is None:
        return DecodeOptions()
    if isinstance(section, Mapping):
        return DecodeOptions(**{k: section[k] for k in RECIPE_KEYS if k in section})
    return DecodeOptions(**{k: getattr(section, k) for k in RECIPE_KEYS if hasattr(section, k)})


def auto_batch_tokens(device) -> int:
    """Default decoding batch size in padded source tokens. Beam search on CPU is fastest with
    small batches (benchmarks/bench_translate.py on the Multi30k baseline, beam 5, 2 cores:
    1024 tokens 74 sentences/s, 4096 tokens 61); a GPU wants large ones."""
    return 1024 if str(device).startswith("cpu") else 4096
