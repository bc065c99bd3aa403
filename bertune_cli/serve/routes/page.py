"""The web page: ``GET /`` serves static/index.html; its script and style sheet are served
from ``/static`` (no CDN, no build step: the page works offline)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def page() -> FileResponse:
    # The page loads only its own files; a strict CSP makes injected markup inert as well.
    return FileResponse(
        STATIC / "index.html",
        media_type="text/html",
        headers={
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
        },
    )


# ----------------------------------------------------------------------------- /docs offline
# Swagger UI 5 (OpenAPI 3.1, what FastAPI emits) from the files the `fastapi-offline` package
# ships (in the `serve` extra), instead of FastAPI's default, which loads its script and style
# sheet from a CDN and is blank without network. Only its static files are used.
SWAGGER_MOUNT = "/swagger-ui"
docs_router = APIRouter(include_in_schema=False)


def swagger_assets() -> Path | None:
    """The folder holding swagger-ui-bundle.js / swagger-ui.css, or None without the package."""
    import importlib.util

    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "static"
    return path if (path / "swagger-ui-bundle.js").is_file() else None


@docs_router.get("/docs")
async def docs(request: Request) -> HTMLResponse:
    from fastapi.openapi.docs import get_swagger_ui_html

    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=root + request.app.openapi_url,
        title=f"{request.app.title} — API",
        swagger_js_url=f"{root}{SWAGGER_MOUNT}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{SWAGGER_MOUNT}/swagger-ui.css",
        swagger_favicon_url=f"{root}{SWAGGER_MOUNT}/favicon.png",
    )
