"""The app under uvicorn on 127.0.0.1 (real HTTP via httpx): contracts, every error code,
concurrent load, graceful shutdown on SIGTERM, and the `bertune serve` command itself."""
from __future__ import annotations

import concurrent.futures
import os
import signal
import socket
import threading
import time
from dataclasses import replace

import httpx
import pytest

from bertune_cli.serve.app import create_app
from bertune_cli.serve.loading import describe_model
from bertune_cli.serve.settings import ServeSettings


@pytest.fixture(scope="module")
def settings(tiny_run):
    return describe_model(tiny_run, ServeSettings(max_body_bytes=2048, max_sentences=4,
                                                  max_chars=200, api_keys=("k-live",)))


def test_both_contracts_and_every_error_code_over_http(live, tiny_translator, settings,
                                                       test_lines):
    want = tiny_translator.translate(test_lines[:2], options=tiny_translator.options())
    auth = {"Authorization": "Bearer k-live"}
    with live(create_app(tiny_translator, settings)) as server, \
            httpx.Client(base_url=server.url, headers=auth, timeout=30) as http:
        assert http.post("/translate", json={"sentence": test_lines[0]}).json() == \
            {"translated_sentence": want[0]}
        assert http.post("/translate", json={"q": test_lines[:2], "source": "de",
                                             "target": "en"}).json() == {"translatedText": want}
        assert http.get("/languages").json()[0]["targets"] == ["en"]
        assert "bertune_requests_total" in http.get("/metrics").text
        cases = [
            (http.post("/translate", content=b"{oops", headers={
                "content-type": "application/json"}), 400),
            (httpx.post(server.url + "/translate", json={"sentence": "x"}), 401),
            (http.post("/translate", content=b"x" * 4000), 413),
            (http.post("/translate", json={"q": ["a"] * 5}), 422),
            (http.post("/translate", json={"sentence": "a" * 201}), 422),
        ]
        for response, status in cases:
            assert response.status_code == status, response.text
            assert set(response.json()) == {"error", "detail"}
        assert http.get("/health").json()["status"] == "ok"  # still serving


