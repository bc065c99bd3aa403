"""Stream input and output for decoding: lines in (bytes or text, read on a thread, chunked
when full or when input pauses), text repaired rather than refused, and the output sink.

Bad input never stops a stream: bytes that are not UTF-8 and unpaired surrogates in a string
are replaced (U+FFFD) with a warning (logger ``bertune.translate``).
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator

log = logging.getLogger("bertune.translate")
_END = object()
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_chunks(
    lines: Iterable[str | bytes], chunk_lines: int = 256, wait: float = 0.05
) -> Iterator[tuple[int, list[str]]]:
    """``(number of the chunk's first line, its lines as text)`` for ``Translator.stream`` and
    explain's stream: bytes decoded (U+FFFD with a warning), newlines stripped. A chunk holds
    at most ``chunk_lines`` lines and closes early when no line arrives within ``wait`` s."""
    lineno = 1
    for chunk in _chunks(lines, chunk_lines, wait):
        yield lineno, [_to_text(line, lineno + k) for k, line in enumerate(chunk)]
        lineno += len(chunk)


def valid_text(line: str, lineno: int, warn: bool = True) -> str:
    """``line`` with unpaired surrogates (U+D800-U+DFFF, which no UTF-8 text can hold but a
    Python string, e.g. from JSON's ``"\\ud800"``, can) replaced by U+FFFD, as undecodable
    bytes are, with a warning."""
    if not _SURROGATE.search(line):
        return line
    if warn:
        log.warning("line %d holds unpaired surrogates; replaced by U+FFFD", lineno)
    return _SURROGATE.sub("\ufffd", line)


class AtomicOutput:
    """Write to ``path`` atomically, or to stdout (``path`` None). ``core.outputs.AtomicFile``:
    checked (parents created) when constructed, so make it before loading the model; OS
    failures are one-line OutputErrors naming the path."""

    def __init__(self, path: Path | None):
        from bertune_cli.core.io.outputs import AtomicFile

        self.path = Path(path) if path else None
        self._file = AtomicFile(self.path, "output") if self.path else None

    def __enter__(self):
        import sys

        return sys.stdout if self._file is None else self._file.__enter__()

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.__exit__(*exc)


def _to_text(line: str | bytes, lineno: int) -> str:
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            log.warning("line %d is not valid UTF-8; undecodable bytes replaced by U+FFFD", lineno)
            line = line.decode("utf-8", errors="replace")
    return line.rstrip("\r\n")


def _chunks(lines: Iterable[Any], size: int, wait: float) -> Iterator[list[Any]]:
    """Group ``lines`` into chunks; a chunk closes when full or when input pauses."""
    q: queue.Queue = queue.Queue(maxsize=4 * size)

    def reader() -> None:
        try:
            for line in lines:
                q.put(line)
        except BaseException as exc:  # re-raised in the consumer, never lost on the thread
            q.put(exc)
        q.put(_END)

    threading.Thread(target=reader, daemon=True, name="bertune-reader").start()
    while True:
        item = q.get()
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise item
        chunk = [item]
        while len(chunk) < size:
            try:
                item = q.get(timeout=wait)
            except queue.Empty:
                break
            if item is _END or isinstance(item, BaseException):
                yield chunk
                if item is _END:
                    return
                raise item
            chunk.append(item)
        yield chunk
