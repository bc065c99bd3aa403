"""The decoding driver: text in, text out, through the same path as training and validation.

``Translator`` holds a model, its target vocabulary, the source tokenizer and the target codec.
``translate`` applies the training-time source preprocessing (SourceEncoder.encode: Moses
tokenization, lowercasing, BPE, </s>), sorts the sentences by length and cuts them into batches
of at most ``batch_tokens`` padded source tokens, runs beam search with ``model.generate``
(``num_beams``, ``length_penalty``, ``max_new_tokens = a·(longest source in the batch) + b`` as
fairseq's ``--max-len-a/--max-len-b``), maps model ids -> LM ids -> text (TargetCodec.decode:
WordPiece decode + Moses detokenization) and returns the outputs in input order. Validation
during training calls exactly this, so validation BLEU equals what ``bertune score`` reports on
``bertune translate`` output.

Bad input never stops a stream: empty lines give empty outputs; bytes that are not UTF-8 are
replaced (U+FFFD) with a warning; sources longer than ``max_source_len`` tokens are truncated
(keeping </s>) with a warning. Warnings go through ``logging`` (logger ``bertune.translate``).
"""
from __future__ import annotations

import logging
import math
import queue
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
                 max_source_len: int | None = None):
        import torch

        torch.set_flush_denormal(True)  # denormals make CPU matmuls 100x slower
        self.model = model.to(device).eval()
        self.vocab, self.source, self.codec, self.device = vocab, source, codec, device
        limit = int(model.config.max_position_embeddings) - 1
        self.max_source_len = min(max_source_len or limit, limit)
        self.max_target_len = limit
        self.defaults: dict[str, Any] = {}

    @classmethod
    def load(cls, path: Path, device: str = "cpu", lm_name: str | None = None) -> "Translator":
        """From a checkpoint folder or a run folder (-> its checkpoint_best)."""
        from bertune_cli.core.data.target import TargetCodec
        from bertune_cli.core.model.checkpoint import load_checkpoint

        from bertune_cli.core.lm import resolve_device

        device = resolve_device(device)
        loaded = load_checkpoint(path, device)
        config = loaded.meta.get("config", {})
        codec = TargetCodec.from_lm(lm_name or loaded.meta["lm"]["name"], config.get("tgt", "en"))
        translator = cls(loaded.model, loaded.vocab, loaded.source, codec, device)
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
        lineno = 1
        for chunk in _chunks(lines, chunk_lines, wait):
            texts = [_to_text(line, lineno + k) for k, line in enumerate(chunk)]
            yield from self.translate(texts, first_line=lineno, **options)
            lineno += len(chunk)

    # ------------------------------------------------------------------ internals
    def _encode(self, lines: list[str], first_line: int) -> list[list[int] | None]:
        """Source ids per line (None for empty lines), truncated to ``max_source_len``."""
        keep = [i for i, line in enumerate(lines) if line.strip()]
        encoded = self.source.encode([lines[i] for i in keep]) if keep else []
        out: list[list[int] | None] = [None] * len(lines)
        for i, ids in zip(keep, encoded):
            ids = list(ids)
            if len(ids) > self.max_source_len:
                log.warning("line %d has %d source tokens; truncated to %d", first_line + i,
                            len(ids), self.max_source_len)
                ids = ids[:self.max_source_len - 1] + [ids[-1]]
            out[i] = ids
        return out

    def _generate(self, srcs: list[list[int]], beam: int, lenpen: float, a: float, b: int,
                  n_best: int, scores: bool) -> list[list[Hypothesis]]:
        import torch

        longest = max(len(s) for s in srcs)
        ids = torch.zeros((len(srcs), longest), dtype=torch.long)       # (B, S), pad = 0
        for row, s in zip(ids, srcs):
            row[:len(s)] = torch.as_tensor(s)
        ids = ids.to(self.device)
        mask = ids.ne(0).long()
        max_new = max(1, min(int(math.floor(a * longest + b)), self.max_target_len))
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=ids, attention_mask=mask, num_beams=beam, length_penalty=lenpen,
                num_return_sequences=n_best, max_new_tokens=max_new, do_sample=False,
                early_stopping=True if beam > 1 else None)                                           # (B·n, 1 + L)
            seqs = [self._strip(row) for row in out[:, 1:].tolist()]
            logprobs = self._score(ids, mask, seqs, n_best) if scores else [None] * len(seqs)
        texts = self.codec.decode([self.vocab.to_lm(np.asarray(s, dtype=np.int64)).tolist()
                                   for s in seqs])
        hyps = [Hypothesis(t, lp, len(s), s) for t, lp, s in zip(texts, logprobs, seqs)]
        return [hyps[i * n_best:(i + 1) * n_best] for i in range(len(srcs))]

    def _strip(self, row: list[int]) -> list[int]:
        """Generated model ids up to and including the first [SEP]; padding dropped."""
        eos = self.vocab.eos_id
        return row[:row.index(eos) + 1] if eos in row else [t for t in row if t != 0]

    def _score(self, ids, mask, seqs: list[list[int]], n_best: int) -> list[float]:
        """Sentence log-probabilities of ``seqs`` by teacher forcing (exact, unnormalised)."""
        import torch

        rows = torch.arange(len(seqs), device=ids.device) // n_best
        width = max(len(s) for s in seqs)
        tgt = torch.zeros((len(seqs), width), dtype=torch.long, device=ids.device)  # (N, T)
        for r, s in zip(tgt, seqs):
            r[:len(s)] = torch.as_tensor(s)
        dec_in = torch.cat([torch.full_like(tgt[:, :1], self.vocab.bos_id), tgt[:, :-1]], 1)
        logits = self.model(input_ids=ids[rows], attention_mask=mask[rows],
                            decoder_input_ids=dec_in).logits.float()       # (N, T, V)
        suppressed = self.model.generation_config.suppress_tokens or []
        logits[..., suppressed] = -math.inf  # the distribution decoding samples from
        lp = logits.log_softmax(-1).gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
        return lp.masked_fill(tgt.eq(0), 0.0).sum(-1).tolist()


def format_result(result: Any, scores: bool = False, as_json: bool = False) -> str:
    """One input line's result as output text (ends with a newline).

    Plain: the translation; ``--n-best k`` writes k lines (best first); ``--scores`` prefixes
    each with its log-probability and a tab. JSON lines: ``{"translation", "score",
    "n_best": [{"text", "score", "tokens"}]}``.
    """
    import json

    hyps = result if isinstance(result, list) else [Hypothesis(result)]
    if as_json:
        row: dict[str, Any] = {"translation": hyps[0].text}
        if scores:
            row["score"] = hyps[0].score
        if len(hyps) > 1 or scores:
            row["n_best"] = [{"text": h.text, "score": h.score, "tokens": h.tokens} for h in hyps]
        return json.dumps(row, ensure_ascii=False) + "\n"
    if scores:
        return "".join(f"{h.score:.4f}\t{h.text}\n" for h in hyps)
    return "".join(h.text + "\n" for h in hyps)


class AtomicOutput:
    """Write to ``path`` atomically (a temporary file renamed at the end), or to stdout."""

    def __init__(self, path: Path | None):
        self.path = Path(path) if path else None
        self.tmp = self.path.with_name(f".{self.path.name}.tmp") if self.path else None

    def __enter__(self):
        import sys

        if self.path is None:
            return sys.stdout
        self.file = open(self.tmp, "w", encoding="utf-8")
        return self.file

    def __exit__(self, exc_type, *rest) -> None:
        import os

        if self.path is None:
            return
        self.file.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


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
