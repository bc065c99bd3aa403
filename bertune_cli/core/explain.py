"""Explanations of translations: confidence, MC-dropout uncertainty, cross-attention, attribution.

``explain(translator, lines, ...)`` translates ``lines`` with ``Translator.translate`` (same beam
search, options and text) and adds, per line, the fields asked for. Each dict is the JSON object
``bertune translate --json`` writes with the same flags, and what ``bertune serve``'s /explain
returns. Every field explains the *chosen* hypothesis y (the best beam output), teacher-forced
through the model (``Translator.teacher_forced``, the distribution beam search used: suppressed
ids at -inf):

- confidence: p(y_t | y_<t, x) for every output WordPiece ([SEP] included), grouped into the
  words of the detokenized output (character alignment, so Moses' re-attached punctuation and
  ``##`` merges land on the right word).
- mc_dropout (Gal & Ghahramani 2016): N teacher-forced passes of y and N beam searches with
  dropout on; seeded per line from (seed, line text), so a line's numbers do not depend on its
  position, the batching or the chunking of a stream.
- attention: cross-attention of one decoder layer (default: the last), heads averaged, output
  WordPieces x source BPE tokens; each row sums to 1.
- attribution: Integrated Gradients (captum) over the encoder input embeddings, one run per
  output token (target: that token's log-probability), summed over the embedding dimension
  and over the BPE pieces of each source word.

Cost: nothing unless asked (captum/matplotlib are imported only for attribution/attention PNGs;
the plain ``translate`` path never imports this module). Concurrency: the caller's model is
never switched out of eval mode or to another attention implementation. MC dropout and attention
run on a *twin* — a deep copy with eager attention (SDPA returns no attention weights), built on
first use, one per model, costing one more copy of the weights — under a lock, so a server can
keep translating on other threads; IG runs on the model itself without hooks.
"""
from __future__ import annotations

import copy
import dataclasses
import inspect
import logging
import threading
import weakref
import zlib
from collections import Counter
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from bertune_cli.core.errors import UsageError
from bertune_cli.core.translate import (Hypothesis, Translator, format_result, result_row,
                                        text_chunks)

log = logging.getLogger("bertune.explain")
VERSION = 1
MARK = "\u2581"  # the source BPE's word-start marker (core/data/source.py)
_twins: "weakref.WeakKeyDictionary[Any, tuple[Translator, threading.Lock]]" = \
    weakref.WeakKeyDictionary()
_twins_lock = threading.Lock()


