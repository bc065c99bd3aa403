"""Clipped n-gram match counts for whole corpora at once, with numpy (no per-n-gram Python).

sacrebleu counts n-grams with one ``Counter`` per segment and order; the statistics here are
the same integers (tests compare them with sacrebleu's ``_extract_corpus_statistics`` on
every path), computed by sorting:

* symbols (words or characters) get dense ids from the *references*; a hypothesis symbol
  never seen in a reference gets the id ``U`` (it cannot match);
* the n-gram starting at position i has the id of its (n−1)-gram prefix combined with the
  symbol at i+n−1, looked up among the reference n-grams of order n (``np.unique`` +
  ``searchsorted``); an n-gram absent from every reference cannot match and is dropped;
* counts per (segment, n-gram) come from ``np.unique`` on ``segment · G + id``, and the clipped
  match of a segment is Σ min(hyp count, ref count) — ``bincount`` over segments.

``Corpus`` holds symbol ids and segment offsets; ``RefIndex`` the reference side, built once
and reused for every system scored against the same references.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TABLE_LIMIT = 1 << 22  # key spaces up to this size are looked up in a direct table


@dataclass
class Corpus:
    """Segments as one array of symbol ids. sym: (L,) int64; starts, lengths: (N,) int64."""

    sym: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray

    def __post_init__(self):
        self.seg = np.repeat(np.arange(len(self.lengths)), self.lengths)  # (L,) segment index
        self._room = np.repeat(self.starts + self.lengths, self.lengths) - np.arange(
            len(self.sym)
        )  # (L,) positions left

    def fits(self, n: int) -> np.ndarray:
        """(L,) bool: an n-gram starting here stays inside its segment."""
        return self._room >= n


def char_corpus(lines: list[str], vocab: np.ndarray | None = None) -> tuple[Corpus, np.ndarray]:
    """Characters of ``lines`` (already stripped of whitespace if the metric wants that).

    vocab: sorted code points of the references (None: build it from these lines). Returns
    the corpus (ids; unseen code points → len(vocab)) and the vocabulary.
    """
    lengths = np.fromiter((len(s) for s in lines), np.int64, len(lines))
    cps = np.frombuffer("".join(lines).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    if vocab is None:
        vocab, sym = np.unique(cps, return_inverse=True)
    elif len(vocab) and vocab[-1] < TABLE_LIMIT:  # code point -> id by direct indexing
        table = np.full(int(vocab[-1]) + 2, len(vocab), np.int64)
        table[vocab] = np.arange(len(vocab))
        sym = table[np.minimum(cps, len(table) - 1)]
    else:
        sym = _lookup(vocab, cps)
    return Corpus(sym.astype(np.int64), _starts(lengths), lengths), vocab


def word_corpus(
    segments: list[list[str]], vocab: dict[str, int] | None = None
) -> tuple[Corpus, dict[str, int]]:
    """Words of tokenized segments; ``vocab`` maps reference words to ids (None: build it)."""
    lengths = np.fromiter((len(s) for s in segments), np.int64, len(segments))
    if vocab is None:
        vocab = {}
        sym = [vocab.setdefault(w, len(vocab)) for seg in segments for w in seg]
    else:
        unseen = len(vocab)
        sym = [vocab.get(w, unseen) for seg in segments for w in seg]
    return Corpus(np.array(sym, dtype=np.int64), _starts(lengths), lengths), vocab


class RefIndex:
    """Reference n-gram ids and per-segment counts, orders 1..max_order, for K ref streams.

    ``counts[n][k]``: (sorted composite ``segment·G_n + id``, counts) of stream k.
    """

    def __init__(self, streams: list[Corpus], vocab_size: int, max_order: int):
        self.base = vocab_size + 1  # symbol ids 0..U-1, U = unseen
        self.max_order = max_order
        self.n_seg = len(streams[0].lengths)
        self.ngrams: list[np.ndarray] = []  # sorted unique keys per order
        self.counts: list[list[tuple[np.ndarray, np.ndarray]]] = []
        self._merged: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._tables: list[np.ndarray | None] = []
        prev = [c.sym.copy() for c in streams]  # dense ids of the (n−1)-grams per position
        for n in range(1, max_order + 1):
            keys = [self._keys(c, p, n) for c, p in zip(streams, prev)]
            uniq, inv = np.unique(np.concatenate([k[k >= 0] for k in keys]), return_inverse=True)
            self.ngrams.append(uniq)
            space = self.base * (len(self.ngrams[-2]) if n > 1 else 1)
            if space <= TABLE_LIMIT:  # key -> dense id without sorting
                table = np.full(space, -1, np.int32)
                table[uniq] = np.arange(len(uniq), dtype=np.int32)
                self._tables.append(table)
            else:
                self._tables.append(None)
            dense, used = [], 0
            for k in keys:
                d = np.full(len(k), -1, np.int64)
                ok = k >= 0
                d[ok] = inv[used : used + int(ok.sum())]
                used += int(ok.sum())
                dense.append(d)
            self.counts.append([self._count(c, d, len(uniq)) for c, d in zip(streams, dense)])
            prev = dense

    def _keys(self, corpus: Corpus, prev: np.ndarray, n: int) -> np.ndarray:
        """(L,) key of the n-gram starting at each position, −1 where there is none."""
        if n == 1:
            return np.where(corpus.sym < self.base - 1, corpus.sym, -1)
        nxt = np.full(len(corpus.sym), -1, np.int64)
        nxt[: len(nxt) - n + 1] = corpus.sym[n - 1 :]
        ok = corpus.fits(n) & (prev >= 0) & (nxt >= 0) & (nxt < self.base - 1)
        return np.where(ok, prev * self.base + nxt, -1)

    def _count(self, corpus: Corpus, dense: np.ndarray, g: int):
        comp = corpus.seg[dense >= 0] * max(g, 1) + dense[dense >= 0]
        return np.unique(comp, return_counts=True)

    def matches(self, corpus: Corpus, merged: bool) -> list[list[np.ndarray]]:
        """Clipped matches ``[n-1][k]`` (N,) int64 of each hypothesis segment vs stream k;
        ``merged``: one entry per order, against the max count over the streams (BLEU).

        Only n-grams whose (n−1)-gram prefix occurs in a reference are followed to order n
        (``pos``: their start positions, ``dense``: their ids), so each order looks up fewer.
        """
        unseen = self.base - 1
        pos = np.flatnonzero(corpus.sym < unseen)
        dense = self._find(1, corpus.sym[pos])
        out = []
        for n in range(1, self.max_order + 1):
            if n > 1:
                room = corpus.fits(n)[pos]
                pos, dense = pos[room], dense[room]
                nxt = corpus.sym[pos + n - 1]
                keep = nxt < unseen
                pos, dense = pos[keep], self._find(n, dense[keep] * self.base + nxt[keep])
            found = dense >= 0
            pos, dense = pos[found], dense[found]
            g = max(len(self.ngrams[n - 1]), 1)
            hu, hc = np.unique(corpus.seg[pos] * g + dense, return_counts=True)
            refs = [self.max_counts(n)] if merged else self.counts[n - 1]
            out.append([_clipped(hu, hc, ru, rc, g, self.n_seg) for ru, rc in refs])
        return out

    def _find(self, n: int, keys: np.ndarray) -> np.ndarray:
        """Dense ids (order n) of valid keys, −1 for n-grams in no reference."""
        table = self._tables[n - 1]
        if table is not None:
            return table[keys].astype(np.int64)
        return _lookup(self.ngrams[n - 1], keys, missing=-1)

    def max_counts(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Per (segment, n-gram) the max count over the streams (BLEU's multi-reference rule)."""
        parts = self.counts[n - 1]
        if len(parts) == 1:
            return parts[0]
        if n in self._merged:
            return self._merged[n]
        comp = np.concatenate([p[0] for p in parts])
        cnt = np.concatenate([p[1] for p in parts])
        uniq, inv = np.unique(comp, return_inverse=True)
        best = np.zeros(len(uniq), np.int64)
        np.maximum.at(best, inv, cnt)
        self._merged[n] = (uniq, best)
        return uniq, best


