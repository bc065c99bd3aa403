"""Helpers shared by the benchmark scripts (run them as `python benchmarks/bench_X.py`)."""

from __future__ import annotations

import gzip
import random
from pathlib import Path


def multi30k_references(data: str | Path, n: int) -> list[str]:
    """The first ``n`` English references of Multi30k test_2016_flickr under ``data``."""
    with gzip.open(Path(data) / "test_2016_flickr.en.gz", "rt", encoding="utf-8") as f:
        return f.read().splitlines()[:n]


def perturb(line: str, rnd: random.Random) -> str:
    """MT-like noise on a reference: two word swaps and, for 30% of lines, the last word
    dropped (seeded through ``rnd``), so scores and lengths look like system output."""
    words = line.split()
    for _ in range(2):
        i, j = rnd.randrange(len(words)), rnd.randrange(len(words))
        words[i], words[j] = words[j], words[i]
    if len(words) > 1 and rnd.random() < 0.3:
        words = words[:-1]
    return " ".join(words)
