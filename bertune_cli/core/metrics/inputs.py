"""Reading the text files that ``score`` and ``significance`` compare.

Lines are read as sacrebleu's command line reads them: UTF-8, universal newlines, trailing
whitespace stripped (``line.rstrip()``); gzip files are decompressed. The reading itself is
the one line reader of ``core/io/lines.py`` (shared with ``prepare``, same checks and error
format, ``FILE:LINE:COLUMN: invalid UTF-8``). Every problem is a ``DataError`` naming the file:
missing, not a file, empty, not UTF-8, or a different number of lines than the files it is
compared with.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

from bertune_cli.core.errors import DataError
from bertune_cli.core.io.lines import read_lines as _read


def read_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 text file (gzip accepted), each ``rstrip()``-ed, as sacrebleu's
    command line reads them: the shared reader (core/io/lines.py) with universal newlines
    (a lone CR ends a line) and an empty file refused."""
    lines = _read(path, empty="error", lone_cr="split")
    return [line.rstrip() for line in lines]


def read_parallel(named: Sequence[tuple[str, str | Path]]) -> list[list[str]]:
    """Read several files that must have the same number of lines.

    named: (role, path) pairs, e.g. ``[("hypothesis", h), ("reference", r)]``; the first
    file's line count is the one the others must match.
    """
    texts = [read_lines(path) for _, path in named]
    first_role, first = named[0]
    for (role, path), lines in zip(named[1:], texts[1:]):
        if len(lines) != len(texts[0]):
            raise DataError(
                f"line counts differ: {role} {path} has {len(lines)} lines, "
                f"{first_role} {first} has {len(texts[0])}",
                "every file must have one line per segment, in the same order",
            )
    return texts


def digest(streams: Sequence[Sequence[str]]) -> str:
    """Short content hash of one or more line streams (ties score files to their inputs)."""
    h = hashlib.sha256()
    for stream in streams:
        h.update("\n".join(stream).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]
