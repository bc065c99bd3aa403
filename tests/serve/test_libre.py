"""LibreTranslate's contract against a real server on loopback, with the real client package
(libretranslatepy) where it has the call: translate, detect, languages and keys; source
"auto", format "html", file translation and download."""
from __future__ import annotations

import time
import urllib.error
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from bertune_cli.serve.app import create_app
from bertune_cli.serve.loading import describe_model
from bertune_cli.serve.settings import ServeSettings

KEY = "k-libre"
GERMAN = "Haben wir das süße Brot gebacken?"


@pytest.fixture(scope="module")
def settings(tiny_run):
    return describe_model(tiny_run, ServeSettings(api_keys=(KEY,), max_sentences=8,
                                                  max_file_lines=30, file_ttl_s=60))


@pytest.fixture()
def server(live, tiny_translator, settings):
    with live(create_app(tiny_translator, settings)) as running:
        yield running


def _solo(translator, lines):
    return [translator.translate([line], options=translator.options())[0] for line in lines]


def test_the_libretranslate_client_translates_detects_and_lists_languages(server,
                                                                          tiny_translator,
                                                                          test_lines):
    libretranslatepy = pytest.importorskip("libretranslatepy")
    client = libretranslatepy.LibreTranslateAPI(server.url, api_key=KEY)
    assert client.translate(test_lines[0], "de", "en") == _solo(tiny_translator,
                                                                test_lines[:1])[0]
    found = client.detect(GERMAN)
    assert found[0]["language"] == "de" and 50 < found[0]["confidence"] <= 100
    assert client.detect("The children played in the garden all afternoon.")[0]["language"] \
        == "en"
    assert [lang["code"] for lang in client.languages()] == ["de", "en"]
    anonymous = libretranslatepy.LibreTranslateAPI(server.url)
    for call in (lambda: anonymous.translate(GERMAN, "de", "en"),
                 lambda: anonymous.detect(GERMAN)):
        with pytest.raises(urllib.error.HTTPError) as refused:
            call()
        assert refused.value.code == 401
    assert anonymous.languages()[0]["code"] == "de"  # /languages needs no key
    wrong = libretranslatepy.LibreTranslateAPI(server.url, api_key="nope")
    with pytest.raises(urllib.error.HTTPError):
        wrong.translate(GERMAN, "de", "en")


def test_detect_and_source_auto(server, tiny_translator):
    key = {"api_key": KEY}
    with httpx.Client(base_url=server.url, timeout=60) as http:
        r = http.post("/detect", params=key, json={"q": [GERMAN, "Wir essen heute Brot."]})
        assert r.json()[0]["language"] == "de"  # api_key in the query string
        assert http.post("/detect", json={"q": "12345", **key}).json() == \
            [{"confidence": 0.0, "language": "en"}]  # nothing to go on: LibreTranslate's answer
        r = http.post("/translate", json={"q": GERMAN, "source": "auto", "target": "en", **key})
        body = r.json()
        assert body["translatedText"] == _solo(tiny_translator, [GERMAN])[0]
        assert body["detectedLanguage"]["language"] == "de"
        assert body["detectedLanguage"]["confidence"] > 50
        r = http.post("/translate", json={"q": [GERMAN, GERMAN], "source": "auto", **key})
        assert [d["language"] for d in r.json()["detectedLanguage"]] == ["de", "de"]
        r = http.post("/translate", json={"q": "Nous avons mangé du pain chaud ce matin.",
                                          "source": "auto", "target": "en", **key})
        assert r.status_code == 400 and r.json()["error"] == "unsupported_language"
        assert "French (fr" in r.json()["detail"] and '"source": "de"' in r.json()["detail"]


def test_html_keeps_the_markup_and_translates_the_text(server, tiny_translator):
    html = ('<p class="x">Haben wir das <b>süße Brot</b> gebacken?</p>'
            '<script>var s = "<b>Brot</b>";</script><code>Brot</code>'
            '<span translate="no">Brot</span><img src="a.png" alt="Brot">')
    segments = ["Haben wir das", "süße Brot", "gebacken?"]
    want = _solo(tiny_translator, segments)
    with httpx.Client(base_url=server.url, timeout=60, params={"api_key": KEY}) as http:
        body = http.post("/translate", json={"q": html, "source": "de", "target": "en",
                                             "format": "html", "alternatives": 2}).json()
    assert body["translatedText"] == (
        f'<p class="x">{want[0]} <b>{want[1]}</b> {want[2]}</p>'
        '<script>var s = "<b>Brot</b>";</script><code>Brot</code>'
        '<span translate="no">Brot</span><img src="a.png" alt="Brot">')
    assert body["alternatives"] == []  # as LibreTranslate: none for HTML