def explain(translator: Translator, lines: list[str], *, confidence: bool = True,
            mc_dropout: int = 0, attention: bool = False, attention_layer: int = -1,
            attribution: bool = False, seed: int = 0, attention_matrix: bool = True,
            attention_dir: str | Path | None = None, attribution_steps: int = 50,
            first_line: int = 1, **decode_options) -> list[dict]:
    """Translate ``lines`` and explain each translation; dict i belongs to line i.

    Options: ``decode_options`` as ``Translator.translate`` (beam, lenpen, n_best,
    return_scores, ...; unset ones from the checkpoint recipe); ``mc_dropout`` N >= 0 passes;
    ``attention_layer`` a decoder layer (negative counts from the end); ``attention_matrix``
    puts the matrix into the dict; ``attention_dir`` writes ``line-000001.png``... there
    (numbered from ``first_line``; none for empty lines); ``attribution_steps`` IG steps.

    Schema (keys present only when asked; floats are plain floats, None where undefined,
    e.g. for an empty line)::

        translation, [score, n_best]          # exactly translate --json's fields
        confidence: {tokens: [{piece, prob, logprob, word}],   # word: index into words / None
                     words: [{text, prob, min_prob, tokens}],  # prob = product over its pieces
                     mean_prob, min_prob, logprob, logprob_per_token, tokens_count}
        mc_dropout: {passes, seed, line_seed, logprob_mean, logprob_var, bleu_mean,
                     exact_match, outputs: [N texts], dropout: {rates}, bleu_signature}
        attention:  {layer, layers, heads, source: [S pieces], target: [T pieces],
                     alignment: [T argmax source index], [matrix: T x S], [png],
                     [missing_glyphs]}
        attribution: {method, steps, baseline, source_words: [W], target: [T pieces],
                      matrix: T x W, delta: [T]}  # delta: captum's completeness error
        explain_signature: "explain:1|..."
    """
    attention = bool(attention or attention_dir)
    _check(translator, mc_dropout, attention_layer, attribution_steps)
    _require(attribution, attention_dir)
    opts = translator.options(**decode_options)
    scores = bool(opts.pop("return_scores", False))
    results = translator.translate(lines, return_scores=True, first_line=first_line, **opts)
    srcs = translator._encode(lines, first_line, warn=False)  # translate warned already
    best = [r[0] for r in results]
    rows = [result_row(r if scores else [_unscored(h) for h in r], scores) for r in results]
    todo = {i for i, s in enumerate(srcs) if s is not None and best[i].ids}
    dec = _decoding(translator, opts)
    layer = _layer(translator, attention_layer)
    if confidence:
        for i, conf in enumerate(_confidence(translator, srcs, best, sorted(todo))):
            rows[i]["confidence"] = conf
    if mc_dropout:
        twin, lock = _twin(translator)
        for i in range(len(lines)):
            rows[i]["mc_dropout"] = _mc_dropout(twin, lock, lines[i], srcs[i], best[i],
                                                mc_dropout, seed, dec) if i in todo else \
                _mc_empty(mc_dropout, seed, twin)
    if attention:
        for i, att in enumerate(_attention(translator, srcs, best, sorted(todo), layer)):
            if attention_dir and i in todo:
                _plot(att, Path(attention_dir) / f"line-{first_line + i:06d}.png", lines[i],
                      best[i].text)
            if not attention_matrix:
                att.pop("matrix")
            rows[i]["attention"] = att
    if attribution:
        for i in range(len(lines)):
            rows[i]["attribution"] = _attribution(translator, srcs[i], best[i].ids,
                                                  attribution_steps) if i in todo else \
                _attr_empty(attribution_steps)
    if confidence or mc_dropout or attention or attribution:
        sig = _signature(dec, mc_dropout, seed, layer if attention else None,
                         attribution_steps if attribution else None)
        for row in rows:
            row["explain_signature"] = sig
    return rows


def explain_stream(translator: Translator, lines: Iterable[str | bytes], chunk_lines: int = 64,
                   wait: float = 0.05, **options) -> Iterator[dict]:
    """``explain`` over an iterable of lines, lazily and in order (as ``Translator.stream``)."""
    for lineno, texts in text_chunks(lines, chunk_lines, wait):
        yield from explain(translator, texts, first_line=lineno, **options)


def format_explained(row: dict, scores: bool = False, as_json: bool = False) -> str:
    """One explained line as output text: its JSON object, or exactly the plain line(s)
    ``format_result`` writes for the same translation."""
    import json

    if as_json:
        return json.dumps(row, ensure_ascii=False) + "\n"
    result = ([Hypothesis(h["text"], h["score"], h["tokens"]) for h in row["n_best"]]
              if "n_best" in row else row["translation"])
    return format_result(result, scores, False)


# ---------------------------------------------------------------------- confidence
def _confidence(tr: Translator, srcs, best, todo) -> list[dict]:
    """Per-token probabilities of the chosen hypotheses (one batched teacher-forced pass)."""
    import torch

    out = [{"tokens": [], "words": [], "mean_prob": None, "min_prob": None, "logprob": 0.0,
            "logprob_per_token": None, "tokens_count": 0} for _ in srcs]
    if not todo:
        return out
    ids, mask = _pad([srcs[i] for i in todo], tr.device)
    with torch.inference_mode():
        lp, _ = tr.teacher_forced([best[i].ids for i in todo], None, input_ids=ids,
                                  attention_mask=mask, use_cache=False)        # (N, T)
    for row, i in zip(lp.double().cpu().numpy(), todo):
        hyp_ids = best[i].ids
        tlp = row[:len(hyp_ids)]
        pieces, text_pieces = _pieces(tr, hyp_ids)
        words, owner = words_of(text_pieces, best[i].text, _prefix(tr))
        probs = np.exp(tlp)
        tokens = [{"piece": p, "prob": float(q), "logprob": float(l), "word": w}
                  for p, q, l, w in zip(pieces, probs, tlp, owner)]
        members = [[t for t, w in enumerate(owner) if w == k] for k in range(len(words))]
        out[i] = {
            "tokens": tokens,
            "words": [{"text": text, "prob": float(np.prod(probs[m])) if m else None,
                       "min_prob": float(probs[m].min()) if m else None, "tokens": m}
                      for text, m in zip(words, members)],
            "mean_prob": float(probs.mean()), "min_prob": float(probs.min()),
            "logprob": float(tlp.sum()), "logprob_per_token": float(tlp.mean()),
            "tokens_count": len(hyp_ids)}
    return out


