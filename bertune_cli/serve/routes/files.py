"""LibreTranslate's file translation: ``POST /translate_file`` (multipart: ``file``, ``source``,
``target``, ``api_key``) -> ``{"translatedFileUrl": ".../download_file/<token>.<name>"}``, then
``GET /download_file/<token>.<name>`` (an attachment; no key needed: the URL holds a random
128-bit token, as in LibreTranslate).

Types: ``.txt`` (one sentence per line; empty lines kept) and ``.html``/``.htm`` (the text of
the document translated, its markup kept: serve/html.py), UTF-8 (a BOM is dropped). Limits:
the body limit (``--max-body-bytes``, 413), ``--max-file-lines`` lines or text segments (413),
``--max-chars`` per line (422). The lines go to the batcher in requests of ``--max-sentences``,
so a file shares the model with other clients instead of holding it, each part within
``--timeout``. Downloads are kept ``--file-ttl`` seconds in a private temporary folder
(serve/files.py), deleted on shutdown; a translated HTML file is served so that a browser
never renders it on this origin (attachment, ``Content-Security-Policy: sandbox``).
"""

from __future__ import annotations

import asyncio
from pathlib import PurePath

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from bertune_cli.serve.errors import ApiError
from bertune_cli.serve.files import safe_name
from bertune_cli.serve.guards import require_key
from bertune_cli.serve.routes.call import decode_options, run_model
from bertune_cli.serve.schemas import ERRORS, FileResponseBody

router = APIRouter(tags=["LibreTranslate"])

TYPES = {
    ".txt": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
}
_FORM = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": ".txt or .html, UTF-8",
                    },
                    "source": {"type": "string", "example": "de"},
                    "target": {"type": "string", "example": "en"},
                    "api_key": {"type": "string"},
                },
            }
        }
    },
}


@router.post(
    "/translate_file",
    response_model=FileResponseBody,
    responses=ERRORS,
    dependencies=[Depends(require_key)],
    openapi_extra={"requestBody": _FORM},
    summary="Translate a .txt or .html file; answers its download URL",
)
async def translate_file(request: Request) -> FileResponseBody:
    s = request.app.state.settings
    upload, source, target = await _read_form(request)
    if source not in (None, "", "auto", s.source_lang) or target not in (None, "", s.target_lang):
        raise ApiError(
            400,
            f"{source}->{target} is not supported: this model translates "
            f"{s.source_lang}->{s.target_lang}",
            "unsupported_language",
        )
    name = safe_name(upload.filename or "")
    kind = PurePath(name).suffix.lower()
    if kind not in TYPES:
        raise ApiError(
            400,
            f"file type {kind or '(none)'} is not supported; send a .txt or .html file",
            "unsupported_file_type",
        )
    try:
        text = (await upload.read()).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, f"the file is not UTF-8 text (byte {exc.start + 1})", "invalid_text"
        ) from exc
    if kind == ".txt":
        result = await _translate_text(text, request)
    else:
        result = await _translate_html(text, request)
    url_name = request.app.state.files.put(result.encode("utf-8"), name, TYPES[kind])
    return FileResponseBody(translatedFileUrl=f"{request.base_url}download_file/{url_name}")


@router.get(
    "/download_file/{url_name}",
    response_class=FileResponse,
    responses={404: ERRORS[404]},
    summary="Download a translated file",
)
async def download_file(url_name: str, request: Request) -> FileResponse:
    stored = request.app.state.files.get(url_name)
    if stored is None:
        raise ApiError(
            404,
            f"no such file (files are kept for {request.app.state.settings.file_ttl_s:g} s)",
            "not_found",
        )
    return FileResponse(
        stored.path,
        media_type=stored.media_type,
        filename=stored.name,
        content_disposition_type="attachment",
        headers={
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


async def _read_form(request: Request):
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "multipart/form-data":
        raise ApiError(
            415, "send the file as multipart/form-data (field 'file')", "unsupported_media_type"
        )
    try:
        form = await request.form(max_files=1, max_fields=16)
    except Exception as exc:  # python-multipart's parse errors, starlette's limits
        raise ApiError(
            400, f"the multipart body cannot be read ({exc.__class__.__name__})", "malformed_body"
        ) from exc
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise ApiError(422, "no file: send it in the form field 'file'", "invalid_request")
    fields = [form.get(k) for k in ("source", "target")]
    return upload, *(f if isinstance(f, str) else None for f in fields)


async def _translate_lines(lines: list[str], what: list[str], request: Request) -> list[str]:
    """``lines`` (``what[i]`` names line i in errors) through the batcher, ``--max-sentences``
    per job, all jobs queued at once (each may take ``--timeout`` times the number of jobs:
    they wait for one another)."""
    s = request.app.state.settings
    if len(lines) > s.max_file_lines:
        raise ApiError(
            413,
            f"the file has {len(lines)} lines or text segments to translate; "
            f"the limit is {s.max_file_lines}",
            "file_too_large",
        )
    for line, name in zip(lines, what):
        if len(line) > s.max_chars:
            raise ApiError(
                422,
                f"{name} has {len(line)} characters; the limit is {s.max_chars}",
                "sentence_too_long",
            )
    step = s.max_sentences
    parts = [lines[i : i + step] for i in range(0, len(lines), step)]
    options, timeout = decode_options(request), s.timeout_s * len(parts)
    outs = await asyncio.gather(
        *(
            run_model(request, request.app.state.batcher.translate(part, options=options), timeout)
            for part in parts
        )
    )
    return [line for out in outs for line in out]


async def _translate_text(text: str, request: Request) -> str:
    lines = text.splitlines()
    todo = [i for i, line in enumerate(lines) if line.strip()]
    out = (
        await _translate_lines([lines[i] for i in todo], [f"line {i + 1}" for i in todo], request)
        if todo
        else []
    )
    for i, translation in zip(todo, out):
        lines[i] = translation
    return "\n".join(lines) + ("\n" if text.endswith(("\n", "\r")) else "")


async def _translate_html(text: str, request: Request) -> str:
    from bertune_cli.serve.html import HtmlText

    doc = HtmlText.parse(text)
    names = [f"text segment {i + 1}" for i in range(len(doc.segments))]
    out = await _translate_lines(doc.segments, names, request) if doc.segments else []
    return doc.render(out)
