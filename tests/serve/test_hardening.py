"""A real server on loopback against bad and hostile clients: a request the model cannot take
fails alone, invalid text and absurd bodies are 400s, foreign Host headers are refused, slow
and oversized requests are cut off, keys never reach the logs."""
from __future__ import annotations

import concurrent.futures
import json
import logging
import socket
import time

import httpx
import pytest

from bertune_cli.serve.app import create_app
from bertune_cli.serve.loading import describe_model
from bertune_cli.serve.settings import ServeSettings

SURROGATE_BODY = b'{"sentence": "a \\ud800 b"}'  # valid JSON, but not text


@pytest.fixture(scope="module")
def settings(tiny_run):
    return describe_model(tiny_run, ServeSettings(max_queue=1024, max_wait_ms=100))


def _error(response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}
    if error:
        assert body["error"] == error, body
    return body


def test_an_unpaired_surrogate_is_a_400_naming_the_field_and_fails_no_one_else(
        live, tiny_translator, settings, test_lines):
    want = {line: tiny_translator.translate([line], options=tiny_translator.options())[0]
            for line in test_lines}
    json_type = {"content-type": "application/json"}
    with live(create_app(tiny_translator, settings)) as server, \
            httpx.Client(base_url=server.url, timeout=60,
                         limits=httpx.Limits(max_connections=32)) as http:
        def valid(i):
            return http.post("/translate", json={"sentence": test_lines[i % len(test_lines)]})

        for _ in range(2):  # rounds of 30 valid requests with one bad one among them
            with concurrent.futures.ThreadPoolExecutor(31) as pool:
                oks = [pool.submit(valid, i) for i in range(30)]
                bad = pool.submit(http.post, "/translate", content=SURROGATE_BODY,
                                  headers=json_type)
                assert "sentence: character 3 is an unpaired surrogate (U+D800)" in \
                    _error(bad.result(), 400, "invalid_text")["detail"]
                for i, r in enumerate(f.result() for f in oks):
                    assert r.status_code == 200, r.text
                    assert r.json()["translated_sentence"] == want[test_lines[i % len(test_lines)]]
        body = b'{"q": ["gut", "x \\udc00"], "source": "de", "target": "en"}'
        assert "q[1]: character 3" in _error(http.post("/translate", content=body,
                                                       headers=json_type), 400)["detail"]
        assert "q: character 1" in _error(http.post("/explain", content=b'{"q": "\\ud800"}',
                                                    headers=json_type), 400)["detail"]
        assert "q[0]" in _error(http.post("/detect", content=b'{"q": ["\\ud800"]}',
                                          headers=json_type), 400)["detail"]


def test_the_core_replaces_unpaired_surrogates_with_a_warning(tiny_translator, caplog):
    """`bertune translate` and Python callers: U+FFFD, as for undecodable bytes, never a
    crash of the whole batch."""
    opts = tiny_translator.options()
    with caplog.at_level(logging.WARNING, logger="bertune.translate"):
        out = tiny_translator.translate(["Wir \ud800 essen.", "Wir essen."], opts)
    assert out[1] == tiny_translator.translate(["Wir essen."], opts)[0]
    assert out[0] == tiny_translator.translate(["Wir \ufffd essen."], opts)[0]
    assert "line 1 holds unpaired surrogates; replaced by U+FFFD" in caplog.text


def test_a_model_failure_fails_only_its_own_request(live, fake):
    fake.fail_on = "boom"
    app = create_app(fake, ServeSettings(max_wait_ms=300))
    with live(app) as server, httpx.Client(base_url=server.url, timeout=30,
                                           limits=httpx.Limits(max_connections=21)) as http:
        with concurrent.futures.ThreadPoolExecutor(21) as pool:
            oks = [pool.submit(http.post, "/translate", json={"sentence": f"s{i}"})
                   for i in range(20)]
            bad = pool.submit(http.post, "/translate", json={"sentence": "boom"})
            _error(bad.result(), 500, "internal_error")
            assert [f.result().json() for f in oks] == \
                [{"translated_sentence": f"S{i}"} for i in range(20)]
    assert max(len(c) for c in fake.calls) > 2  # the failing request was batched with others


class PickyTranslator:
    """The core refuses text it cannot preprocess with a DataError (the input's fault)."""
    device = "cpu"

    def options(self, **given):
        return {}

    def translate(self, lines, **options):
        from bertune_cli.core.errors import DataError

        if any("\x00" in line for line in lines):
            raise DataError("line 1 cannot be preprocessed (TypeError: ...)")
        return [line.upper() for line in lines]


