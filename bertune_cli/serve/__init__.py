"""The HTTP adapter: a FastAPI app around one ``Translator`` (see ``create_app``).

Layout: ``app.py`` (factory, lifespan), ``settings.py``, ``schemas.py`` (request/response
models), ``batcher.py`` (dynamic batching on one model thread), ``guards.py`` (auth, limits),
``prometheus.py`` (metrics), ``errors.py`` (one JSON error shape), ``routes/`` (one module per
contract) and ``static/`` (the web page). The core never imports this package.
"""

__all__ = [
    "app",
    "settings",
    "schemas",
    "batcher",
    "guards",
    "prometheus",
    "errors",
    "routes",
    "files",
    "hosts",
    "html",
    "langid",
    "loading",
    "logs",
    "protocol",
]