def words_of(pieces: list[str | None], text: str, prefix: str = "##"
             ) -> tuple[list[str], list[int | None]]:
    """The words of the detokenized ``text`` (whitespace-split) and, for every output piece,
    the index of the word its characters landed in (None for specials, given as None).

    Detokenization only moves spaces (WordPiece joins ``##`` pieces, the joins of
    core/data/target.py and Moses attach punctuation), so the pieces' characters and the
    text's non-space characters are aligned with difflib; a piece belongs to the word that
    holds most of its characters.
    """
    import difflib

    chars: list[str] = []
    owner: list[int] = []
    for i, piece in enumerate(pieces):
        if piece is None:
            continue
        piece = piece[len(prefix):] if prefix and piece.startswith(prefix) else piece
        chars.extend(piece)
        owner.extend([i] * len(piece))
    words = text.split()
    where = [k for k, w in enumerate(words) for _ in w]
    matcher = difflib.SequenceMatcher(None, "".join(chars), "".join(words), autojunk=False)
    votes: list[Counter] = [Counter() for _ in pieces]
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            votes[owner[a + k]][where[b + k]] += 1
    return words, [v.most_common(1)[0][0] if v else None for v in votes]


# ---------------------------------------------------------------------- MC dropout
def _mc_dropout(twin: Translator, lock, line: str, src: list[int], hyp, n: int, seed: int,
                dec: dict) -> dict:
    """N dropout masks: the chosen hypothesis' log-probability under each (teacher forcing)
    and N beam searches; both seeded by (seed, line)."""
    import torch

    line_seed = (seed * 1_000_003 + zlib.crc32(line.encode("utf-8"))) % 2 ** 63
    ids, mask = _pad([src], twin.device)
    with lock, _seeded(line_seed, twin.device), torch.inference_mode():
        twin.model.train()  # dropout on; no grads (inference_mode)
        try:
            lp, _ = twin.teacher_forced([hyp.ids] * n, torch.zeros(n, dtype=torch.long,
                                                                   device=ids.device),
                                        input_ids=ids, attention_mask=mask, use_cache=False)
            sums = lp.double().sum(-1).cpu().numpy()                               # (N,)
            hyps = twin._generate([src] * n, dec["beam"], dec["lenpen"], dec["max_len_a"],
                                  dec["max_len_b"], 1, False)
        finally:
            twin.model.eval()
    outputs = [h[0].text for h in hyps]
    bleu, signature = _bleu()
    return {"passes": n, "seed": seed, "line_seed": line_seed,
            "logprob_mean": float(sums.mean()), "logprob_var": float(sums.var()),
            "bleu_mean": mean_sentence_bleu(bleu, outputs, hyp.text),
            "exact_match": float(np.mean([o == hyp.text for o in outputs])),
            "outputs": outputs, "dropout": _rates(twin.model), "bleu_signature": signature}


def _mc_empty(n: int, seed: int, twin: Translator) -> dict:
    return {"passes": n, "seed": seed, "line_seed": None, "logprob_mean": None,
            "logprob_var": None, "bleu_mean": None, "exact_match": None, "outputs": [],
            "dropout": _rates(twin.model),
            "bleu_signature": _bleu()[1]}


def mean_sentence_bleu(bleu, outputs: list[str], ref: str) -> float:
    """Mean sentence BLEU of ``outputs`` against ``ref``, rounded to 6 decimals like the other
    explanation numbers (sacrebleu's exp-of-mean-log gives 100.00000000000004 for a match)."""
    return round(float(np.mean([bleu.sentence_score(o, [ref]).score for o in outputs])), 6)


@lru_cache(maxsize=1)
def _bleu():
    """Sentence BLEU against the main output (one reference) and its sacrebleu signature."""
    from sacrebleu.metrics import BLEU

    bleu = BLEU(effective_order=True)
    bleu.sentence_score("a", ["a"])  # sacrebleu knows the number of references only after one
    return bleu, str(bleu.get_signature())


def _rates(model) -> dict:
    c = model.config
    rates = {k: float(getattr(c, k, 0.0) or 0.0)
             for k in ("dropout", "attention_dropout", "activation_dropout")}
    if not any(rates.values()):
        log.warning("the model has no dropout (all rates 0): MC-dropout passes equal the main one")
    return rates


