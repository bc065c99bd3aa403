"""``POST /translate``: one endpoint, two contracts, told apart by the body's shape.

``{"sentence": ...}`` is the blog's contract (routes/blog.py); ``{"q": ...}`` LibreTranslate's
(routes/libre.py). The body is parsed here (JSON, or a form for LibreTranslate clients) and
validated against the matching schema; the OpenAPI document shows both shapes.
"""

from __future__ import annotations

from typing import Union

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from bertune_cli.serve.errors import ApiError, validation_detail
from bertune_cli.serve.guards import read_body, require_key
from bertune_cli.serve.routes import blog, libre
from bertune_cli.serve.schemas import ERRORS, BlogRequest, BlogResponse, LibreRequest, LibreResponse

router = APIRouter(tags=["translate"])

_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"anyOf": [BlogRequest.model_json_schema(), LibreRequest.model_json_schema()]}
        },
        "application/x-www-form-urlencoded": {"schema": LibreRequest.model_json_schema()},
    },
}


@router.post(
    "/translate",
    response_model=Union[BlogResponse, LibreResponse],
    response_model_exclude_none=True,
    responses=ERRORS,
    dependencies=[Depends(require_key)],
    openapi_extra={"requestBody": _BODY},
    summary="Translate (blog or LibreTranslate contract)",
)
async def translate(request: Request):
    body = await read_body(request)
    try:
        if "sentence" in body:
            return await blog.answer(BlogRequest.model_validate(body), request)
        if "q" in body:
            return await libre.answer(LibreRequest.model_validate(body), request)
    except ValidationError as exc:
        raise ApiError(422, validation_detail(exc.errors()), "invalid_request") from exc
    raise ApiError(
        422,
        'expected {"sentence": ...} (blog) or {"q": ..., "source": ..., '
        '"target": ...} (LibreTranslate)',
        "invalid_request",
    )