def _clipped(hu, hc, ru, rc, g, n_seg) -> np.ndarray:
    """Σ over n-grams of min(hyp count, ref count), per segment: (n_seg,) int64."""
    if len(ru) == 0 or len(hu) == 0:
        return np.zeros(n_seg, np.int64)
    idx = np.minimum(np.searchsorted(ru, hu), len(ru) - 1)
    found = ru[idx] == hu
    m = np.where(found, np.minimum(hc, rc[idx]), 0)
    return np.bincount(hu // g, weights=m, minlength=n_seg).astype(np.int64)


def _lookup(sorted_keys: np.ndarray, keys: np.ndarray, missing: int | None = None) -> np.ndarray:
    """Index of each key in ``sorted_keys``; ``missing`` (default len(sorted_keys)) if absent."""
    miss = len(sorted_keys) if missing is None else missing
    if len(sorted_keys) == 0 or len(keys) == 0:
        return np.full(len(keys), miss, np.int64)
    order = np.argsort(keys)  # sorted needles: searchsorted stays in cache
    idx = np.empty(len(keys), np.int64)
    idx[order] = np.searchsorted(sorted_keys, keys[order])
    idx = np.minimum(idx, len(sorted_keys) - 1)
    return np.where((sorted_keys[idx] == keys) & (keys >= 0), idx, miss).astype(np.int64)


def _starts(lengths: np.ndarray) -> np.ndarray:
    return (
        np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        if len(lengths)
        else np.zeros(0, np.int64)
    )