@contextmanager
def _seeded(seed: int, device):
    """Seed the RNG of ``device`` (and the CPU's) for the block, restoring them afterwards."""
    import torch

    dev = torch.device(device)
    index = (dev.index if dev.index is not None else torch.cuda.current_device()) \
        if dev.type == "cuda" else None
    with torch.random.fork_rng(devices=[] if index is None else [index]):
        torch.default_generator.manual_seed(seed)
        if index is not None:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        yield


# ---------------------------------------------------------------------- attention
def _attention(tr: Translator, srcs, best, todo, layer: int) -> list[dict]:
    """Cross-attention of decoder ``layer``, heads averaged: (T, S) per line."""
    import torch

    config = tr.model.config
    out = [{"layer": layer, "layers": int(config.decoder_layers),
            "heads": int(config.decoder_attention_heads), "source": [], "target": [],
            "alignment": [], "matrix": []} for _ in srcs]
    if not todo:
        return out
    twin, lock = _twin(tr)
    ids, mask = _pad([srcs[i] for i in todo], tr.device)
    with lock, torch.inference_mode():
        _, res = twin.teacher_forced([best[i].ids for i in todo], None, input_ids=ids,
                                     attention_mask=mask, output_attentions=True,
                                     use_cache=False)
        att = res.cross_attentions[layer].float().mean(1).cpu().numpy()         # (N, T, S)
    for a, i in zip(att, todo):
        m = a[:len(best[i].ids), :len(srcs[i])]
        out[i].update(source=_source_pieces(tr, srcs[i]), target=_pieces(tr, best[i].ids)[0],
                      alignment=m.argmax(1).tolist(),
                      matrix=[[round(float(x), 6) for x in r] for r in m])
    return out


def _plot(att: dict, path: Path, source: str, translation: str) -> None:
    from bertune_cli.core.explain_plot import save_attention

    png, missing = save_attention(att, path, source, translation)
    att["png"] = str(png)
    if missing:
        att["missing_glyphs"] = missing


def _twin(tr: Translator) -> tuple[Translator, threading.Lock]:
    """The model's eager-attention twin (built once per model; see the module docstring)."""
    with _twins_lock:
        if tr.model not in _twins:
            model = copy.deepcopy(tr.model)
            model.set_attn_implementation("eager")  # SDPA returns no attention weights
            model.requires_grad_(False)
            twin = Translator(model, tr.vocab, tr.source, tr.codec, tr.device,
                              tr.max_source_len)
            _twins[tr.model] = (twin, threading.Lock())
        return _twins[tr.model]


# ---------------------------------------------------------------------- attribution
def _attribution(tr: Translator, src: list[int], hyp_ids: list[int], steps: int) -> dict:
    """Integrated Gradients (captum) from a baseline of zero embeddings (``</s>`` kept) to
    the source embeddings, one run per output token t with target log p(y_t | y_<t, x).
    Returns T x W attributions per source word and captum's convergence delta per token."""
    import torch
    from captum.attr import IntegratedGradients

    encoder = tr.model.get_encoder()
    eos = tr.source.eos_id
    ids, mask = _pad([src], tr.device)
    with torch.inference_mode(False), torch.enable_grad():
        emb = encoder.embed_tokens(ids).detach()                                 # (1, S, d)
        base = emb * ids.eq(eos).unsqueeze(-1)

        def logprobs(e):                                            # (n, S, d) -> (n, T)
            n = e.shape[0]
            lp, _ = tr.teacher_forced([hyp_ids] * n, None, inputs_embeds=e * encoder.embed_scale,
                                      attention_mask=mask.expand(n, -1), use_cache=False)
            return lp

        ig = IntegratedGradients(logprobs)
        per_token, deltas = [], []
        for t in range(len(hyp_ids)):
            attr, delta = ig.attribute(emb, baselines=base, target=t, n_steps=steps,
                                       return_convergence_delta=True)
            per_token.append(attr.sum(-1)[0].detach().double().cpu().numpy())   # (S,)
            deltas.append(float(delta.reshape(-1)[0]))
    words, groups = _source_words(tr, src)
    return {"method": "integrated_gradients", "steps": steps,
            "baseline": "zero embeddings, </s> kept", "source_words": words,
            "target": _pieces(tr, hyp_ids)[0],
            "matrix": [[round(float(r[g].sum()), 6) for g in groups] for r in per_token],
            "delta": deltas}


