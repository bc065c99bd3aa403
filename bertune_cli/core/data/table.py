"""Parallel text in a CSV/TSV file with named columns (e.g. the Hindi-English Truncated Corpus:
``source,english_sentence,hindi_sentence``).

- Tab-separated when the name ends in ``.tsv`` (or ``.tsv.gz``), comma-separated otherwise;
  plain or gzip; strictly UTF-8 (a bad byte names the line); quoted fields may span lines.
- Rows with an empty side (after whitespace normalisation) are dropped and counted.
- A column named ``split`` (values train / valid or dev / test) gives the split; without it,
  ``random_split`` reproduces ``sklearn.model_selection.train_test_split(test_size=t,
  random_state=seed)``: one ``numpy.random.RandomState(seed).permutation(n)``, the first
  ``ceil(t * n)`` indices are the test set, the rest (or the next ``floor(train * n)`` when
  the fractions sum to less than 1) the training set.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from bertune_cli.core.data.raw import decode_lines, iter_raw_lines, normalize_space
from bertune_cli.core.errors import DataError

SPLIT_COLUMN = "split"
SPLIT_NAMES = {"train": "train", "valid": "valid", "dev": "valid", "test": "test"}


@dataclass
class Table:
    """The two named columns of a CSV (and its split column, when there is one)."""

    src: list[str]
    tgt: list[str]
    split: list[str] | None
    rows: int = 0  # data rows read
    empty: int = 0  # rows dropped for an empty side
    columns: list[str] = field(default_factory=list)


def delimiter_for(path: Path) -> str:
    name = Path(path).name.lower().removesuffix(".gz")
    return "\t" if name.endswith((".tsv", ".tab")) else ","


def read_table(path: Path, src_column: str, tgt_column: str, name: str | None = None) -> Table:
    """Read ``src_column``/``tgt_column`` of a CSV/TSV; DataError names the file and line."""
    name = name or str(path)
    csv.field_size_limit(1 << 24)
    reader = csv.reader(
        decode_lines(iter_raw_lines(Path(path)), name, keepends=True), delimiter=delimiter_for(path)
    )
    try:
        header = next(reader, None)
        if header is None:
            raise DataError(f"{name}: the file is empty (expected a header row)")
        header = [h.strip() for h in header]
        missing = [c for c in (src_column, tgt_column) if c not in header]
        if missing:
            raise DataError(
                f"{name}:1: no column {' or '.join(map(repr, missing))} "
                f"(columns: {', '.join(header)})",
                "set data.src_column / data.tgt_column to the header names",
            )
        i_src, i_tgt = header.index(src_column), header.index(tgt_column)
        i_split = header.index(SPLIT_COLUMN) if SPLIT_COLUMN in header else None
        table = Table([], [], [] if i_split is not None else None, columns=header)
        width = max(i_src, i_tgt, i_split or 0)
        for row in reader:
            if not row:
                continue  # blank line
            table.rows += 1
            if len(row) <= width:
                raise DataError(
                    f"{name}:{reader.line_num}: row has {len(row)} fields, the "
                    f"header has {len(header)}",
                    "check quoting and delimiters",
                )
            src, tgt = normalize_space(row[i_src]), normalize_space(row[i_tgt])
            if not src or not tgt:
                table.empty += 1
                continue
            table.src.append(src)
            table.tgt.append(tgt)
            if table.split is not None:
                table.split.append(_split_name(row[i_split], name, reader.line_num))
    except csv.Error as exc:
        raise DataError(
            f"{name}:{reader.line_num}: not valid CSV ({exc})", "check quoting and delimiters"
        ) from exc
    return table


def _split_name(value: str, name: str, line: int) -> str:
    key = value.strip().lower()
    if key not in SPLIT_NAMES:
        raise DataError(f"{name}:{line}: split {value!r} is not one of train, valid, dev, test")
    return SPLIT_NAMES[key]


def random_split(n: int, train: float, test: float, seed: int) -> tuple[list[int], list[int]]:
    """(train indices, test indices) exactly as sklearn's ``train_test_split`` returns them."""
    import numpy as np

    if not (0 < test < 1 and 0 < train <= 1 and train + test <= 1 + 1e-9):
        raise DataError(f"data.csv_split {train}, {test}: need 0 < test < 1, train + test <= 1")
    n_test = math.ceil(test * n)
    # train_test_split(test_size=t) keeps the rest for training: the same when train + t == 1
    n_train = n - n_test if abs(train + test - 1) < 1e-9 else math.floor(train * n)
    perm = np.random.RandomState(seed).permutation(n)
    return perm[n_test : n_test + n_train].tolist(), perm[:n_test].tolist()
