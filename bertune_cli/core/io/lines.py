"""The one reader for text files of one segment per line.

Training corpora (``prepare``: files, CSV, WIT3 members) and the files ``score`` and
``significance`` compare are read here, with the same checks and one error format:

* gzip is detected by its magic bytes (``1f 8b``), not by the file name;
* decoding is strict UTF-8; a bad byte is ``FILE:LINE:COLUMN: invalid UTF-8 (byte 0xNN)``
  (COLUMN counts bytes, from 1), where FILE is the name the caller gives (an archive member
  is ``archive.tgz:member``);
* a byte-order mark at the start is dropped; ``\\r\\n`` and ``\\n`` end a line;
* a lone ``\\r`` is a policy (``lone_cr``): ``"split"`` ends a line there (universal newlines,
  what sacrebleu's command line does, so `score` counts lines as sacrebleu does) or
  ``"keep"`` leaves it in the line (parallel corpora, whose line alignment must not shift;
  ``normalize_space`` later turns it into a space);
* an empty file is a policy too (``empty``): ``"allow"`` (a split may be empty) or
  ``"error"`` (``FILE is empty (0 lines)``);
* missing, a folder, not a regular file (a FIFO would block), a truncated gzip: one DataError.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import zlib
from pathlib import Path
from typing import Iterable, Iterator, Literal

from bertune_cli.core.errors import DataError, InputNotFound

UTF8_HINT = "convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)"


RECIPE_PATH_HINT = (
    "check the path (a recipe's relative paths are resolved against data.root or --data-dir)"
)


def require_file(path: Path, what: str = "file", hint: str = "check the path") -> Path:
    """``path`` as a Path when it is an existing regular file, else a DataError."""
    path = Path(path)
    if not path.exists():
        raise InputNotFound(f"{what} not found: {path}", hint)
    if path.is_dir():
        raise InputNotFound(
            f"{what} {path} is a directory, not a file",
            "pass a text file with one segment per line",
        )
    if not path.is_file():
        raise DataError(
            f"{what} {path} is not a regular file", "pass a text file with one segment per line"
        )
    return path


def iter_raw_lines(path: Path) -> Iterator[bytes]:
    """Byte lines (``\\n`` kept) of a plain or gzip file (detected by magic number)."""
    path = require_file(path)
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    try:
        with opener(path, "rb") as f:
            yield from f
    except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt gzip
        raise DataError(
            f"{path}: cannot be read ({exc.__class__.__name__}: {exc})",
            "the file is damaged or truncated; get it again",
        ) from exc


def stdin_lines(block: int = 1 << 16) -> Iterator[bytes]:
    """Byte lines (``\\n`` kept) of standard input, read with ``os.read`` on its descriptor.

    Not through ``sys.stdin.buffer``: a thread blocked reading that holds its lock, so after
    Ctrl-C the main thread could neither close it nor shut the interpreter down (a hang, then
    "could not acquire lock ... at interpreter shutdown"). Without a descriptor (stdin
    replaced, as in tests) the replacement object is iterated."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation, ValueError):
        yield from sys.stdin.buffer
        return
    pending = b""
    while chunk := os.read(fd, block):
        *complete, pending = (pending + chunk).split(b"\n")
        for line in complete:
            yield line + b"\n"
    if pending:
        yield pending


def decode_lines(
    raw: Iterable[bytes],
    name: str,
    keepends: bool = False,
    lone_cr: Literal["keep", "split"] = "keep",
) -> Iterator[str]:
    """Strict UTF-8 decoding, one line at a time; a bad byte names ``name:line:column``."""
    for lineno, line in enumerate(raw, 1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{name}:{lineno}:{exc.start + 1}: invalid UTF-8 (byte 0x{line[exc.start]:02x})",
                UTF8_HINT,
            ) from exc
        if lineno == 1:
            text = text.removeprefix("\ufeff")  # a byte-order mark is not text
        if keepends:
            yield text
            continue
        text = text.removesuffix("\n").removesuffix("\r")
        if lone_cr == "split" and "\r" in text:
            yield from text.split("\r")
        else:
            yield text


def read_lines(
    path: str | Path,
    name: str | None = None,
    *,
    empty: Literal["allow", "error"] = "allow",
    lone_cr: Literal["keep", "split"] = "keep",
) -> list[str]:
    """Every line of a plain or gzip UTF-8 text file, line ends removed (see the module doc
    for ``empty`` and ``lone_cr``). ``name`` is how errors call the file (default: path)."""
    path = Path(path)
    lines = list(decode_lines(iter_raw_lines(path), name or str(path), lone_cr=lone_cr))
    if not lines and empty == "error":
        raise DataError(
            f"{name or path} is empty (0 lines)", "pass a file with one segment per line"
        )
    return lines
