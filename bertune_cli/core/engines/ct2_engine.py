"""The ct2 engine: beam search with CTranslate2 on a folder written by ``bertune export``.

A run or checkpoint folder is exported on the fly (float32) into a cache under
``$BERTUNE_HOME/ct2/`` keyed by the checkpoint's content, so the second call loads directly.

CTranslate2 speaks token strings: source model ids go in as the source tokenizer's BPE pieces
(the export's source vocabulary is that tokenizer's vocabulary in id order) and the output
pieces come back as target model ids through the export's target vocabulary (the LM's
WordPieces in model-id order), so detokenization is exactly the torch engine's.
Options map one to one: ``beam_size``, ``length_penalty`` (CTranslate2 normalises by
``length**lenpen`` with [SEP] counted, as transformers does), ``num_hypotheses``,
``max_decoding_length`` (= transformers' ``max_new_tokens``: [SEP] counts),
``min_decoding_length=0`` (an immediate [SEP] is allowed, as in ``generate``),
``return_end_token`` (to return [SEP] like the torch engine), ``suppress_sequences`` (the
checkpoint's suppressed tokens, removed before the softmax as by ``suppress_tokens``), and
``patience=1`` (stop when ``beam`` hypotheses are finished, HF's ``early_stopping=True``).
CTranslate2's returned score is ``logprob / length**lenpen``; multiplying back gives the
sentence log-probability the torch engine reports (equal to ~1e-5 on the same weights).
Each bertune batch goes to ``translate_batch`` as is (``max_batch_size=0``): CTranslate2 does
not re-sort or re-split it. ``translate_batch`` takes one ``max_decoding_length`` per call,
while bertune caps every source by its own length: ``capped_search`` decodes the batch up to
the largest cap and decodes again, under its own cap, any source whose search reached its cap
(rare: only outputs that run away), so a source's output never depends on its batch.
"""

from __future__ import annotations

import os
from pathlib import Path


