"""The decoding driver: text in, text out, through the same path as training and validation.

``Translator`` holds a model, its target vocabulary, the source tokenizer and the target codec.
``translate`` applies the training-time source preprocessing (SourceEncoder.encode: Moses
tokenization, lowercasing, BPE, </s>), sorts the sentences by length and cuts them into batches
of at most ``batch_tokens`` padded source tokens, runs beam search with ``model.generate``
(``num_beams``, ``length_penalty``, and for each sentence its own cap of ``a·(its source
length) + b`` new tokens, fairseq's ``--max-len-a/--max-len-b``: no decision of the search
depends on the other sentences of the batch, so a sentence gets the same output alone, in a
list or in a server's batch), maps model ids -> LM ids -> text (TargetCodec.decode:
WordPiece decode + Moses detokenization) and returns the outputs in input order. The search
itself runs in an engine (core/engines): ``torch`` (``model.generate``, the default) or ``ct2``
(CTranslate2 on a ``bertune export`` folder); everything around it is shared. Validation
during training calls exactly this, so validation BLEU equals what ``bertune score`` reports on
``bertune translate`` output.

Bad input never stops a stream: empty lines give empty outputs; bytes that are not UTF-8 and
unpaired surrogates in a string are replaced (U+FFFD) with a warning; sources longer than
``max_source_len`` tokens are truncated (keeping </s>) with a warning. Warnings go through ``logging`` (logger ``bertune.translate``).
"""
from __future__ import annotations

import logging
import math
import queue
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from bertune_cli.core.data.batching import length_batches

log = logging.getLogger("bertune.translate")
_END = object()


@dataclass
class Hypothesis:
    text: str
    score: float | None = None   # sentence log-probability (natural log, [SEP] included,
    #                              under the decoding distribution: [PAD]/[CLS] excluded)
    tokens: int = 0              # predicted WordPieces, [SEP] included
    ids: list[int] | None = None  # the predicted model-vocabulary ids ([SEP] included; no
    #                               [CLS]); map to LM ids with ``vocab.to_lm``


def auto_batch_tokens(device) -> int:
    """Default decoding batch size in padded source tokens. Beam search on CPU is fastest with
    small batches (benchmarks/bench_translate.py on the Multi30k baseline, beam 5, 2 cores:
    1024 tokens 74 sentences/s, 4096 tokens 61); a GPU wants large ones."""
    return 1024 if str(device).startswith("cpu") else 4096


