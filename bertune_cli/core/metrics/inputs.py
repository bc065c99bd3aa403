"""Reading the text files that ``score`` and ``significance`` compare.

Lines are read as sacrebleu's command line reads them: UTF-8, universal newlines, trailing
whitespace stripped (``line.rstrip()``); ``.gz`` files are decompressed. Every problem is a
``DataError`` naming the file (and the line): missing, not a file, empty, not UTF-8, or a
different number of lines than the files it is compared with.
"""
from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Sequence

from bertune_cli.core.errors import DataError


def read_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 text file (``.gz`` accepted), each ``rstrip()``-ed."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"file not found: {path}", "check the path")
    if not path.is_file():
        raise DataError(f"not a file: {path}", "pass a text file with one segment per line")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: not a valid gzip file ({exc})", "decompress it first")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataError(f"{path}: line {line} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} "
                        f"at column {col})", "convert the file to UTF-8, e.g. with iconv")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise DataError(f"{path} is empty (0 lines)", "pass a file with one segment per line")
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
                "every file must have one line per segment, in the same order")
    return texts


def digest(streams: Sequence[Sequence[str]]) -> str:
    """Short content hash of one or more line streams (ties score files to their inputs)."""
    h = hashlib.sha256()
    for stream in streams:
        h.update("\n".join(stream).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]
