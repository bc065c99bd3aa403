"""Access and limits: the API-key dependency, per-request limits, and the ASGI gate.

- ``require_key`` (a FastAPI dependency): when keys are configured, a request must carry one as
  ``Authorization: Bearer KEY``, ``X-API-Key: KEY``, ``"api_key"`` in the body (JSON, form or
  multipart: where LibreTranslate clients put it) or ``?api_key=KEY`` in the query string (as
  LibreTranslate also reads it); otherwise 401. Keys are compared with
  ``secrets.compare_digest`` against every configured key (no early exit) and never logged.
- ``check_lines``: sentences per request and characters per sentence (422).
- ``OriginGuard`` (ASGI middleware, outermost but metrics): 403 for a cross-origin request
  from an origin not allowed by ``--cors``.
- ``Gate`` (ASGI middleware, before routing): 503 + Retry-After while draining for shutdown,
  413 for a body over ``max_body_bytes`` (Content-Length, or counted while reading a chunked
  body) and 408 for a body that does not arrive within ``read_timeout_s``; below it, any
  unexpected error becomes a JSON 500 and the connection stays
  usable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from urllib.parse import parse_qs, urlsplit

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPBearer

from bertune_cli.serve.errors import ApiError, error_response
from bertune_cli.serve.settings import ServeSettings

log = logging.getLogger("bertune.serve")
_SURROGATE = re.compile("[\ud800-\udfff]")
_BODY_METHODS = {"POST", "PUT", "PATCH"}


# ---------------------------------------------------------------------- body parsing
async def read_body(request: Request) -> dict:
    """The body as a dict, from JSON or a LibreTranslate-style urlencoded form (400 if bad).
    A form-typed body that starts with ``{`` is JSON: ``curl -d '{...}'`` without a
    Content-Type header sends exactly that."""
    raw = await request.body()
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if kind == "application/x-www-form-urlencoded" and not raw.lstrip().startswith(b"{"):
        try:
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError as exc:
            raise ApiError(400, "the form body is not UTF-8", "malformed_body") from exc
        out: dict = {k: v if len(v) > 1 else v[0] for k, v in form.items()}
        if "alternatives" in out:
            try:
                out["alternatives"] = int(out["alternatives"])
            except (TypeError, ValueError):
                pass  # left as text: validation answers 422
        return out
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "the request body is not valid JSON", "malformed_json") from exc
    except RecursionError as exc:  # e.g. [[[[...]]]] 100,000 deep: the parser gives up
        raise ApiError(
            400, "the request body is nested too deeply to be a request", "malformed_json"
        ) from exc
    if not isinstance(body, dict):
        raise ApiError(422, "the request body must be a JSON object", "invalid_request")
    return body


# ---------------------------------------------------------------------- auth
def _header_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key") or request.query_params.get("api_key")


async def _body_key(request: Request) -> str | None:
    if request.method not in _BODY_METHODS:
        return None
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    try:
        if kind == "multipart/form-data":  # /translate_file
            key = (await request.form()).get("api_key")
        else:
            key = (await read_body(request)).get("api_key")
    except Exception:  # a malformed body carries no key (the route reports it, if reached)
        return None
    return key if isinstance(key, str) else None


def key_matches(given: str | None, keys: tuple[str, ...]) -> bool:
    if given is None:
        return False
    ok = False
    for key in keys:  # every key is compared, so timing does not tell which prefix matched
        ok |= secrets.compare_digest(given.encode("utf-8"), key.encode("utf-8"))
    return ok


# Declared to OpenAPI, so that /docs has an "Authorize" button for every way to send a key;
# ``require_key`` reads the request itself (the body too), so these never refuse on their own.
_SCHEMES = (
    HTTPBearer(auto_error=False, description="Authorization: Bearer KEY"),
    APIKeyHeader(name="X-API-Key", auto_error=False),
    APIKeyQuery(name="api_key", auto_error=False),
)


async def require_key(
    request: Request, _b=Depends(_SCHEMES[0]), _h=Depends(_SCHEMES[1]), _q=Depends(_SCHEMES[2])
) -> None:
    keys = request.app.state.settings.api_keys
    if not keys:
        return
    given = _header_key(request) or await _body_key(request)
    if not key_matches(given, keys):
        raise ApiError(
            401,
            "a valid API key is required: send 'Authorization: Bearer KEY', "
            "'X-API-Key: KEY', \"api_key\" in the body or ?api_key=KEY",
            "unauthorized",
            {"WWW-Authenticate": "Bearer"},
        )


# ---------------------------------------------------------------------- limits
def check_lines(
    lines: list[str], settings: ServeSettings, field: str = "q", listed: bool = True
) -> list[str]:
    """The lines, each one sentence (line breaks inside become spaces), or 422 over a limit,
    or 400 for text that is not valid Unicode (an unpaired surrogate, which JSON's ``\\ud800``
    can carry), naming the field: ``field[i]`` when the request sent a list (``listed``), else
    ``field``."""
    if not lines:
        raise ApiError(422, "no sentence given", "invalid_request")
    if len(lines) > settings.max_sentences:
        raise ApiError(
            422,
            f"{len(lines)} sentences in one request; the limit is {settings.max_sentences}",
            "too_many_sentences",
        )
    for i, line in enumerate(lines):
        name = f"{field}[{i}]" if listed else field
        if len(line) > settings.max_chars:
            raise ApiError(
                422,
                f"sentence {i + 1} has {len(line)} characters; the limit is {settings.max_chars}",
                "sentence_too_long",
            )
        bad = _SURROGATE.search(line)
        if bad:
            raise ApiError(
                400,
                f"{name}: character {bad.start() + 1} is an unpaired surrogate "
                f"(U+{ord(bad.group()):04X}), which is not text; send valid "
                "Unicode (a surrogate pair, or the character itself)",
                "invalid_text",
            )
    return [" ".join(line.splitlines()) for line in lines]


# ---------------------------------------------------------------------- ASGI gate
def _same_origin(origin: str, host: str | None) -> bool:
    return bool(host) and urlsplit(origin).netloc.lower() == host.lower()


def _headers(scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


class OriginGuard:
    """Pure ASGI middleware, outside CORS handling: a request whose ``Origin`` is neither this
    server nor allowed by ``--cors`` gets a JSON 403 (preflights included)."""

    def __init__(self, app, settings: ServeSettings):
        self.app, self.allowed = app, settings.cors

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = _headers(scope)
            origin = headers.get("origin")
            if (
                origin
                and not _same_origin(origin, headers.get("host"))
                and "*" not in self.allowed
                and origin not in self.allowed
            ):
                return await error_response(
                    403,
                    "cors_refused",
                    f"cross-origin requests from "
                    f"{origin} are not allowed (start the server with "
                    "--cors ORIGIN)",
                )(scope, receive, send)
        return await self.app(scope, receive, send)


class Gate:
    """Pure ASGI middleware: drain and body-size checks before any route runs, and a JSON 500
    for anything unexpected below it."""

    def __init__(self, app, state, settings: ServeSettings):
        self.app, self.state, self.settings = app, state, settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = _headers(scope)
        if getattr(self.state, "draining", False):
            return await error_response(
                503,
                "shutting_down",
                "the server is shutting down",
                {"Retry-After": "5", "Connection": "close"},
            )(scope, receive, send)
        if scope.get("method") not in _BODY_METHODS:
            return await self.shielded(scope, receive, send)
        limit = self.settings.max_body_bytes
        too_large = error_response(
            413, "payload_too_large", f"the request body is over {limit} bytes"
        )
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return await too_large(scope, receive, send)
        chunks, size, more = [], 0, True
        deadline = asyncio.get_running_loop().time() + self.settings.read_timeout_s
        while more:  # read the body here (bounded in size and time), then replay it to the app
            try:
                message = await asyncio.wait_for(
                    receive(), max(0.0, deadline - asyncio.get_running_loop().time())
                )
            except asyncio.TimeoutError:
                return await error_response(
                    408,
                    "request_timeout",
                    f"the request body did not arrive within {self.settings.read_timeout_s:g} s",
                    {"Connection": "close"},
                )(scope, receive, send)
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > limit:
                return await too_large(scope, receive, send)
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.shielded(scope, replay, send)

    async def shielded(self, scope, receive, send):
        """Run the app; an unexpected error becomes a JSON 500 here, so it never reaches
        Starlette's ServerErrorMiddleware (which re-raises and makes uvicorn drop the
        keep-alive connection: the client's next request would fail)."""
        started = False

        async def tap(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tap)
        except Exception as exc:
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await error_response(
                    500, "internal_error", f"{exc.__class__.__name__} in the server"
                )(scope, receive, send)
