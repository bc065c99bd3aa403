"""Source-side preprocessing (method.md §1): Moses tokenization -> optional lowercasing -> BPE.

- Moses: sacremoses for the source language, ``escape=False`` (no ``&apos;`` entities) and no
  aggressive dash splitting — tokenizer.perl's defaults otherwise, as in fairseq's scripts.
- Lowercasing (when the recipe says so) and BPE live inside one HF ``tokenizers`` model
  (``src_tokenizer.json``): a ``Lowercase`` normalizer, a ``Metaspace`` pre-tokenizer (the text
  is already Moses-tokenized; each word gets a ``▁`` start marker, which plays the role of
  subword-nmt's ``</w>``), BPE learned on the training source only (``vocab_size`` = total size,
  specials included), and a post-processor that appends ``</s>``. The ``▁`` marker is part of
  the alphabet, so training is deterministic (an ``end_of_word_suffix`` makes HF's trainer
  break ties in hash order: two runs gave different vocabularies).
- Specials: ``<pad>`` = 0 (the Marian models need a single pad id), ``<unk>`` = 1, ``</s>`` = 2.

``source.json`` records the settings; checkpoints copy both files, so ``translate`` applies the
exact training-time preprocessing.
"""

from __future__ import annotations

import json
from pathlib import Path

from bertune_cli.core.data.raw import Progress, quiet
from bertune_cli.core.data.tokenization import (
    MOSES,
    encode_words,
    moses_tokenize,
    word_decomposable,
)
from bertune_cli.core.errors import CheckpointError, ConfigError

__all__ = ["SourceEncoder", "moses_tokenize"]

TOKENIZER_FILE = "src_tokenizer.json"
SETTINGS_FILE = "source.json"
SPECIALS = ("<pad>", "<unk>", "</s>")
MARK = "\u2581"  # ▁, word-start marker


class SourceEncoder:
    """Raw source lines -> BPE ids ending with ``</s>``."""

    pad_id = 0
    unk_id = 1
    eos_id = 2

    def __init__(self, tokenizer, lang: str, lowercase: bool):
        self.tokenizer = tokenizer  # tokenizers.Tokenizer
        self.lang = lang
        self.lowercase = lowercase
        self._by_words = word_decomposable(tokenizer)

    # ------------------------------------------------------------------ building
    @classmethod
    def train(
        cls,
        lines: list[str],
        lang: str,
        lowercase: bool,
        vocab_size: int,
        *,
        pretokenized: bool = False,
    ) -> "SourceEncoder":
        """Learn BPE on ``lines`` (raw, or Moses-tokenized with ``pretokenized=True``)."""
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
        from tokenizers.trainers import BpeTrainer

        if vocab_size <= len(SPECIALS):
            raise ConfigError(
                f"data.bpe_vocab={vocab_size} is too small",
                "use a few thousand (32000 for IWSLT in the paper)",
            )
        tokenized = lines if pretokenized else moses_tokenize(lines, lang)
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        if lowercase:
            tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=MARK, prepend_scheme="always")
        tok.decoder = decoders.Metaspace(replacement=MARK, prepend_scheme="always")
        trainer = BpeTrainer(
            vocab_size=vocab_size, special_tokens=list(SPECIALS), show_progress=False
        )
        tok.train_from_iterator(tokenized, trainer=trainer, length=len(tokenized))
        if [tok.token_to_id(s) for s in SPECIALS] != [cls.pad_id, cls.unk_id, cls.eos_id]:
            raise RuntimeError("BPE trainer did not put the specials first")  # a library change
        tok.post_processor = processors.TemplateProcessing(
            single="$A </s>", special_tokens=[("</s>", cls.eos_id)]
        )
        return cls(tok, lang, lowercase)

    @classmethod
    def load(cls, directory: Path) -> "SourceEncoder":
        """Read ``src_tokenizer.json`` + ``source.json`` from ``directory``."""
        from tokenizers import Tokenizer

        directory = Path(directory)
        files = [directory / TOKENIZER_FILE, directory / SETTINGS_FILE]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise CheckpointError(
                f"{directory} has no {' / '.join(missing)} (source tokenizer)",
                "re-run `bertune prepare`; checkpoints copy these files",
            )
        settings = json.loads(files[1].read_text(encoding="utf-8"))
        return cls(
            Tokenizer.from_file(str(files[0])), settings["lang"], bool(settings["lowercase"])
        )

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save(str(directory / TOKENIZER_FILE))
        (directory / SETTINGS_FILE).write_text(
            json.dumps(self.settings(), indent=1) + "\n", encoding="utf-8"
        )

    def settings(self) -> dict:
        return {
            "lang": self.lang,
            "lowercase": self.lowercase,
            "moses": MOSES,
            "bpe": {"vocab_size": self.vocab_size, "word_start_marker": MARK},
            "specials": dict(zip(SPECIALS, (self.pad_id, self.unk_id, self.eos_id))),
            "tokenizer_file": TOKENIZER_FILE,
        }

    # ------------------------------------------------------------------ encoding
    def tokenize(self, lines: list[str], progress: Progress = quiet) -> list[str]:
        """The Moses step alone (what cleaning counts)."""
        return moses_tokenize(lines, self.lang, progress, f"moses {self.lang}")

    def encode(self, lines: list[str], max_len: int | None = None) -> list[list[int]]:
        """BPE ids of raw lines, each ending with ``</s>``; at most ``max_len`` ids (the last
        one stays ``</s>``)."""
        return self.encode_tokenized(self.tokenize(lines), max_len)

    def encode_tokenized(self, tokenized: list[str], max_len: int | None = None) -> list[list[int]]:
        """BPE ids of Moses-tokenized lines (each distinct word encoded once, in Rust)."""
        if self._by_words:
            ids = encode_words(self.tokenizer, tokenized, [], [self.eos_id])
        else:
            ids = [e.ids for e in self.tokenizer.encode_batch(tokenized)]
        if max_len:
            ids = [s if len(s) <= max_len else s[: max_len - 1] + [self.eos_id] for s in ids]
        return ids

    def pieces(self, line: str) -> list[str]:
        """The BPE pieces of one raw line (for inspection and tests)."""
        return self.tokenizer.encode(self.tokenize([line])[0]).tokens

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size(with_added_tokens=True)