def test_a_full_queue_is_503_with_retry_after_and_a_slow_request_times_out(live, fake):
    fake.gate = threading.Event()
    app = create_app(fake, ServeSettings(max_queue=1, timeout_s=0.5, batching=False))
    with live(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            stuck = pool.submit(http.post, "/translate", json={"sentence": "first"})
            deadline = time.monotonic() + 5
            while app.state.batcher.depth < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            full = http.post("/translate", json={"sentence": "second"})
            assert full.status_code == 503 and full.json()["error"] == "queue_full"
            assert int(full.headers["retry-after"]) >= 1
            timed_out = stuck.result()
        assert timed_out.status_code == 504 and timed_out.json()["error"] == "timeout"
        fake.gate.set()
        deadline = time.monotonic() + 5
        while app.state.batcher.depth and time.monotonic() < deadline:
            time.sleep(0.01)  # the abandoned first job still holds the only queue slot
        assert http.post("/translate", json={"sentence": "again"}).json() == \
            {"translated_sentence": "AGAIN"}


def test_a_model_failure_is_a_json_500_and_the_server_keeps_serving(live, fake):
    fake.fail_on = "boom"
    with live(create_app(fake, ServeSettings())) as server, \
            httpx.Client(base_url=server.url, timeout=10) as http:
        r = http.post("/translate", json={"sentence": "boom"})
        assert r.status_code == 500 and r.json()["error"] == "internal_error"
        assert "exploded" not in r.text  # internals stay in the server log
        assert http.post("/translate", json={"sentence": "ok"}).json() == \
            {"translated_sentence": "OK"}


def _load(url: str, lines: list[str], requests: int, parallel: int) -> list[httpx.Response]:
    with httpx.Client(base_url=url, timeout=60,
                      limits=httpx.Limits(max_connections=parallel)) as http:
        with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
            return list(pool.map(lambda i: http.post("/translate", json={
                "sentence": lines[i % len(lines)]}), range(requests)))


def _check_load(tiny_translator, settings, test_lines, live, requests, parallel):
    want = dict(zip(test_lines, tiny_translator.translate(test_lines,
                                                          options=tiny_translator.options())))
    app = create_app(tiny_translator, replace(settings, api_keys=(), max_queue=1024))
    start = time.monotonic()
    with live(app) as server:
        responses = _load(server.url, test_lines, requests, parallel)
        metrics = httpx.get(server.url + "/metrics").text
    assert time.monotonic() - start < 300  # bounded: a hang fails instead of stalling CI
    assert [r.status_code for r in responses] == [200] * requests
    for i, r in enumerate(responses):  # batching never mixes up whose sentence is whose
        assert r.json()["translated_sentence"] == want[test_lines[i % len(test_lines)]]
    assert f'bertune_requests_total{{route="/translate",status="200"}} {requests}.0' in metrics


def test_concurrent_requests_all_succeed(live, tiny_translator, settings, test_lines):
    _check_load(tiny_translator, settings, test_lines, live, requests=48, parallel=16)


@pytest.mark.slow
def test_300_requests_16_at_a_time_zero_failures(live, tiny_translator, settings, test_lines):
    _check_load(tiny_translator, settings, test_lines, live, requests=300, parallel=16)


def test_sigterm_lets_requests_in_flight_finish_and_refuses_new_ones(fake):
    """uvicorn in the main thread (signals reach only it), the client on another thread."""
    import uvicorn

    fake.delay = 1.0
    app = create_app(fake, ServeSettings(batching=False))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning",
                                           timeout_graceful_shutdown=10))
    seen: dict = {}

    def client():
        while not server.started:
            time.sleep(0.01)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            slow = pool.submit(httpx.post, url + "/translate", json={"sentence": "in flight"},
                               timeout=20)
            while not fake.calls:
                time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            try:
                seen["late"] = httpx.post(url + "/translate", json={"sentence": "late"},
                                          timeout=5).status_code
            except httpx.TransportError:
                seen["late"] = "refused"
            seen["slow"] = slow.result()

    # uvicorn re-raises the signal after shutting down: let it land on a harmless handler.
    previous = signal.signal(signal.SIGTERM, lambda *a: seen.setdefault("reraised", True))
    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    try:
        server.run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()
    thread.join(20)
    assert seen["slow"].status_code == 200
    assert seen["slow"].json() == {"translated_sentence": "IN FLIGHT"}
    assert seen["late"] in (503, "refused")
    assert ["late"] not in fake.calls


@pytest.mark.slow  # a subprocess that imports torch and loads the model: ~10-30 s
@pytest.mark.integration
def test_the_serve_command_serves_and_exits_cleanly_on_sigterm(serve_cli, tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text("# team keys\nk-file\n", encoding="utf-8")
    proc, url = serve_cli("--api-key-file", str(keys))
    try:
        assert httpx.post(url + "/translate", json={"sentence": "hallo"}).status_code == 401
        r = httpx.post(url + "/translate", json={"sentence": "hallo"},
                       headers={"X-API-Key": "k-file"}, timeout=30)
        assert r.status_code == 200 and "translated_sentence" in r.json()
        assert httpx.get(url + "/").headers["content-type"].startswith("text/html")
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0].decode()
    # uvicorn shuts down gracefully, then re-raises the signal: killed by SIGTERM, no traceback
    assert proc.returncode in (0, -signal.SIGTERM), out
    assert "Traceback" not in out and "k-file" not in out


@pytest.mark.slow
def test_several_workers(serve_cli):
    proc, url = serve_cli("--workers", "2", "--read-timeout", "5")
    try:
        rs = [httpx.post(url + "/translate", json={"q": "hallo"}, timeout=30) for _ in range(4)]
        assert all(r.status_code == 200 for r in rs)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode in (0, -signal.SIGTERM)


def test_a_busy_port_is_one_clear_error(tiny_run, capsys):
    from bertune_cli.main import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(SystemExit) as exit_:
            main(["serve", "--model", str(tiny_run), "--port", str(taken.getsockname()[1])])
    assert exit_.value.code == 2 and "cannot listen on 127.0.0.1" in capsys.readouterr().err
