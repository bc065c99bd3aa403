"""The decoding driver: text in, text out, through the same path as training and validation.

``Translator`` holds a decoding engine (core/engines), the target vocabulary, the source
tokenizer, the target codec and the run's default ``DecodeOptions`` (its recipe's ``eval``
section). ``translate`` applies the training-time source preprocessing (``encode``:
SourceEncoder.encode — Moses tokenization, lowercasing, BPE, </s>), sorts the sentences by
length and cuts them into batches of at most ``batch_tokens`` padded source tokens, and runs
``generate`` on each: beam search in the engine (``beam``, ``lenpen``, and for each sentence
its own cap of ``a·(its source length) + b`` new tokens, fairseq's ``--max-len-a/--max-len-b``:
no decision of the search depends on the other sentences of the batch, so a sentence gets the
same output alone, in a list or in a server's batch), then model ids -> LM ids -> text
(TargetCodec.decode: WordPiece decode + Moses detokenization). Outputs come back in input
order. The search runs in an engine: ``torch`` (``model.generate``, the default) or ``ct2``
(CTranslate2 on a ``bertune export`` folder); each engine computes its own scores, and
everything around the search is shared. Validation during training calls exactly this, so
validation BLEU equals what ``bertune score`` reports on ``bertune translate`` output.

Bad input never stops a stream: empty lines give empty outputs; bytes that are not UTF-8 and
unpaired surrogates in a string are replaced (U+FFFD) with a warning (core/translation/io.py);
sources longer than ``max_source_len`` tokens are truncated (keeping </s>) with a warning.
Warnings go through ``logging`` (logger ``bertune.translate``).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from bertune_cli.core.data.batching import length_batches
from bertune_cli.core.translation.io import text_chunks, valid_text
from bertune_cli.core.translation.options import DecodeOptions, auto_batch_tokens, from_eval
from bertune_cli.core.translation.results import Hypothesis

log = logging.getLogger("bertune.translate")


class Translator:
    """Translate with a trained model (see the module docstring)."""

    def __init__(
        self,
        model,
        vocab,
        source,
        codec,
        device: str = "cpu",
        max_source_len: int | None = None,
        engine=None,
        defaults: DecodeOptions | None = None,
    ):
        """``engine``: a decoding engine (core/engines); default: the torch engine on ``model``.
        With the ct2 engine ``model`` is None (explanations need the torch engine).
        ``defaults``: the options ``translate`` uses where none are given."""
        if engine is None:
            from bertune_cli.core.engines.torch_engine import TorchEngine

            engine = TorchEngine(model, vocab, device)
        self.engine, self.model = engine, engine.model
        self.vocab, self.source, self.codec, self.device = vocab, source, codec, device
        limit = engine.max_positions - 1
        self.max_source_len = min(max_source_len or limit, limit)
        self.max_target_len = limit
        self.defaults = defaults if defaults is not None else DecodeOptions()

    @classmethod
    def load(
        cls, path: Path, device: str = "cpu", lm_name: str | None = None, engine: str = "torch"
    ) -> "Translator":
        """From a checkpoint folder or a run folder (-> its checkpoint_best), with the
        checkpoint recipe's decoding options as defaults. ``engine="ct2"`` also takes a
        ``bertune export`` folder; a run or checkpoint is then exported on the fly into a cache
        (core/engines/export.py ``cached_export``)."""
        from bertune_cli.core.data.target import TargetCodec
        from bertune_cli.core.engines import load_engine
        from bertune_cli.core.lm.model import resolve_device

        device = resolve_device(device)
        decoder, meta, vocab, source = load_engine(engine, path, device)
        config = meta.get("config", {})
        codec = TargetCodec.from_lm(lm_name or meta["lm"]["name"], config.get("tgt", "en"))
        return cls(
            decoder.model,
            vocab,
            source,
            codec,
            device,
            engine=decoder,
            defaults=from_eval(config.get("eval")),
        )

    def with_model(self, model) -> "Translator":
        """A translator like this one (vocabulary, tokenizers, device, limits, defaults) on
        another torch model with the same vocabularies, e.g. a copy of the weights."""
        return Translator(
            model,
            self.vocab,
            self.source,
            self.codec,
            self.device,
            self.max_source_len,
            defaults=self.defaults,
        )

    def options(self, **given: Any) -> DecodeOptions:
        """Decoding options: those given (not None), else the defaults (the recipe's)."""
        return self.defaults.with_(**given)

    # ------------------------------------------------------------------ batch API
    def translate(
        self,
        lines: list[str],
        options: DecodeOptions | None = None,
        *,
        first_line: int = 1,
        **given: Any,
    ):
        """Translate ``lines`` with ``options`` (default: ``self.defaults``) updated by the
        ``given`` DecodeOptions fields; output i belongs to input i.

        Returns ``list[str]`` (the best translation) when ``n_best == 1`` and not
        ``return_scores``; otherwise ``list[list[Hypothesis]]`` (``n_best`` per line, best
        first; empty lines give one empty hypothesis). ``first_line`` numbers warnings.
        """
        opts = (options if options is not None else self.defaults).with_(**given).check()
        src = self.encode(lines, first_line)
        results: list[list[Hypothesis]] = [
            [Hypothesis("", 0.0 if opts.return_scores else None)] for _ in lines
        ]
        todo = [i for i, ids in enumerate(src) if ids is not None]
        lens = np.array([len(src[i]) for i in todo], dtype=np.int64)
        for batch in length_batches(
            lens, lens, opts.batch_tokens or auto_batch_tokens(self.device)
        ):
            rows = [todo[j] for j in batch]
            for i, h in zip(rows, self.generate([src[i] for i in rows], opts)):
                results[i] = h
        if opts.plain():
            return [r[0].text for r in results]
        return results

    # ------------------------------------------------------------------ streaming API
    def stream(
        self,
        lines: Iterable[str | bytes],
        options: DecodeOptions | None = None,
        *,
        chunk_lines: int = 256,
        wait: float = 0.05,
        **given: Any,
    ) -> Iterator[Any]:
        """Translate an iterable of lines (str or bytes, newline optional) lazily, in order.

        Lines are read on a background thread and translated in chunks of up to
        ``chunk_lines``; a chunk is also closed when no new line arrives within ``wait``
        seconds, so interactive input is answered line by line and output starts long before
        a big input ends. Yields what ``translate`` returns per line.
        """
        opts = (options if options is not None else self.defaults).with_(**given)
        for lineno, texts in text_chunks(lines, chunk_lines, wait):
            yield from self.translate(texts, opts, first_line=lineno)

    # ------------------------------------------------------------------ the steps
    def encode(
        self, lines: list[str], first_line: int = 1, warn: bool = True
    ) -> list[list[int] | None]:
        """Source model ids per line (None for empty lines), truncated to ``max_source_len``
        (``warn=False``: silently, for callers that re-encode what ``translate`` warned about).
        A line the preprocessing cannot handle is a DataError naming the lines."""
        keep = [i for i, line in enumerate(lines) if line.strip()]
        texts = [valid_text(lines[i], first_line + i, warn) for i in keep]
        try:
            encoded = self.source.encode(texts) if keep else []
        except Exception as exc:  # preprocessing one of these lines failed: the input's fault
            from bertune_cli.core.errors import DataError

            raise DataError(
                f"lines {first_line}-{first_line + len(lines) - 1} cannot be "
                f"preprocessed ({exc.__class__.__name__}: {exc})",
                "check the text for unusual characters",
            ) from exc
        out: list[list[int] | None] = [None] * len(lines)
        for i, ids in zip(keep, encoded):
            ids = list(ids)
            if len(ids) > self.max_source_len:
                if warn:
                    log.warning(
                        "line %d has %d source tokens; truncated to %d",
                        first_line + i,
                        len(ids),
                        self.max_source_len,
                    )
                ids = ids[: self.max_source_len - 1] + [ids[-1]]
            out[i] = ids
        return out

    def generate(self, srcs: list[list[int]], options: DecodeOptions) -> list[list[Hypothesis]]:
        """Beam search on one batch of encoded sources (``encode``'s non-empty rows, any
        order): ``options.n_best`` hypotheses per source, best first, with scores when
        ``options.return_scores``. ``options.batch_tokens`` plays no part (one batch)."""
        o, n_best = options, options.n_best
        found = self.engine.generate(
            srcs,
            beam=o.beam,
            lenpen=o.lenpen,
            max_new=[self.length_cap(len(s), o.max_len_a, o.max_len_b) for s in srcs],
            n_best=n_best,
            scores=o.return_scores,
        )  # B·n (ids, lp)
        seqs, logprobs = [ids for ids, _ in found], [lp for _, lp in found]
        texts = self.codec.decode(
            [self.vocab.to_lm(np.asarray(s, dtype=np.int64)).tolist() for s in seqs]
        )
        hyps = [Hypothesis(t, lp, len(s), s) for t, lp, s in zip(texts, logprobs, seqs)]
        return [hyps[i * n_best : (i + 1) * n_best] for i in range(len(srcs))]

    def length_cap(self, source_len: int, a: float, b: int) -> int:
        """The most tokens ([SEP] included) decoded for a source of ``source_len`` tokens:
        ``a·source_len + b`` (fairseq's ``--max-len-a/--max-len-b``), from the sentence's own
        length, never its batch's, within the model's positions."""
        return max(1, min(int(math.floor(a * source_len + b)), self.max_target_len))

    def teacher_forced(self, seqs: list[list[int]], rows=None, **inputs):
        """The engine's teacher-forced pass over output sequences (the torch engine's
        ``teacher_forced``: per-token log-probabilities under the decoding distribution and
        the model output). A UsageError with an engine that has no model to run."""
        forced = getattr(self.engine, "teacher_forced", None)
        if forced is None:
            from bertune_cli.core.errors import UsageError

            raise UsageError(
                f"the {self.engine.name} engine has no teacher-forced pass",
                "use the default engine (--engine torch)",
            )
        return forced(seqs, rows, **inputs)
