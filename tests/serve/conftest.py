"""Serve fixtures: a tiny trained model, fake translators, a real uvicorn server on loopback,
and headless Chromium (Selenium) for the page."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import threading
import time

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_data_dir):
    """A tiny baseline trained for 2 epochs on the session's 400-pair demo data (seconds): its
    own, not the shared one-epoch tiny_baseline, since the serve checks were written on this
    beam-3 model (the same weights as before the suite shared its recipe)."""
    import torch

    from bertune_cli.core.loops.train_baseline import train_baseline

    from tiny import tiny_recipe

    torch.set_num_threads(1)  # tiny models: a second OpenMP thread only spins on shared cores
    root = tmp_path_factory.mktemp("serve")
    train_baseline(tiny_recipe("eval.beam=3"), tiny_data_dir, root / "baseline", device="cpu",
                   max_epochs=2)
    return root / "baseline"


def _train_more(tiny_run, data, name: str, preset: str, updates: int):
    """Another model on the same data: ``preset`` after ``updates`` updates."""
    from bertune_cli.core.loops.train_baseline import train_baseline

    from tiny import tiny_recipe

    recipe = tiny_recipe(f"model.preset={preset}", "train.max_tokens=512", "eval.beam=3")
    out = tiny_run.parent / name
    train_baseline(recipe, data, out, device="cpu", max_steps=updates)
    return out


@pytest.fixture(scope="session")
def runaway_tiny_run(tiny_run, tiny_data_dir):
    """A tiny model after 2 updates: its outputs run on to their length cap (beam 3), so
    they show whether a sentence's cap depends on its batch (seconds)."""
    return _train_more(tiny_run, tiny_data_dir, "runaway-tiny", "transformer_tiny", 2)


@pytest.fixture(scope="session")
def demo_arch_run(tiny_run, tiny_data_dir):
    """The demo recipe's model (transformer_small) after 8 updates on the demo data: most
    outputs run to their cap, with near-ties everywhere (~15 s)."""
    return _train_more(tiny_run, tiny_data_dir, "demo-arch", "transformer_small", 8)


@pytest.fixture(scope="session")
def tiny_translator(tiny_run):
    from bertune_cli.core.translation import Translator

    return Translator.load(tiny_run, "cpu")


@pytest.fixture(scope="session")
def test_lines(tiny_data_dir):
    return (tiny_data_dir / "test.src.txt").read_text(encoding="utf-8").splitlines()


class FakeTranslator:
    """Stands in for a Translator where the test needs control: upper-cases each line, after
    waiting for ``gate`` (if set) and ``delay`` seconds; records every call."""

    device = "cpu"

    def __init__(self, delay: float = 0.0, fail_on: str | None = None):
        self.delay, self.fail_on = delay, fail_on
        self.gate: threading.Event | None = None
        self.calls: list[list[str]] = []

    def options(self, **given):
        from bertune_cli.core.translation import DecodeOptions

        return DecodeOptions().with_(**given)

    def translate(self, lines, options=None, **given):
        n_best = (options or self.options()).with_(**given).n_best
        self.calls.append(list(lines))
        if self.gate is not None:
            self.gate.wait(10)
        if self.delay:
            time.sleep(self.delay)
        if self.fail_on and any(self.fail_on in line for line in lines):
            raise RuntimeError("model exploded")
        if n_best > 1:
            from bertune_cli.core.translation import Hypothesis
            return [[Hypothesis(line.upper() + "!" * k) for k in range(n_best)] for line in lines]
        return [line.upper() for line in lines]


@pytest.fixture()
def fake():
    return FakeTranslator()


class LiveServer:
    """An app served by uvicorn on 127.0.0.1 (a free port) in a background thread, with the
    protocol `bertune serve` uses (slow-client and header-size bounds from the app's
    settings)."""

    def __init__(self, app, graceful_s: int = 10):
        import uvicorn

        from bertune_cli.serve.protocol import protocol_for

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        s = app.state.settings
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=graceful_s,
                                http=protocol_for(s.read_timeout_s, s.max_header_bytes),
                                h11_max_incomplete_event_size=s.max_header_bytes)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(20)
        self.sock.close()


@pytest.fixture()
def live():
    """``with live(app) as server: httpx.get(server.url + ...)``."""
    return LiveServer


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium through chromedriver (Selenium); skipped only if there is none."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip(f"no Chromium/chromedriver ({CHROMIUM}, {CHROMEDRIVER}): "
                    "apt-get install chromium chromium-driver (.ci/run does)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="bertune-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1200,900", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console errors
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    with contextlib.suppress(Exception):
        driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def serve_cli(tiny_run):
    """``serve_cli(*options)`` starts `bertune serve --model <tiny_run>` in a subprocess on a
    free port and returns ``(process, url)`` once /health answers (stdout+stderr piped)."""
    import subprocess
    import sys

    import httpx

    def start(*extra: str):
        port = free_port()
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
        if "--log-level" not in extra:
            extra = (*extra, "--log-level", "warning")
        proc = subprocess.Popen([sys.executable, "-m", "bertune_cli.main", "serve", "--model",
                                 str(tiny_run), "--port", str(port), "--device", "cpu", *extra],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300  # 2 workers on a loaded 2-core machine: minutes
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(proc.stdout.read().decode())
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    return proc, url
            except httpx.TransportError:
                time.sleep(0.2)
        proc.kill()
        raise AssertionError("bertune serve did not start")

    return start
