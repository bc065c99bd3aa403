"""Fixtures for the data tests: small WIT3 archives and a loopback HTTP server (no network)."""
from __future__ import annotations

import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

TEST_SETS = ("IWSLT14.TED.dev2010", "IWSLT14.TEDX.dev2012", "IWSLT14.TED.tst2010",
             "IWSLT14.TED.tst2011", "IWSLT14.TED.tst2012")
DE = ["Das ist ein Haus .", "Ich sehe den Hund .", "Wir gehen nach Hause .",
      "Der Himmel ist blau .", "Sie liest ein Buch ."]
EN = ["That is a house .", "I see the dog .", "We are going home .",
      "The sky is blue .", "She reads a book ."]


def wit3_members(n_train: int = 60, pair: str = "de-en", test_size: int = 3) -> dict[str, bytes]:
    """The files of a tiny WIT3 2014-01 de-en archive (names inside ``<pair>/``)."""
    src, tgt = pair.split("-")
    out = {}
    for lang, words in ((src, DE), (tgt, EN)):
        lines = ["<url>http://www.ted.com/talks/x.html</url>", "<keywords>talks, x</keywords>",
                 "<talkid>1</talkid>", "<title>Talk title</title>",
                 "<description>A talk about things.</description>"]
        lines += [f"{words[i % len(words)]} {i}" for i in range(n_train)]
        out[f"{pair}/train.tags.{pair}.{lang}"] = ("\n".join(lines) + "\n").encode()
        for k, name in enumerate(TEST_SETS):
            segs = [f'<seg id="{j + 1}"> {words[j % len(words)]} R&amp;D {k}’s </seg>'
                    for j in range(test_size + k)]
            xml = ['<?xml version="1.0" encoding="UTF-8"?>', "<mteval>",
                   f'<srcset setid="{name}" srclang="{lang}">', '<doc docid="1">',
                   "<url>http://x</url>", "<talkid>1</talkid>", *segs, "</doc>", "</srcset>",
                   "</mteval>"]
            out[f"{pair}/{name}.{pair}.{lang}.xml"] = ("\n".join(xml) + "\n").encode()
    return out


def write_tgz(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture()
def wit3_kit():
    """The builders above, for tests that need to alter an archive's members."""
    from types import SimpleNamespace

    return SimpleNamespace(members=wit3_members, write_tgz=write_tgz, test_sets=TEST_SETS)


@pytest.fixture()
def wit3_tgz(tmp_path):
    """Factory: ``wit3_tgz(**kw) -> Path`` of a small de-en archive."""
    def make(name: str = "de-en.tgz", **kw) -> Path:
        return write_tgz(tmp_path / name, wit3_members(**kw))
    return make


class Server:
    """Serves ``files`` (path -> bytes) on 127.0.0.1 with Range support; records requests.
    ``truncate_next`` makes the next response announce the full length but send only half."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.truncate_next = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.truncate_next:
                    server.truncate_next = False
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def http_server():
    server = Server()
    yield server
    server.close()


@pytest.fixture()
def data_home(tmp_path, monkeypatch):
    """An isolated download cache ($BERTUNE_HOME)."""
    home = tmp_path / "home"
    monkeypatch.setenv("BERTUNE_HOME", str(home))
    return home
