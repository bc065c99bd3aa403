"""The two speed-critical steps of prepare, shared by source.py and target.py.

- ``moses_tokenize_many``: sacremoses has no batch API and is pure Python (≈30 µs a line), so
  large inputs are cut into chunks and tokenized by a pool of forked worker processes (one per
  core, at most 8) on machines with at least 4 cores. Results keep their order; the output
  equals the sequential one exactly.
- ``encode_words``: a sentence's ids are the concatenation of its whitespace-separated words'
  ids whenever the tokenizer's normalizer acts character by character and its pre-tokenizer
  first splits on whitespace (BERT's WordPiece pipeline; our Metaspace BPE). Corpora repeat
  words (Zipf), so each distinct word is encoded once with the Rust batch encoder and sentences
  are assembled from a table: 2–3x faster than ``encode_batch`` on Multi30k, identical ids.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from itertools import chain

from bertune_cli.core.data.raw import Progress, quiet

MOSES = {"escape": False, "aggressive_dash_splits": False}
CHUNK_LINES = 4000
PARALLEL_FROM = 20000  # lines; below this the pool costs more than it saves
# With 2 cores the pool measured 0.7-1.1x (Multi30k, shared machine): the default needs 4.
MIN_CORES = 4
# Rust's char::is_whitespace (Unicode White_Space), which is what BERT's normalizer maps to " ".
# Python's str.split() would also split on U+001C..U+001F, which BERT deletes instead.
_WHITESPACE = re.compile(
    r"[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f"
    r"\u205f\u3000]+"
)
_PY_ONLY_SPACE = re.compile(r"[\x1c-\x1f]")


@lru_cache(maxsize=None)
def _moses(lang: str):
    from sacremoses import MosesTokenizer

    return MosesTokenizer(lang=lang)


# Moses splits a word at a zero-width (non-)joiner (U+200D / U+200C: Devanagari, Persian, ...)
# as if it were a symbol; protecting the joiner with its neighbours keeps the word whole. Only
# lines that hold one take the protected path, so every other line tokenizes exactly as before.
ZERO_WIDTH_JOINERS = ("\u200c", "\u200d")
PROTECT_JOINERS = [r"[^\s][\u200c\u200d]+[^\s]"]


def _moses_chunk(task: tuple[str, list[str]]) -> list[str]:
    lang, lines = task
    tok = _moses(lang).tokenize
    return [
        tok(
            line,
            return_str=True,
            **MOSES,
            **(
                {"protected_patterns": PROTECT_JOINERS}
                if any(j in line for j in ZERO_WIDTH_JOINERS)
                else {}
            ),
        )
        for line in lines
    ]


def workers_available() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def moses_tokenize_many(
    jobs: list[tuple[str, list[str], str]], progress: Progress = quiet, workers: int | None = None
) -> list[list[str]]:
    """Moses-tokenize several ``(step, lines, lang)`` jobs; one list of lines per job."""
    tasks = [
        (k, (lang, lines[i : i + CHUNK_LINES]))
        for k, (_, lines, lang) in enumerate(jobs)
        for i in range(0, len(lines), CHUNK_LINES)
    ]
    total = sum(len(lines) for _, lines, _ in jobs)
    if workers is None:
        workers = workers_available() if workers_available() >= MIN_CORES else 1
    workers = min(workers, 8, len(tasks))
    out: list[list[str]] = [[] for _ in jobs]
    for step, lines, _ in jobs:
        progress(step, 0, len(lines))
    context = _fork_context() if workers > 1 and total >= PARALLEL_FROM else None
    if context is not None:
        from concurrent.futures import ProcessPoolExecutor

        from sacremoses import MosesTokenizer  # noqa: F401  imported once, before forking

        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            _collect(jobs, tasks, pool.map(_moses_chunk, [t for _, t in tasks]), out, progress)
    else:
        _collect(jobs, tasks, map(_moses_chunk, [t for _, t in tasks]), out, progress)
    return out


def _fork_context():
    """``fork`` when it is safe: POSIX and no other Python thread running (the children only
    run sacremoses' regular expressions). ``spawn`` would re-import the caller's ``__main__``,
    which breaks scripts without an ``if __name__ == "__main__"`` guard; elsewhere: no pool."""
    import multiprocessing
    import threading

    if threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    # HF tokenizers warns in every forked child once its thread pool has been used, unless the
    # variable is set; "true" is its default, and the children never call tokenizers.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    return multiprocessing.get_context("fork")


def _collect(jobs, tasks, results, out, progress) -> None:
    for (k, _), chunk in zip(tasks, results):
        out[k] += chunk
        progress(jobs[k][0], len(out[k]), len(jobs[k][1]))


def moses_tokenize(
    lines: list[str],
    lang: str,
    progress: Progress = quiet,
    step: str = "",
    workers: int | None = None,
) -> list[str]:
    """Moses-tokenized lines (tokens joined by single spaces)."""
    return moses_tokenize_many([(step or f"moses {lang}", lines, lang)], progress, workers)[0]


def encode_words(
    tokenizer, lines: list[str], prefix: list[int], suffix: list[int]
) -> list[list[int]]:
    """``prefix + ids(line) + suffix`` per line, each distinct word encoded once.

    ``tokenizer`` is a ``tokenizers.Tokenizer`` whose encoding of a line is the concatenation
    of its words' encodings (see ``word_decomposable``)."""
    if _PY_ONLY_SPACE.search("\n".join(lines)):
        words = [_WHITESPACE.split(line.strip()) if line.strip() else [] for line in lines]
    else:  # str.split() is the same split, 3-5x faster, when U+001C..U+001F do not occur
        words = [line.split() for line in lines]
    distinct = list(dict.fromkeys(chain.from_iterable(words)))
    encoded = tokenizer.encode_batch(distinct, add_special_tokens=False)
    get = dict(zip(distinct, (e.ids for e in encoded))).__getitem__
    return [[*prefix, *chain.from_iterable(map(get, ws)), *suffix] for ws in words]


CHARWISE_NORMALIZERS = {"BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC", "NFKD", "StripAccents"}
WHITESPACE_FIRST = {"BertPreTokenizer", "Whitespace", "WhitespaceSplit"}


def word_decomposable(tokenizer) -> bool:
    """True for the pipelines ``encode_words`` reproduces exactly: normalizers that act
    character by character, and a pre-tokenizer whose first step splits on whitespace (BERT's,
    Whitespace, WhitespaceSplit, Metaspace with ``prepend_scheme="always"`` and ``split``)."""
    import json

    spec = json.loads(tokenizer.to_str())
    norm = spec.get("normalizer") or {"type": "Sequence", "normalizers": []}
    norms = norm.get("normalizers", []) if norm.get("type") == "Sequence" else [norm]
    pre = spec.get("pre_tokenizer") or {}
    if pre.get("type") == "Sequence":
        pre = (pre.get("pretokenizers") or [{}])[0]
    metaspace = (
        pre.get("type") == "Metaspace"
        and pre.get("prepend_scheme") == "always"
        and pre.get("split", True)
    )
    return all(n.get("type") in CHARWISE_NORMALIZERS for n in norms) and (
        pre.get("type") in WHITESPACE_FIRST or metaspace
    )