def _attr_empty(steps: int) -> dict:
    return {"method": "integrated_gradients", "steps": steps,
            "baseline": "zero embeddings, </s> kept", "source_words": [], "target": [],
            "matrix": [], "delta": []}


def _source_words(tr: Translator, src: list[int]) -> tuple[list[str], list[list[int]]]:
    """Moses words of the source (BPE pieces merged at the ``▁`` marks; ``</s>`` left out)
    and the piece positions of each."""
    words: list[str] = []
    groups: list[list[int]] = []
    for k, piece in enumerate(_source_pieces(tr, src)):
        if src[k] == tr.source.eos_id:
            continue
        if piece.startswith(MARK) or not words:
            words.append(piece.lstrip(MARK))
            groups.append([k])
        else:
            words[-1] += piece
            groups[-1].append(k)
    return words, groups


# ---------------------------------------------------------------------- shared
def _check(tr: Translator, mc: int, layer: int, steps: int) -> None:
    import torch

    if not isinstance(getattr(tr, "model", None), torch.nn.Module):
        raise UsageError("explanations need the PyTorch model",
                         "translate with the default engine (--engine torch)")
    if mc < 0:
        raise UsageError(f"--mc-dropout {mc} is negative", "give a number of passes >= 0")
    if steps < 1:
        raise UsageError(f"attribution steps {steps} < 1", "use e.g. 50 (captum's default)")
    _layer(tr, layer)


def _require(attribution: bool, plots: Any) -> None:
    """The optional extra ``explain`` (captum, matplotlib), checked before any work."""
    from bertune_cli.core.extras import require_all

    for needed, module, option in ((attribution, "captum", "--attribution"),
                                   (plots, "matplotlib", "--attention")):
        if needed:
            require_all([module], option, extra="explain")


def _layer(tr: Translator, layer: int) -> int:
    n = int(tr.model.config.decoder_layers)
    if not -n <= layer < n:
        raise UsageError(f"--attention-layer {layer} is out of range: the decoder has {n} "
                         "layers", f"use 0..{n - 1}, or -1 for the last")
    return layer % n


def _decoding(tr: Translator, opts: dict) -> dict:
    """The decoding options translate used (its own defaults for the ones not given)."""
    params = inspect.signature(tr.translate).parameters
    return {k: opts.get(k, params[k].default)
            for k in ("beam", "lenpen", "max_len_a", "max_len_b")}


def _signature(dec: dict, mc: int, seed: int, layer: int | None, steps: int | None) -> str:
    import torch
    import transformers

    parts = [f"explain:{VERSION}", f"beam:{dec['beam']}", f"lenpen:{dec['lenpen']}",
             f"maxlen:{dec['max_len_a']}x+{dec['max_len_b']}"]
    if mc:
        parts += [f"mc:{mc}", f"seed:{seed}"]
    if layer is not None:
        parts.append(f"attn_layer:{layer}")
    if steps is not None:
        import captum

        parts.append(f"ig:captum-{captum.__version__}-gausslegendre-{steps}")
    parts += [f"torch:{torch.__version__}", f"transformers:{transformers.__version__}"]
    return "|".join(parts)


def _pad(srcs: list[list[int]], device):
    """Source ids (B, S) padded with 0 and their mask."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    ids = pad_sequence([torch.as_tensor(s) for s in srcs], batch_first=True).to(device)
    return ids, ids.ne(0).long()


def _pieces(tr: Translator, hyp_ids: list[int]) -> tuple[list[str], list[str | None]]:
    """Output WordPieces (for display) and the same with specials as None (for text)."""
    lm = tr.vocab.to_lm(np.asarray(hyp_ids, dtype=np.int64)).tolist()
    shown = tr.codec.tokenizer.convert_ids_to_tokens(lm)
    return shown, [None if i in tr.codec.special_ids else p for i, p in zip(lm, shown)]


def _source_pieces(tr: Translator, src: list[int]) -> list[str]:
    return [tr.source.tokenizer.id_to_token(int(i)) for i in src]


def _prefix(tr: Translator) -> str:
    model = tr.codec.tokenizer.backend_tokenizer.model
    return getattr(model, "continuing_subword_prefix", None) or "##"


def _unscored(h):
    """A hypothesis as translate reports it without --scores."""
    return dataclasses.replace(h, score=None)
