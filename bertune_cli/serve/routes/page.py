"""The web page: ``GET /`` serves static/index.html; its script and style sheet are served
from ``/static`` (no CDN, no build step: the page works offline)."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def page() -> FileResponse:
    # The page loads only its own files; a strict CSP makes injected markup inert as well.
    return FileResponse(STATIC / "index.html", media_type="text/html", headers={
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                                   "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff"})