class MarkupTranslator:
    """Answers every sentence with markup, as a model could."""
    device = "cpu"

    def options(self, **given):
        return {}

    def translate(self, lines, **options):
        return ['<img src=x onerror="alert(1)"> & <b>' for _ in lines]


def test_model_output_never_becomes_markup(live):
    with live(create_app(MarkupTranslator(), ServeSettings())) as server:
        body = httpx.post(server.url + "/translate", json={
            "q": "<p>Hallo <i>Welt</i></p>", "format": "html"}).json()
    assert body["translatedText"] == ('<p>&lt;img src=x onerror="alert(1)"&gt; &amp; &lt;b&gt;'
                                      ' <i>&lt;img src=x onerror="alert(1)"&gt; &amp; &lt;b&gt;'
                                      '</i></p>')


def _upload(http, name: str, data: bytes, **fields):
    return http.post("/translate_file", files={"file": (name, data)},
                     data={"source": "de", "target": "en", "api_key": KEY, **fields})


def test_translate_file_then_download_it(server, tiny_translator, test_lines):
    lines = test_lines[:3]
    text = f"{lines[0]}\n\n{lines[1]}\n{lines[2]}\n".encode()
    want = _solo(tiny_translator, lines)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        r = _upload(http, "../../etc/talk.txt", text)
        url = r.json()["translatedFileUrl"]
        assert url.startswith(server.url + "/download_file/") and url.endswith(".talk.txt")
        got = http.get(url)
        assert got.status_code == 200
        assert got.text == f"{want[0]}\n\n{want[1]}\n{want[2]}\n"
        assert got.headers["content-disposition"] == 'attachment; filename="talk.txt"'
        assert got.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in got.headers["content-security-policy"]
        page = b"<html><body><h1>Brot</h1><script>alert(1)</script></body></html>"
        url = _upload(http, "page.html", page).json()["translatedFileUrl"]
        got = http.get(url)
        want_h1 = _solo(tiny_translator, ["Brot"])[0]
        assert got.text == f"<html><body><h1>{want_h1}</h1><script>alert(1)</script></body>" \
                           "</html>"
        assert got.headers["content-type"].startswith("text/html")
        assert got.headers["content-disposition"].startswith("attachment")  # never rendered
        # refusals: a JSON error each
        cases = [
            (_upload(http, "slides.pdf", b"%PDF"), 400, "unsupported_file_type"),
            (_upload(http, "a.txt", b"Brot \xff\xfe"), 400, "invalid_text"),
            (_upload(http, "a.txt", b"Brot\n" * 31), 413, "file_too_large"),
            (_upload(http, "a.txt", b"x", source="fr"), 400, "unsupported_language"),
            (http.post("/translate_file", files={"file": ("a.txt", b"Brot")}), 401,
             "unauthorized"),
            (http.post("/translate_file", json={"api_key": KEY}), 415, "unsupported_media_type"),
            (http.get("/download_file/" + "0" * 32 + ".talk.txt"), 404, "not_found"),
            (http.get("/download_file/..%2F..%2Fetc%2Fpasswd"), 404, "not_found"),
        ]
        for response, status, error in cases:
            assert response.status_code == status, response.text
            assert response.json()["error"] == error


def test_translated_files_expire_and_are_deleted_on_shutdown(live, fake):
    app = create_app(fake, ServeSettings(file_ttl_s=0.5))
    with live(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        url = http.post("/translate_file", files={"file": ("a.txt", b"eins\nzwei\n")}).json()[
            "translatedFileUrl"]
        assert http.get(url).text == "EINS\nZWEI\n"
        folder = app.state.files.folder
        assert (folder.stat().st_mode & 0o777) == 0o700  # private to the server's user
        time.sleep(1.5)
        assert http.get(url).status_code == 404
        assert list(folder.iterdir()) == []  # expired: deleted, not just hidden
        http.post("/translate_file", files={"file": ("b.txt", b"drei\n")})
        assert len(list(folder.iterdir())) == 1
    assert not Path(folder).exists()  # shutdown removes the folder


def test_translate_file_shares_the_model_with_other_clients(live, fake):
    """A file goes to the batcher in requests of --max-sentences lines."""
    app = create_app(fake, replace(ServeSettings(), max_sentences=4, max_file_lines=100,
                                   batching=False))
    with live(app) as server:
        data = "".join(f"zeile {i}\n" for i in range(10)).encode()
        url = httpx.post(server.url + "/translate_file",
                         files={"file": ("z.txt", data)}).json()["translatedFileUrl"]
        assert httpx.get(url).text == "".join(f"ZEILE {i}\n" for i in range(10))
    assert sorted(len(c) for c in fake.calls) == [2, 4, 4]  # three jobs, not one of 10 lines