class Translator:
    """Translate with a trained model (see the module docstring)."""

    def __init__(self, model, vocab, source, codec, device: str = "cpu",
                 max_source_len: int | None = None, engine=None):
        """``engine``: a decoding engine (core/engines); default: the torch engine on ``model``.
        With the ct2 engine ``model`` is None (explanations need the torch engine)."""
        if engine is None:
            from bertune_cli.core.engines.torch_engine import TorchEngine

            engine = TorchEngine(model, vocab, device)
        if engine.name == "torch":
            engine.score = self._score  # the exact teacher-forced pass, shared with explain
        self.engine, self.model = engine, engine.model
        self.vocab, self.source, self.codec, self.device = vocab, source, codec, device
        limit = engine.max_positions - 1
        self.max_source_len = min(max_source_len or limit, limit)
        self.max_target_len = limit
        self.defaults: dict[str, Any] = {}

    @classmethod
    def load(cls, path: Path, device: str = "cpu", lm_name: str | None = None,
             engine: str = "torch") -> "Translator":
        """From a checkpoint folder or a run folder (-> its checkpoint_best). ``engine="ct2"``
        also takes a ``bertune export`` folder; a run or checkpoint is then exported on the
        fly into a cache (core/export.py ``cached_export``)."""
        from bertune_cli.core.data.target import TargetCodec
        from bertune_cli.core.engines import load_engine
        from bertune_cli.core.lm import resolve_device

        device = resolve_device(device)
        decoder, meta, vocab, source = load_engine(engine, path, device)
        config = meta.get("config", {})
        codec = TargetCodec.from_lm(lm_name or meta["lm"]["name"], config.get("tgt", "en"))
        translator = cls(decoder.model, vocab, source, codec, device, engine=decoder)
        translator.defaults = {k: v for k, v in config.get("eval", {}).items()
                               if k in ("beam", "lenpen", "max_len_a", "max_len_b", "batch_tokens")}
        return translator

    def options(self, **given: Any) -> dict[str, Any]:
        """Decoding options: those given (not None), else the checkpoint recipe's eval ones."""
        return {**self.defaults, **{k: v for k, v in given.items() if v is not None}}

    # ------------------------------------------------------------------ batch API
    def translate(self, lines: list[str], beam: int = 5, lenpen: float = 1.0,
                  max_len_a: float = 1.2, max_len_b: int = 10, n_best: int = 1,
                  batch_tokens: int = 0, return_scores: bool = False, first_line: int = 1):
        """Translate ``lines``; output i belongs to input i.

        Returns ``list[str]`` (the best translation) when ``n_best == 1`` and not
        ``return_scores``; otherwise ``list[list[Hypothesis]]`` (``n_best`` per line, best
        first; empty lines give one empty hypothesis). ``first_line`` numbers warnings.
        ``batch_tokens``: padded source tokens per batch, 0 = ``auto_batch_tokens(device)``.
        """
        if n_best > beam:
            from bertune_cli.core.errors import UsageError
            raise UsageError(f"--n-best {n_best} is larger than the beam ({beam})",
                             "use --n-best <= --beam")
        src = self._encode(lines, first_line)
        results: list[list[Hypothesis]] = [[Hypothesis("", 0.0 if return_scores else None)]
                                           for _ in lines]
        todo = [i for i, ids in enumerate(src) if ids is not None]
        lens = np.array([len(src[i]) for i in todo], dtype=np.int64)
        for batch in length_batches(lens, lens, batch_tokens or auto_batch_tokens(self.device)):
            rows = [todo[j] for j in batch]
            hyps = self._generate([src[i] for i in rows], beam, lenpen, max_len_a, max_len_b,
                                  n_best, return_scores)
            for i, h in zip(rows, hyps):
                results[i] = h
        if n_best == 1 and not return_scores:
            return [r[0].text for r in results]
        return results

    # ------------------------------------------------------------------ streaming API
    def stream(self, lines: Iterable[str | bytes], chunk_lines: int = 256, wait: float = 0.05,
               **options) -> Iterator[Any]:
        """Translate an iterable of lines (str or bytes, newline optional) lazily, in order.

        Lines are read on a background thread and translated in chunks of up to
        ``chunk_lines``; a chunk is also closed when no new line arrives within ``wait``
        seconds, so interactive input is answered line by line and output starts long before
        a big input ends. Yields what ``translate`` returns per line.
        """
        for lineno, texts in text_chunks(lines, chunk_lines, wait):
            yield from self.translate(texts, first_line=lineno, **options)

    # ------------------------------------------------------------------ internals
    def _encode(self, lines: list[str], first_line: int, warn: bool = True
                ) -> list[list[int] | None]:
        """Source ids per line (None for empty lines), truncated to ``max_source_len``
        (``warn=False``: silently, for callers that re-encode what ``translate`` warned about)."""
        keep = [i for i, line in enumerate(lines) if line.strip()]
        texts = [valid_text(lines[i], first_line + i, warn) for i in keep]
        try:
            encoded = self.source.encode(texts) if keep else []
        except Exception as exc:  # preprocessing one of these lines failed: the input's fault
            from bertune_cli.core.errors import DataError
            raise DataError(f"lines {first_line}-{first_line + len(lines) - 1} cannot be "
                            f"preprocessed ({exc.__class__.__name__}: {exc})",
                            "check the text for unusual characters") from exc
        out: list[list[int] | None] = [None] * len(lines)
        for i, ids in zip(keep, encoded):
            ids = list(ids)
            if len(ids) > self.max_source_len:
                if warn:
                    log.warning("line %d has %d source tokens; truncated to %d",
                                first_line + i, len(ids), self.max_source_len)
                ids = ids[:self.max_source_len - 1] + [ids[-1]]
            out[i] = ids
        return out

    def _generate(self, srcs: list[list[int]], beam: int, lenpen: float, a: float, b: int,
                  n_best: int, scores: bool) -> list[list[Hypothesis]]:
        found = self.engine.generate(srcs, beam=beam, lenpen=lenpen,
                                     max_new=[self.length_cap(len(s), a, b) for s in srcs],
                                     n_best=n_best, scores=scores)   # B·n (ids, logprob)
        seqs, logprobs = [ids for ids, _ in found], [lp for _, lp in found]
        texts = self.codec.decode([self.vocab.to_lm(np.asarray(s, dtype=np.int64)).tolist()
                                   for s in seqs])
        hyps = [Hypothesis(t, lp, len(s), s) for t, lp, s in zip(texts, logprobs, seqs)]
        return [hyps[i * n_best:(i + 1) * n_best] for i in range(len(srcs))]

    def length_cap(self, source_len: int, a: float, b: int) -> int:
        """The most tokens ([SEP] included) decoded for a source of ``source_len`` tokens:
        ``a·source_len + b`` (fairseq's ``--max-len-a/--max-len-b``), from the sentence's own
        length, never its batch's, within the model's positions."""
        return max(1, min(int(math.floor(a * source_len + b)), self.max_target_len))

    def _score(self, ids, mask, seqs: list[list[int]], n_best: int) -> list[float]:
        """Sentence log-probabilities of ``seqs`` by teacher forcing (exact, unnormalised)."""
        import torch

        rows = torch.arange(len(seqs), device=ids.device) // n_best
        lp, _ = self.teacher_forced(seqs, rows, input_ids=ids, attention_mask=mask)
        return lp.sum(-1).tolist()

    def teacher_forced(self, seqs: list[list[int]], rows=None, model=None, **inputs):
        """Teacher forcing on N output sequences (model ids, [SEP] included, no [CLS]).

        ``inputs``: the model's keyword inputs for B sources — ``input_ids``/``attention_mask``
        (B, S) or ``inputs_embeds`` (B, S, d) — plus any flag such as ``output_attentions``;
        ``rows`` (N,) picks each sequence's source row (default: sequence i reads source i);
        ``model``: a stand-in with the same weights (core/explain.py's eager/dropout twin).
        Returns ``(lp, out)``: lp (N, T) float32, each token's log-probability under the
        distribution beam search samples from (suppressed ids at -inf), 0 at padding; ``out``
        the model output. Differentiable (no in-place ops) when grad is enabled.
        """
        import torch

        first = next(v for v in inputs.values() if torch.is_tensor(v))
        if rows is not None:
            inputs = {k: v[rows] if torch.is_tensor(v) else v for k, v in inputs.items()}
        width = max(len(s) for s in seqs)
        tgt = torch.zeros((len(seqs), width), dtype=torch.long, device=first.device)  # (N, T)
        for r, s in zip(tgt, seqs):
            r[:len(s)] = torch.as_tensor(s)
        dec_in = torch.cat([torch.full_like(tgt[:, :1], self.vocab.bos_id), tgt[:, :-1]], 1)
        out = (model or self.model)(decoder_input_ids=dec_in, **inputs)
        logits = out.logits.float()                                          # (N, T, V)
        suppressed = self.model.generation_config.suppress_tokens or []
        if suppressed:  # the distribution decoding samples from
            logits = logits.index_fill(-1, torch.as_tensor(suppressed, device=first.device),
                                       -math.inf)
        lp = logits.log_softmax(-1).gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
        return lp.masked_fill(tgt.eq(0), 0.0), out


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
    """The JSON object of one input line (``format_result``'s ``--json`` form; core/explain.py
    adds its fields to it)."""
    row: dict[str, Any] = {"translation": hyps[0].text}
    if scores:
        row["score"] = hyps[0].score
    if len(hyps) > 1 or scores:
        row["n_best"] = [{"text": h.text, "score": h.score, "tokens": h.tokens} for h in hyps]
    return row


