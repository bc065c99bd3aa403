"""The app without a socket (TestClient): both contracts, explain, errors, auth, CORS, metrics."""
from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient

from bertune_cli.serve.app import create_app
from bertune_cli.serve.loading import describe_model
from bertune_cli.serve.settings import ServeSettings

KEY = "s3cret-key-for-tests"
LOCAL = "http://127.0.0.1"  # an allowed Host (TestClient's default, testserver, is not)


@pytest.fixture(scope="module")
def settings(tiny_run):
    return describe_model(tiny_run, ServeSettings(max_sentences=8, max_chars=300,
                                                  max_body_bytes=4096))


@pytest.fixture(scope="module")
def client(tiny_translator, settings):
    with TestClient(create_app(tiny_translator, settings), base_url=LOCAL) as c:
        yield c


def _error(response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"} and isinstance(body["detail"], str)
    if error:
        assert body["error"] == error
    return body


def test_blog_contract_gives_what_translate_gives(client, tiny_translator, test_lines):
    expected = tiny_translator.translate(test_lines[:2], options=tiny_translator.options())
    for line, want in zip(test_lines, expected):
        r = client.post("/translate", json={"sentence": line})
        assert r.status_code == 200 and r.json() == {"translated_sentence": want}


def test_libretranslate_contract_string_list_form_and_alternatives(client, tiny_translator,
                                                                   test_lines):
    want = tiny_translator.translate(test_lines[:3], options=tiny_translator.options())
    r = client.post("/translate", json={"q": test_lines[0], "source": "de", "target": "en",
                                        "format": "text"})
    assert r.json() == {"translatedText": want[0]}
    r = client.post("/translate", json={"q": test_lines[:3], "source": "auto", "target": "en"})
    body = r.json()
    assert body["translatedText"] == want
    assert body["detectedLanguage"] == [{"language": "de", "confidence": 100.0}] * 3
    r = client.post("/translate", json={"q": test_lines[0], "source": "de", "target": "en",
                                        "alternatives": 2})
    body = r.json()
    assert body["translatedText"] == want[0] and len(body["alternatives"]) == 2
    # libretranslate-py and curl -d send an urlencoded form
    r = client.post("/translate", data={"q": test_lines[1], "source": "de", "target": "en"})
    assert r.status_code == 200 and r.json() == {"translatedText": want[1]}
    # curl -d '{...}' without a Content-Type header sends JSON typed as a form
    r = client.post("/translate", content=f'{{"sentence": "{test_lines[1]}"}}'.encode(),
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.json() == {"translated_sentence": want[1]}


def test_languages_health_docs(client):
    assert client.get("/languages").json() == [
        {"code": "de", "name": "German", "targets": ["en"]},
        {"code": "en", "name": "English", "targets": []}]
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["device"] == "cpu" and health["pair"] == "de-en"
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text
    # Swagger UI is served from the swagger-ui-bundle package: /docs works offline, no CDN
    assert "cdn" not in docs.text.lower()
    for asset in re.findall(r'(?:src|href)="([^"]+)"', docs.text):
        assert asset.startswith("/swagger-ui/") and client.get(asset).status_code == 200
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/translate"]["post"]["requestBody"]["content"]["application/json"]
    assert {s["title"] for s in body["schema"]["anyOf"]} == {"BlogRequest", "LibreRequest"}
    assert {"/translate", "/explain", "/languages", "/health", "/metrics", "/detect",
            "/translate_file", "/download_file/{url_name}"} <= set(spec["paths"])
    # /docs can authorize its calls: every way to send a key is a declared security scheme
    assert set(spec["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader",
                                                          "APIKeyQuery"}
    assert health["explain"] is True and health["corpus"].startswith("recipe demo: Embedded")
    assert health["example"] == "Haben wir das süße Brot gebacken?"  # the test set's first


def test_explain_returns_what_core_explain_returns(client, tiny_translator, test_lines):
    from bertune_cli.core.explain import explain

    r = client.post("/explain", json={"q": test_lines[:2], "attention": True, "mc_dropout": 2,
                                      "seed": 3})
    assert r.status_code == 200, r.text
    got = r.json()["results"]
    want = explain(tiny_translator, test_lines[:2], confidence=True, attention=True,
                   mc_dropout=2, seed=3, options=tiny_translator.options())
    assert got == want
    assert got[0]["confidence"]["words"] and got[0]["attention"]["matrix"]
    _error(client.post("/explain", json={"q": "x", "mc_dropout": 999}), 422, "too_many_passes")


def test_every_bad_request_is_a_json_error_and_the_server_keeps_serving(client, test_lines):
    bad = b'{"sentence": "unterminated'
    _error(client.post("/translate", content=bad, headers={"content-type": "application/json"}),
           400, "malformed_json")
    _error(client.post("/explain", content=bad, headers={"content-type": "application/json"}),
           400, "malformed_json")
    _error(client.post("/translate", json=["not", "an", "object"]), 422)
    _error(client.post("/translate", json={"text": "neither contract"}), 422)
    _error(client.post("/translate", json={"sentence": 42}), 422)
    _error(client.post("/translate", json={"q": "x", "alternatives": -1}), 422)
    _error(client.post("/translate", json={"q": ["a"] * 9}), 422, "too_many_sentences")
    _error(client.post("/translate", json={"sentence": "a" * 301}), 422, "sentence_too_long")
    _error(client.post("/translate", json={"q": "x", "source": "fr", "target": "en"}), 400,
           "unsupported_language")
    _error(client.post("/translate", json={"q": "x", "format": "xml"}), 422)
    _error(client.post("/translate", content=b'{"sentence": "' + b"a" * 5000 + b'"}',
                       headers={"content-type": "application/json"}), 413, "payload_too_large")

    def chunked():
        for _ in range(10):
            yield b"a" * 1000

    _error(client.post("/translate", content=chunked()), 413, "payload_too_large")
    _error(client.get("/no/such/page"), 404, "not_found")
    _error(client.get("/translate"), 405)
    _error(client.post("/translate", content=b"\xff\xfe", headers={
        "content-type": "application/json"}), 400)
    r = client.post("/translate", json={"sentence": test_lines[0]})
    assert r.status_code == 200
    assert client.post("/translate", json={"sentence": ""}).json() == {"translated_sentence": ""}


def test_api_keys_are_required_compared_safely_and_never_logged(tiny_translator, settings,
                                                               caplog):
    from dataclasses import replace

    keyed = replace(settings, api_keys=("other-key", KEY))
    assert KEY not in repr(keyed)
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(tiny_translator, keyed), base_url=LOCAL) as c:
        body = {"sentence": "hallo"}
        _error(c.post("/translate", json=body), 401, "unauthorized")
        _error(c.post("/translate", json=body, headers={"Authorization": "Bearer wrong"}), 401)
        _error(c.post("/explain", json={"q": "x"}, headers={"X-API-Key": KEY[:-1]}), 401)
        _error(c.get("/metrics"), 401)
        assert c.post("/translate", json=body, headers={"Authorization": f"Bearer {KEY}"}
                      ).status_code == 200
        assert c.post("/translate", json=body, headers={"X-API-Key": "other-key"}
                      ).status_code == 200
        assert c.post("/translate", json={"q": "hallo", "api_key": KEY}).status_code == 200
        assert c.post("/translate", data={"q": "hallo", "api_key": KEY}).status_code == 200
        assert c.get("/health").status_code == 200 and c.get("/languages").status_code == 200
        assert c.get("/metrics", headers={"X-API-Key": KEY}).status_code == 200
    assert KEY not in caplog.text


def test_cross_origin_requests_are_refused_unless_allowed(tiny_translator, settings, client):
    body = {"sentence": "hallo"}
    _error(client.post("/translate", json=body, headers={"Origin": "http://evil.example"}),
           403, "cors_refused")
    same = client.post("/translate", json=body, headers={"Origin": LOCAL})
    assert same.status_code == 200  # the page itself (same origin) is not cross-origin
    from dataclasses import replace

    with TestClient(create_app(tiny_translator, replace(settings,
                                                        cors=("http://app.example",))),
                    base_url=LOCAL) as c:
        pre = c.options("/translate", headers={"Origin": "http://app.example",
                                               "Access-Control-Request-Method": "POST",
                                               "Access-Control-Request-Headers": "content-type"})
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "http://app.example"
        r = c.post("/translate", json=body, headers={"Origin": "http://app.example"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == \
            "http://app.example"
        _error(c.post("/translate", json=body, headers={"Origin": "http://evil.example"}), 403)
        _error(c.options("/translate", headers={"Origin": "http://evil.example",
                                                "Access-Control-Request-Method": "POST"}), 403)


def test_draining_answers_503_with_retry_after(fake):
    with TestClient(create_app(fake, ServeSettings()), base_url=LOCAL) as c:
        assert c.post("/translate", json={"sentence": "a"}).status_code == 200
        c.app.state.draining = True
        r = c.post("/translate", json={"sentence": "a"})
        _error(r, 503, "shutting_down")
        assert int(r.headers["retry-after"]) > 0


def test_metrics_count_requests_latency_and_batch_sizes(fake):
    with TestClient(create_app(fake, ServeSettings()), base_url=LOCAL) as c:
        for _ in range(3):
            c.post("/translate", json={"q": ["a", "b"]})
        c.post("/translate", content=b"{", headers={"content-type": "application/json"})
        r = c.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'bertune_requests_total{route="/translate",status="200"} 3.0' in text
    assert 'bertune_requests_total{route="/translate",status="400"} 1.0' in text
    assert 'bertune_request_duration_seconds_count{route="/translate"} 4.0' in text
    assert "bertune_batch_sentences_sum 6.0" in text and "bertune_queue_depth 0.0" in text


def test_the_help_example_is_a_sentence_the_demo_model_knows(test_lines):
    """`serve --help` shows a curl example: its sentence comes from the demo corpus (the
    demo model translates that corpus, not everyday German)."""
    from typer.testing import CliRunner

    from bertune_cli.main import app

    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    example = re.search(r'\{"sentence": "([^"]+)"\}', result.output).group(1)
    assert example in test_lines  # the demo data's test set (generated with the demo's seed)
    assert "Guten Morgen" not in result.output
