"""The app factory: ``create_app(translator, settings)`` -> a FastAPI app (no global model).

Layers, outermost first: metrics (counts every answer) -> host guard (a ``Host`` this server
does not answer for: 403, hosts.py) -> origin guard (cross-origin 403) -> CORS (only with
``--cors``) -> the gate (drain 503, body size 413, body time 408, unexpected errors -> JSON
500; guards.py) -> routes (auth dependency, limits, then a job on the batcher's single model
thread). The app's lifespan starts the batcher and, when run by uvicorn in the main thread,
chains a SIGTERM/SIGINT handler in front of uvicorn's: from the signal on, new requests get 503
while uvicorn lets the requests in flight finish; then the batcher finishes its queued jobs and
stops.

``app_from_env`` is the factory uvicorn imports in each worker process with ``--workers N``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from typing import Callable

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from bertune_cli import __version__
from bertune_cli.serve.batcher import Batcher
from bertune_cli.serve.errors import install_handlers
from bertune_cli.serve.files import FileStore
from bertune_cli.serve.guards import Gate, OriginGuard
from bertune_cli.serve.hosts import HostGuard
from bertune_cli.serve.prometheus import Metrics, MetricsMiddleware
from bertune_cli.serve.routes import explain, files, libre, ops, page, translate
from bertune_cli.serve.settings import ServeSettings

log = logging.getLogger("bertune.serve")

DESCRIPTION = """Translate with a bertune model. `POST /translate` accepts the blog's contract
(`{"sentence"}`) and LibreTranslate's (`{"q", "source", "target", "format", "alternatives"}`,
with `POST /detect`, `POST /translate_file` and `GET /languages`); `POST /explain` adds
confidence, attention and MC-dropout uncertainty. A sentence's translation never depends on
the other sentences of its request or batch. Errors are always
`{"error": code, "detail": text}`."""


def _drain_on_signal(app: FastAPI) -> Callable[[], None]:
    """Mark the app draining on SIGTERM/SIGINT, then pass the signal on (to uvicorn)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals only reach the main thread (tests run servers in threads)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum, frame):
        app.state.draining = True
        before = previous.get(signum)
        if callable(before):
            before(signum, frame)

    for sig in previous:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, before in previous.items():
            signal.signal(sig, before)

    return restore


def create_app(translator, settings: ServeSettings | None = None) -> FastAPI:
    """A FastAPI app serving ``translator`` (a core ``Translator``, or anything with its
    ``translate``/``options`` methods) under ``settings``."""
    settings = settings or ServeSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.batcher.start()
        restore = _drain_on_signal(app)
        sweeper = asyncio.create_task(_sweep(app.state.files))
        try:
            yield
        finally:
            app.state.draining = True
            restore()
            sweeper.cancel()
            app.state.batcher.close(timeout=settings.timeout_s)
            app.state.files.close()  # translated files are deleted on shutdown

    swagger = page.swagger_assets()  # None: FastAPI's /docs (Swagger UI from its CDN)
    app = FastAPI(
        title="bertune",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        **({"docs_url": None} if swagger else {}),
    )
    metrics = Metrics()
    budget = settings.batch_tokens(getattr(translator, "device", None))
    batcher = Batcher(
        translator,
        batching=settings.batching,
        max_batch_tokens=budget,
        max_wait_ms=settings.max_wait_ms,
        max_queue=settings.max_queue,
        on_batch=metrics.observe_batch,
    )
    metrics.queue.set_function(lambda: batcher.depth)
    app.state.settings, app.state.translator = settings, translator
    app.state.batcher, app.state.metrics, app.state.draining = batcher, metrics, False
    app.state.files = FileStore(settings.file_ttl_s)

    install_handlers(app)
    for module in (translate, libre, files, explain, ops, page):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=page.STATIC), name="static")
    if swagger:
        app.mount(page.SWAGGER_MOUNT, StaticFiles(directory=swagger), name="swagger-ui")
        app.include_router(page.docs_router)

    # add_middleware wraps: the last added runs first. The gate sits inside CORS so its errors
    # carry CORS headers for allowed origins; the origin guard sits outside so even a refused
    # preflight is a JSON 403.
    app.add_middleware(Gate, state=app.state, settings=settings)
    if settings.cors:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization", "X-API-Key"],
        )
    app.add_middleware(OriginGuard, settings=settings)
    app.add_middleware(HostGuard, bind=settings.host, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


async def _sweep(store: FileStore) -> None:
    """Delete expired translated files every minute (or every TTL, if shorter)."""
    while True:
        await asyncio.sleep(max(0.05, min(60.0, store.ttl_s)))
        store.sweep()


def app_from_env() -> FastAPI:
    """uvicorn's factory for ``--workers N``: load the model named by the settings in
    ``$BERTUNE_SERVE_SETTINGS`` and build the app (one model per worker process)."""
    from pathlib import Path

    from bertune_cli.core.system.runtime import configure
    from bertune_cli.serve.loading import load_translator

    configure()  # a worker process is an entry point (core/system/runtime.py)
    settings = ServeSettings.from_env()
    return create_app(load_translator(Path(settings.model), settings), settings)