def text_chunks(lines: Iterable[str | bytes], chunk_lines: int = 256, wait: float = 0.05
                ) -> Iterator[tuple[int, list[str]]]:
    """``(number of the chunk's first line, its lines as text)`` for ``Translator.stream`` and
    explain's stream: bytes decoded (U+FFFD with a warning), newlines stripped."""
    lineno = 1
    for chunk in _chunks(lines, chunk_lines, wait):
        yield lineno, [_to_text(line, lineno + k) for k, line in enumerate(chunk)]
        lineno += len(chunk)


class AtomicOutput:
    """Write to ``path`` atomically, or to stdout (``path`` None). ``core.outputs.AtomicFile``:
    checked (parents created) when constructed, so make it before loading the model; OS
    failures are one-line OutputErrors naming the path."""

    def __init__(self, path: Path | None):
        from bertune_cli.core.outputs import AtomicFile

        self.path = Path(path) if path else None
        self._file = AtomicFile(self.path, "output") if self.path else None

    def __enter__(self):
        import sys

        return sys.stdout if self._file is None else self._file.__enter__()

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.__exit__(*exc)


_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(line: str, lineno: int, warn: bool = True) -> str:
    """``line`` with unpaired surrogates (U+D800-U+DFFF, which no UTF-8 text can hold but a
    Python string, e.g. from JSON's ``"\\ud800"``, can) replaced by U+FFFD, as undecodable
    bytes are, with a warning."""
    if not _SURROGATE.search(line):
        return line
    if warn:
        log.warning("line %d holds unpaired surrogates; replaced by U+FFFD", lineno)
    return _SURROGATE.sub("\ufffd", line)


def _to_text(line: str | bytes, lineno: int) -> str:
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            log.warning("line %d is not valid UTF-8; undecodable bytes replaced by U+FFFD",
                        lineno)
            line = line.decode("utf-8", errors="replace")
    return line.rstrip("\r\n")


def _chunks(lines: Iterable[Any], size: int, wait: float) -> Iterator[list[Any]]:
    """Group ``lines`` into chunks; a chunk closes when full or when input pauses."""
    q: queue.Queue = queue.Queue(maxsize=4 * size)

    def reader() -> None:
        try:
            for line in lines:
                q.put(line)
        except BaseException as exc:  # re-raised in the consumer, never lost on the thread
            q.put(exc)
        q.put(_END)

    threading.Thread(target=reader, daemon=True, name="bertune-reader").start()
    while True:
        item = q.get()
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise item
        chunk = [item]
        while len(chunk) < size:
            try:
                item = q.get(timeout=wait)
            except queue.Empty:
                break
            if item is _END or isinstance(item, BaseException):
                yield chunk
                if item is _END:
                    return
                raise item
            chunk.append(item)
        yield chunk
