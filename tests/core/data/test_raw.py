"""Raw inputs: locating, strict UTF-8 reading, and downloads over a loopback HTTP server."""
from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from bertune_cli.core.data import raw as sources
from bertune_cli.core.errors import DataError, DownloadError

BLOB = bytes(range(256)) * 4096  # 1 MiB, not text: downloads are byte-exact


def test_locate_joins_root_and_data_dir():
    url = "https://example.org/raw"
    assert sources.locate("train.de.gz", url) == f"{url}/train.de.gz"
    assert sources.locate("train.de.gz", "/data") == "/data/train.de.gz"
    assert sources.locate("/abs/x.de", "/data") == "/abs/x.de"
    assert sources.locate(f"{url}/x.gz") == f"{url}/x.gz"
    # --data-dir: every input is looked up there by file name
    assert sources.locate("train.de.gz", url, Path("/local")) == "/local/train.de.gz"
    assert sources.locate(f"{url}/de-en.tgz", None, Path("/local")) == "/local/de-en.tgz"


def test_read_lines_plain_gzip_and_bom(tmp_path):
    plain = tmp_path / "a.txt"
    plain.write_bytes("\ufeffeins\r\nzwei\n\ndrei".encode())
    packed = tmp_path / "a.txt.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert sources.read_lines(plain) == ["eins", "zwei", "", "drei"]
    assert sources.read_lines(packed) == ["eins", "zwei", "", "drei"]


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"file not found: .*nope\.txt"):
        sources.read_lines(tmp_path / "nope.txt")


def test_invalid_utf8_names_the_line(tmp_path):
    bad = tmp_path / "bad.de"
    bad.write_bytes("gut\nauch gut\nschlecht \xe4\n".encode("utf-8")[:-3] + b"\xe4\n")
    with pytest.raises(DataError, match=r"bad\.de:3:10: invalid UTF-8 \(byte 0xe4\)"):
        sources.read_lines(bad)


def test_truncated_gzip_is_a_data_error(tmp_path):
    path = tmp_path / "t.gz"
    packed = gzip.compress("".join(f"line {i * 7919 % 10007}\n" for i in range(20000)).encode())
    path.write_bytes(packed[:len(packed) // 2])
    with pytest.raises(DataError, match="t.gz: cannot be read"):
        sources.read_lines(path)


def test_normalize_space_removes_line_breaks():
    assert sources.normalize_space("  a\tb\r\nc\u2028d  ") == "a b c d"


# ----------------------------------------------------------------------------- downloads


def test_fetch_downloads_once_then_uses_the_cache(http_server, data_home):
    http_server.files["/d/blob.bin"] = BLOB
    url = http_server.url("/d/blob.bin")
    seen = []
    path = sources.fetch(url, hashlib.sha256(BLOB).hexdigest(),
                         progress=lambda step, done, total: seen.append((done, total)))
    assert path.read_bytes() == BLOB and path.is_relative_to(data_home)
    assert seen[-1] == (len(BLOB), len(BLOB))
    assert sources.fetch(url) == path
    assert len(http_server.requests) == 1


def test_truncated_download_fails_then_resumes_with_range(http_server, data_home):
    http_server.files["/blob.bin"] = BLOB
    http_server.truncate_next = True
    url = http_server.url("/blob.bin")
    with pytest.raises(DownloadError, match=r"truncated: got \d+ of 1048576 bytes"):
        sources.fetch(url)
    part = sources.cache_path(url).with_suffix(".bin.part")
    assert 0 < part.stat().st_size < len(BLOB)
    path = sources.fetch(url, hashlib.sha256(BLOB).hexdigest())
    assert path.read_bytes() == BLOB
    assert http_server.requests[-1][1] == f"bytes={len(BLOB) // 2}-"
    assert not part.exists()


def test_checksum_mismatch_is_refused_and_not_cached(http_server, data_home):
    http_server.files["/blob.bin"] = BLOB
    url = http_server.url("/blob.bin")
    with pytest.raises(DownloadError, match="checksum mismatch .* expected sha256 0000"):
        sources.fetch(url, "0" * 64)
    assert not sources.cache_path(url).exists()
    assert not list(sources.cache_path(url).parent.glob("*.part"))


def test_http_error_and_unreachable_server_explain_what_to_do(http_server, data_home):
    with pytest.raises(DownloadError, match="--data-dir"):
        sources.fetch(http_server.url("/missing.tgz"))
    port = http_server.httpd.server_address[1]
    http_server.close()
    with pytest.raises(DownloadError, match=f"download of http://127.0.0.1:{port}/x.tgz failed"):
        sources.fetch(f"http://127.0.0.1:{port}/x.tgz", timeout=5)
    http_server.close = lambda: None  # already closed


# ------------------------------------------------- one line reader (core/io/lines.py)
def test_one_reader_for_corpora_and_score_inputs(tmp_path):
    """prepare and score read through core/io/lines.py: gzip by magic bytes (not by name),
    one error format, lone CR and empty files as the callers' policies."""
    from bertune_cli.core.io import lines
    from bertune_cli.core.metrics import inputs

    packed = tmp_path / "corpus.txt"                      # gzip without a .gz name
    packed.write_bytes(gzip.compress("eins\rzwei\ndrei  \n".encode()))
    assert sources.read_lines(packed) == ["eins\rzwei", "drei  "]      # lone CR kept (corpora)
    assert inputs.read_lines(packed) == ["eins", "zwei", "drei"]       # split, as sacrebleu
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert sources.read_lines(empty) == []
    with pytest.raises(DataError, match="empty.txt is empty"):
        inputs.read_lines(empty)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\nab\xffc\n")
    for reader in (sources.read_lines, inputs.read_lines):
        with pytest.raises(DataError, match=r"bad\.txt:2:3: invalid UTF-8 \(byte 0xff\)"):
            reader(bad)
    with pytest.raises(DataError, match="is a directory"):
        lines.read_lines(tmp_path)
