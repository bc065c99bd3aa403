"""LibreTranslate's contract (https://docs.libretranslate.com/guides/api_usage/), so existing
LibreTranslate clients work unchanged: ``POST /translate`` with ``{"q", "source", "target",
"format", "alternatives"}`` (JSON or an urlencoded form), ``POST /detect``, ``GET /languages``
(and ``POST /translate_file``, routes/files.py).

``q`` a string -> ``translatedText`` a string and ``alternatives`` a list of strings; ``q`` a
list -> lists of those, in order. ``alternatives: k`` returns the next k hypotheses of the beam
(the beam is widened to k + 1 if needed). ``format: "html"`` translates the text of an HTML
fragment and keeps its markup (serve/html.py; no alternatives, as in LibreTranslate).
``source: "auto"`` identifies the language of all of ``q`` together (serve/langid.py) and
answers it as ``detectedLanguage``; a language other than the model's source is a 400, as is a
pair the model does not translate.
"""

from __future__ import annotations

from typing import Union

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.concurrency import run_in_threadpool

from bertune_cli.serve.errors import ApiError, validation_detail
from bertune_cli.serve.guards import check_lines, read_body, require_key
from bertune_cli.serve.routes.call import decode_options, run_model
from bertune_cli.serve.schemas import (
    ERRORS,
    DetectedLanguage,
    Language,
    LibreRequest,
    LibreResponse,
)

router = APIRouter(tags=["LibreTranslate"])

NAMES = {
    "ar": "Arabic",
    "bn": "Bengali",
    "cs": "Czech",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "hi": "Hindi",
    "it": "Italian",
    "ja": "Japanese",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "vi": "Vietnamese",
    "zh": "Chinese",
}


class DetectRequest(BaseModel):
    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [{"q": "Haben wir das süße Brot gebacken?"}]}
    )
    q: Union[str, list[str]]
    api_key: str | None = None


@router.get("/languages", response_model=list[Language], summary="The model's language pair")
async def languages(request: Request) -> list[Language]:
    s = request.app.state.settings
    return [
        Language(
            code=s.source_lang,
            name=NAMES.get(s.source_lang, s.source_lang),
            targets=[s.target_lang],
        ),
        Language(code=s.target_lang, name=NAMES.get(s.target_lang, s.target_lang), targets=[]),
    ]


@router.post(
    "/detect",
    response_model=list[DetectedLanguage],
    responses=ERRORS,
    dependencies=[Depends(require_key)],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": DetectRequest.model_json_schema()},
                "application/x-www-form-urlencoded": {"schema": DetectRequest.model_json_schema()},
            },
        }
    },
    summary="Identify the language of a text (langdetect)",
)
async def detect(request: Request) -> list[DetectedLanguage]:
    try:
        body = DetectRequest.model_validate(await read_body(request))
    except ValidationError as exc:
        raise ApiError(422, validation_detail(exc.errors()), "invalid_request") from exc
    single = isinstance(body.q, str)
    texts = check_lines(
        [body.q] if single else list(body.q), request.app.state.settings, "q", listed=not single
    )
    found = await run_in_threadpool(identify, texts)
    # LibreTranslate's answer when nothing can be told: English at confidence 0
    return [DetectedLanguage(**d) for d in found] or [
        DetectedLanguage(language="en", confidence=0.0)
    ]


def identify(texts: list[str]) -> list[dict]:
    from bertune_cli.serve.langid import detect_languages

    return detect_languages(texts)


async def _auto_source(texts: list[str], request: Request) -> DetectedLanguage:
    """The detected language of ``texts`` if it is the model's source, else a 400."""
    s = request.app.state.settings
    found = await run_in_threadpool(identify, [t for t in texts if t.strip()])
    if not found or found[0]["language"] != s.source_lang:
        what = (
            f"the text looks like {NAMES.get(found[0]['language'], found[0]['language'])}"
            f" ({found[0]['language']}, confidence {found[0]['confidence']:g}%)"
            if found
            else "the language of the text cannot be identified"
        )
        raise ApiError(
            400,
            f"{what}; this model translates {s.source_lang}->{s.target_lang} "
            f'(send "source": "{s.source_lang}" to translate it anyway)',
            "unsupported_language",
        )
    return DetectedLanguage(**found[0])


async def answer(body: LibreRequest, request: Request) -> LibreResponse:
    s = request.app.state.settings
    if body.source not in (None, "auto", s.source_lang) or body.target not in (None, s.target_lang):
        raise ApiError(
            400,
            f"{body.source}->{body.target} is not supported: this model "
            f"translates {s.source_lang}->{s.target_lang}",
            "unsupported_language",
        )
    if body.alternatives > s.max_alternatives:
        raise ApiError(
            422,
            f"alternatives={body.alternatives}; the limit is {s.max_alternatives}",
            "too_many_alternatives",
        )
    single = isinstance(body.q, str)
    items = [body.q] if single else list(body.q)
    if body.format == "html":
        docs, lines = _html_segments(items, single, s)
    else:
        docs, lines = None, check_lines(items, s, "q", listed=not single)
    detected = await _auto_source(lines, request) if body.source == "auto" else None
    k = body.alternatives if docs is None else 0  # HTML: no alternatives (as LibreTranslate)
    out = (
        await run_model(
            request,
            request.app.state.batcher.translate(
                lines, options=decode_options(request, n_best=k + 1)
            ),
        )
        if lines
        else []
    )
    texts = [o[0].text for o in out] if k else list(out)
    alts = [[h.text for h in o[1:]] for o in out] if k else None
    if docs is not None:
        texts, at = [], 0
        for doc in docs:
            texts.append(doc.render(out[at : at + len(doc.segments)]))
            at += len(doc.segments)
        alts = [[] for _ in docs] if body.alternatives else None
    if single:
        return LibreResponse(
            translatedText=texts[0],
            alternatives=alts[0] if alts else None,
            detectedLanguage=detected,
        )
    return LibreResponse(
        translatedText=texts,
        alternatives=alts,
        detectedLanguage=[detected] * len(texts) if detected else None,
    )


def _html_segments(items: list[str], single: bool, s):
    """The parsed HTML items and their text segments (each one sentence for the model)."""
    from bertune_cli.serve.html import HtmlText

    check_lines(items, s, "q", listed=not single)  # sizes and valid text of the raw input
    docs = [HtmlText.parse(item) for item in items]
    segments = [seg for doc in docs for seg in doc.segments]
    if len(segments) > s.max_sentences:
        raise ApiError(
            422,
            f"{len(segments)} text segments in this HTML; the limit is {s.max_sentences}",
            "too_many_sentences",
        )
    return docs, segments