def cpu_cores() -> int:
    """Cores this process may run on (CTranslate2's ``intra_threads``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class CT2Engine:
    """Beam search with ``ctranslate2.Translator`` (see ``bertune_cli.core.engines``)."""

    name = "ct2"
    model = None  # no torch model: explain / attention need the torch engine

    def __init__(self, folder: Path, meta: dict, vocab, device: str = "cpu", threads: int = 0):
        from bertune_cli.core.engines.export import require_ctranslate2

        ct2 = require_ctranslate2()
        export = meta["export"]
        kind, _, index = device.partition(":")
        self.folder, self.vocab, self.device = Path(folder), vocab, device
        self.threads = threads or cpu_cores()
        try:
            self.translator = ct2.Translator(
                str(folder),
                device=kind,
                device_index=int(index or 0),
                intra_threads=self.threads if kind == "cpu" else 0,
            )
        except (RuntimeError, ValueError) as exc:
            from bertune_cli.core.errors import CheckpointError

            raise CheckpointError(
                f"CTranslate2 cannot load {folder} on {device}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                "re-export the checkpoint, or use --device cpu",
            ) from exc
        self.quantization = export["quantization"]
        self.max_positions = int(export["max_positions"])
        self.suppress = [[t] for t in export["suppress_tokens"]]
        self.source_pieces = _read_vocabulary(folder, "source")
        self.target_ids = {t: i for i, t in enumerate(_read_vocabulary(folder, "target"))}
        if len(self.target_ids) != len(vocab):
            from bertune_cli.core.errors import CheckpointError

            raise CheckpointError(
                f"{folder}: the CTranslate2 target vocabulary has "
                f"{len(self.target_ids)} tokens but bertune.json {len(vocab)}",
                "re-export the checkpoint with `bertune export`",
            )

    @classmethod
    def load(cls, path: Path, device: str, threads: int = 0):
        from bertune_cli.core.engines.export import cached_export, is_export, read_export

        folder = Path(path) if is_export(path) else cached_export(path)
        meta, vocab, source = read_export(folder)
        return cls(folder, meta, vocab, device, threads), meta, vocab, source

    def signature(self) -> str:
        import ctranslate2

        return (
            f"engine:ct2|quant:{self.quantization}|ctranslate2:{ctranslate2.__version__}"
            f"|threads:{self.threads}"
        )

    def pieces(self, srcs: list[list[int]]) -> list[list[str]]:
        """Source model ids -> the token strings CTranslate2 reads."""
        table = self.source_pieces
        return [[table[i] for i in s] for s in srcs]

    def generate(
        self,
        srcs: list[list[int]],
        *,
        beam: int,
        lenpen: float,
        max_new: list[int],
        n_best: int,
        scores: bool,
    ) -> list[tuple[list[int], float | None]]:
        """Per-source length caps on top of ``translate_batch``, which has one
        ``max_decoding_length`` per call (see ``capped_search``)."""
        results = capped_search(
            self._search,
            self.pieces(srcs),
            list(max_new),
            beam=beam,
            lenpen=lenpen,
            n_best=n_best,
            scores=scores,
        )
        out: list[tuple[list[int], float | None]] = []
        ids_of = self.target_ids
        for result in results:
            for k in range(n_best):
                k = min(k, len(result.hypotheses) - 1)  # never fewer than n_best rows
                ids = [ids_of[t] for t in result.hypotheses[k]]
                # CTranslate2 returns logprob / length**lenpen; the contract is the logprob.
                score = result.scores[k] * max(len(ids), 1) ** lenpen if scores else None
                out.append((ids, score))
        return out

    def _search(
        self,
        pieces: list[list[str]],
        *,
        cap: int,
        hypotheses: int,
        beam: int,
        lenpen: float,
        scores: bool,
    ) -> list:
        return self.translator.translate_batch(
            pieces,
            max_batch_size=0,
            beam_size=beam,
            patience=1,
            num_hypotheses=hypotheses,
            length_penalty=lenpen,
            max_decoding_length=cap,
            min_decoding_length=0,
            return_end_token=True,
            suppress_sequences=self.suppress,
            return_scores=scores,
            max_input_length=0,
        )


def capped_search(
    search,
    pieces: list[list[str]],
    caps: list[int],
    *,
    beam: int,
    lenpen: float,
    n_best: int,
    scores: bool,
) -> list:
    """Source i decoded exactly as alone with ``max_decoding_length = caps[i]``.

    One ``search`` call decodes the whole batch up to the largest cap. CTranslate2's beam search
    is per source: source i stops at the step s where ``beam`` hypotheses are finished
    (``patience=1``), or at its last step, where every live beam is kept unfinished. A search
    that stopped at s with ``s + 1 < caps[i]`` never saw its own last step, so it is exactly
    the search with ``caps[i]``; otherwise source i is decoded again, with the sources of the
    same cap, under its own cap. Whether s + 1 < caps[i] is read from the output: asked for
    ``beam`` hypotheses, CTranslate2 returns the best ``beam`` of the finished ones, of which
    at most ``beam - 1`` finished before step s, so the longest returned one finished at s
    and has s + 1 tokens ([SEP] included, ``return_end_token``). Greedy search returns its one
    hypothesis, ending at s. With ``length_penalty == 0`` CTranslate2 stops on other grounds
    (the best beam finished and ``num_hypotheses`` found), so every source whose cap is not
    the largest is decoded under its own cap."""
    from itertools import groupby

    top = max(caps)
    readable = beam == 1 or lenpen != 0
    wanted = max(n_best, beam) if beam > 1 and readable else n_best
    results = list(
        search(pieces, cap=top, hypotheses=wanted, beam=beam, lenpen=lenpen, scores=scores)
    )

    def own_search(i: int) -> bool:
        return caps[i] == top or (readable and max(len(h) for h in results[i].hypotheses) < caps[i])

    again = sorted((i for i in range(len(pieces)) if not own_search(i)), key=caps.__getitem__)
    for cap, group in groupby(again, key=caps.__getitem__):
        rows = list(group)
        redone = search(
            [pieces[i] for i in rows],
            cap=cap,
            hypotheses=n_best,
            beam=beam,
            lenpen=lenpen,
            scores=scores,
        )
        for i, result in zip(rows, redone):
            results[i] = result
    return results


def _read_vocabulary(folder: Path, side: str) -> list[str]:
    """The export's ``<side>_vocabulary.json``: token strings in model-id order."""
    import json

    return json.loads((Path(folder) / f"{side}_vocabulary.json").read_text(encoding="utf-8"))
