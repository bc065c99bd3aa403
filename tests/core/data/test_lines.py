"""``lines.stdin_lines``: standard input read through its descriptor (os.read), line by line."""
from __future__ import annotations

import io
import os
import sys

import pytest

from bertune_cli.core.io.lines import stdin_lines


@pytest.mark.parametrize("block", [1, 3, 1 << 16])
def test_lines_across_read_blocks_keep_their_newlines_and_the_unterminated_last(block,
                                                                                  monkeypatch):
    data = "ein hund\r\nzwei\n\nकुत्ता\nlast".encode("utf-8")
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(f))
        got = list(stdin_lines(block))
    assert got == [b"ein hund\r\n", b"zwei\n", b"\n", "कुत्ता\n".encode(), b"last"]
    assert b"".join(got) == data  # nothing lost or added, multi-byte characters included


def test_a_replaced_stdin_without_a_descriptor_is_iterated(monkeypatch):
    class Replaced:  # what test runners (CliRunner) put in sys.stdin
        buffer = io.BytesIO(b"a\nb")

        def fileno(self):
            raise io.UnsupportedOperation("fileno")

    monkeypatch.setattr(sys, "stdin", Replaced())
    assert list(stdin_lines()) == [b"a\n", b"b"]