def test_text_the_core_cannot_preprocess_is_a_400_for_its_request_only(live):
    app = create_app(PickyTranslator(), ServeSettings(max_wait_ms=300))
    with live(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            oks = [pool.submit(http.post, "/translate", json={"sentence": f"s{i}"})
                   for i in range(5)]
            bad = pool.submit(http.post, "/translate", json={"sentence": "a\x00b"})
            _error(bad.result(), 400, "invalid_text")
            assert [f.result().status_code for f in oks] == [200] * 5


def test_a_body_nested_100000_deep_is_a_400(live, fake):
    deep = b"[" * 100_000 + b"]" * 100_000
    with live(create_app(fake, ServeSettings(max_body_bytes=1 << 20))) as server, \
            httpx.Client(base_url=server.url, timeout=30) as http:
        for path in ("/translate", "/explain", "/detect"):
            body = b'{"q": ' + deep + b"}"
            detail = _error(http.post(path, content=body, headers={
                "content-type": "application/json"}), 400, "malformed_json")["detail"]
            assert "nested too deeply" in detail
        assert http.post("/translate", json={"sentence": "ok"}).status_code == 200


# ------------------------------------------------------------------------------- Host header
def test_only_requests_for_this_servers_names_are_answered(live, fake):
    """DNS rebinding: a page on evil.example that resolves its name to 127.0.0.1 sends
    `Host: evil.example`; the server refuses it, and answers its own names."""
    def status(url, host):
        return httpx.get(url + "/health", headers={"Host": host}).status_code

    with live(create_app(fake, ServeSettings())) as server:
        port = server.port
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}"):
            assert status(server.url, host) == 200, host
        r = httpx.post(server.url + "/translate", json={"sentence": "x"},
                       headers={"Host": "evil.example"})
        assert "DNS rebinding" in _error(r, 403, "host_not_allowed")["detail"]
        assert status(server.url, f"evil.example:{port}") == 403
        assert status(server.url, "127.0.0.1.evil.example") == 403
    allowed = ServeSettings(allowed_hosts=("mt.example.org", "*.corp.example"))
    with live(create_app(fake, allowed)) as server:
        assert status(server.url, "mt.example.org") == 200
        assert status(server.url, "a.corp.example:8000") == 200
        assert status(server.url, "corp.example.evil") == 403
    with live(create_app(fake, ServeSettings(host="0.0.0.0", allowed_hosts=("*",)))) as server:
        assert status(server.url, "anything.example") == 200


def test_binding_every_interface_needs_allowed_hosts(tiny_run, capsys):
    from bertune_cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--model", str(tiny_run), "--host", "0.0.0.0", "--port", "1"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--allowed-host" in err and "Traceback" not in err


# ------------------------------------------------------------------------------- slow clients
def _raw(server, data: bytes, then: bytes | None = None, pause: float = 0.0,
         wait: float = 5.0) -> tuple[bytes, float]:
    """Send ``data`` (then ``then`` after ``pause``) on a raw socket; return what the server
    sent before closing the connection, and after how many seconds it closed."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.settimeout(wait)
        if data:
            sock.sendall(data)
        if then is not None:
            time.sleep(pause)
            sock.sendall(then)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                return b"".join(chunks) + b"<still open>", time.monotonic() - start
            if not chunk:
                return b"".join(chunks), time.monotonic() - start
            chunks.append(chunk)


def _json_status(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_slow_headers_slow_bodies_idle_and_oversized_requests_are_cut_off(live, fake):
    app = create_app(fake, ServeSettings(read_timeout_s=0.5, max_header_bytes=4096))
    with live(app) as server:
        raw, took = _raw(server, b"POST /translate HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: 1")
        assert _json_status(raw) == (408, {"error": "request_timeout", "detail":
                                           "the request's headers did not arrive within 0.5 s"})
        assert took < 3
        raw, took = _raw(server, b"")  # connects, sends nothing: dropped without an answer
        assert raw == b"" and took < 3
        raw, _ = _raw(server, b"POST /translate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length:"
                              b" 40\r\nContent-Type: application/json\r\n\r\n{\"sentence\"")
        status, body = _json_status(raw)
        assert status == 408 and "body did not arrive within 0.5 s" in body["detail"]
        big = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
        status, body = _json_status(_raw(server, big)[0])
        assert status == 431 and body["error"] == "header_too_large"
        status, body = _json_status(_raw(server, b"NOT HTTP AT ALL\r\n\r\n")[0])
        assert status == 400 and body["error"] == "bad_http"
        # a client that sends its request in pieces, but in time, is served
        raw, _ = _raw(server, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                      b"Connection: close\r\n\r\n", pause=0.2)
        assert raw.startswith(b"HTTP/1.1 200")
        assert httpx.get(server.url + "/health").status_code == 200  # still serving


def test_stalled_connections_do_not_pile_up(live, fake):
    app = create_app(fake, ServeSettings(read_timeout_s=0.5))
    with live(app) as server:
        socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(40)]
        for sock in socks:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        deadline = time.monotonic() + 10
        while len(server.server.server_state.connections) > 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(server.server.server_state.connections) == 0
        for sock in socks:
            sock.close()
        assert httpx.get(server.url + "/health").status_code == 200


# ------------------------------------------------------------------------------- keys
def test_keys_in_the_query_string_work_and_never_reach_the_access_log(live, fake):
    from bertune_cli.serve.logs import RedactKeys, redact

    with live(create_app(fake, ServeSettings(api_keys=("k-query",)))) as server:
        assert httpx.post(server.url + "/translate?api_key=k-query",
                          json={"sentence": "x"}).status_code == 200
        _error(httpx.post(server.url + "/translate?api_key=wrong", json={"sentence": "x"}), 401)
        _error(httpx.get(server.url + "/metrics"), 401)
        assert httpx.get(server.url + "/metrics?api_key=k-query").status_code == 200
        assert httpx.get(server.url + "/docs").status_code == 200  # open: see docs/serving.md
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("1.2.3.4:5", "POST", "/translate?x=1&api_key=k-query", "1.1",
                                200), None)
    RedactKeys().filter(record)
    assert "k-query" not in record.getMessage() and "api_key=***" in record.getMessage()
    assert redact("/a?api_key=s&b=1") == "/a?api_key=***&b=1"


@pytest.mark.slow  # a subprocess that imports torch and loads the model: ~10-30 s
@pytest.mark.integration
def test_the_serve_command_keeps_query_keys_out_of_its_log(serve_cli):
    import signal

    proc, url = serve_cli("--api-key", "k-query", "--log-level", "info")
    try:
        assert httpx.post(url + "/translate?api_key=k-query",
                          json={"sentence": "hallo"}, timeout=30).status_code == 200
        assert httpx.get(url + "/health", headers={"Host": "evil.example"}).status_code == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0].decode()
    assert "POST /translate?api_key=*** HTTP/1.1" in out and "k-query" not in out
