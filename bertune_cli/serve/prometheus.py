"""Prometheus metrics of one app (its own ``CollectorRegistry``: no process-global state).

- ``bertune_requests_total{route,status}``: requests answered, by route and HTTP status;
- ``bertune_request_duration_seconds{route}``: latency histogram (request in -> response out);
- ``bertune_batch_sentences``: sentences per model call (how well dynamic batching gathers);
- ``bertune_batch_duration_seconds``: seconds per model call;
- ``bertune_queue_depth``: requests waiting or running on the model now.

Routes are labelled by their path template from a fixed list (anything else is ``other``), so a
scanner hitting random URLs cannot blow up the label set. With ``--workers N`` each worker
process reports its own numbers.
"""

from __future__ import annotations

import time
from typing import Callable

ROUTES = (
    "/translate",
    "/explain",
    "/detect",
    "/translate_file",
    "/languages",
    "/health",
    "/metrics",
    "/",
    "/docs",
    "/openapi.json",
)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def route_label(path: str) -> str:
    if path in ROUTES:
        return path
    if path.startswith("/static/"):
        return "/static"
    if path.startswith("/download_file/"):
        return "/download_file"
    return "/swagger-ui" if path.startswith("/swagger-ui/") else "other"


class Metrics:
    def __init__(self, queue_depth: Callable[[], float] | None = None):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bertune_requests",
            "HTTP requests answered, by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "bertune_request_duration_seconds",
            "Request latency in seconds, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_sentences = Histogram(
            "bertune_batch_sentences",
            "Sentences per model call",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "bertune_batch_duration_seconds",
            "Seconds per model call",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue = Gauge(
            "bertune_queue_depth",
            "Requests waiting or running on the model",
            registry=self.registry,
        )
        if queue_depth is not None:
            self.queue.set_function(queue_depth)

    def observe_batch(self, sentences: int, seconds: float) -> None:
        self.batch_sentences.observe(sentences)
        self.batch_seconds.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Pure ASGI: counts every HTTP answer (errors from the other middleware included)."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), 500

        async def tap(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tap)
        finally:
            route = route_label(scope.get("path", ""))
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)
