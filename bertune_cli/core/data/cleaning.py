"""Cleaning of training pairs with Moses ``clean-corpus-n.perl`` semantics (method.md §1).

Words are counted on the Moses-tokenized text of each side (split on spaces), as fairseq's
``clean-corpus-n.perl -ratio 1.5 ... 1 175`` does after ``tokenizer.perl``. Steps, in order,
each counted separately in the manifest:

1. ``empty``     — a side has no tokens (clean-corpus-n's ``min = 1``);
2. ``too_long``  — a side has more than ``max_len`` tokens (175 in the paper; 0 = no limit);
3. ``ratio``     — ``len(src)/len(tgt) > max_ratio`` or ``len(tgt)/len(src) > max_ratio``
   (strictly greater, as in Moses; 1.5 in the paper; 0 = no limit);
4. ``duplicate`` — only with ``dedup=True``: a pair whose (source, target) text exactly equals an
   earlier kept pair is dropped (first occurrence kept, order preserved). Without ``dedup`` the
   number of such pairs is still reported (``duplicates_kept``), so the choice is visible.

Only training data is cleaned (valid taken from training data included, as in fairseq);
held-out valid/test files are kept whole except pairs with an empty side, so standard test sets
keep their standard size.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CleanStats:
    """Pairs before cleaning, dropped per step, and kept."""

    read: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    kept: int = 0
    duplicates_kept: int = 0

    def steps(self) -> list[dict[str, int | str]]:
        """The cleaning report, one entry per step:
        ``[{"step": "read", "pairs": n}, {"step": "empty", "dropped": k, "pairs": n - k}, ...]``"""
        out: list[dict[str, int | str]] = [{"step": "read", "pairs": self.read}]
        left = self.read
        for step, k in self.dropped.items():
            left -= k
            out.append({"step": step, "dropped": k, "pairs": left})
        return out

    def to_dict(self) -> dict:
        return {
            "read": self.read,
            "kept": self.kept,
            "steps": self.steps(),
            "duplicates_kept": self.duplicates_kept,
        }


def clean_pairs(
    src_tokens: list[str],
    tgt_tokens: list[str],
    max_len: int = 175,
    max_ratio: float = 1.5,
    dedup: bool = False,
    texts: tuple[list[str], list[str]] | None = None,
) -> tuple[list[int], CleanStats]:
    """Indices of the pairs to keep, and the counts.

    ``src_tokens``/``tgt_tokens`` are Moses-tokenized lines (tokens separated by spaces);
    ``texts`` are the untokenized sides used for duplicate detection (default: the tokens).
    """
    if len(src_tokens) != len(tgt_tokens):
        raise ValueError("source and target must have the same number of lines")
    stats = CleanStats(read=len(src_tokens))
    stats.dropped = {"empty": 0, "too_long": 0, "ratio": 0}
    if dedup:
        stats.dropped["duplicate"] = 0
    src_text, tgt_text = texts or (src_tokens, tgt_tokens)
    seen: set[tuple[str, str]] = set()
    keep = []
    for i, (s, t) in enumerate(zip(src_tokens, tgt_tokens)):
        ns, nt = len(s.split()), len(t.split())
        if ns == 0 or nt == 0:
            stats.dropped["empty"] += 1
        elif max_len and (ns > max_len or nt > max_len):
            stats.dropped["too_long"] += 1
        elif max_ratio and (ns / nt > max_ratio or nt / ns > max_ratio):
            stats.dropped["ratio"] += 1
        else:
            key = (src_text[i], tgt_text[i])
            if key in seen:
                if dedup:
                    stats.dropped["duplicate"] += 1
                    continue
                stats.duplicates_kept += 1
            seen.add(key)
            keep.append(i)
    stats.kept = len(keep)
    return keep, stats


def drop_empty(src_tokens: list[str], tgt_tokens: list[str]) -> tuple[list[int], CleanStats]:
    """Held-out splits: keep every pair that has text on both sides."""
    keep = [i for i, (s, t) in enumerate(zip(src_tokens, tgt_tokens)) if s.split() and t.split()]
    stats = CleanStats(
        read=len(src_tokens), dropped={"empty": len(src_tokens) - len(keep)}, kept=len(keep)
    )
    return keep, stats


def every_nth(indices: list[int], n: int) -> tuple[list[int], list[int]]:
    """fairseq's ``awk 'NR % n == 0'`` split: (the rest, every n-th item counting from 1)."""
    if n < 2:
        raise ValueError("valid_every must be at least 2")
    rest = [x for k, x in enumerate(indices, 1) if k % n]
    nth = [x for k, x in enumerate(indices, 1) if not k % n]
    return rest, nth
