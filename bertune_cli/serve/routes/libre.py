"""LibreTranslate's contract (https://docs.libretranslate.com/guides/api_usage/), so existing
LibreTranslate clients work unchanged: ``POST /translate`` with ``{"q", "source", "target",
"format", "alternatives"}`` (JSON or an urlencoded form) and ``GET /languages``.

``q`` a string -> ``translatedText`` a string and ``alternatives`` a list of strings; ``q`` a
list -> lists of those, in order. ``alternatives: k`` returns the next k hypotheses of the beam
(the beam is widened to k + 1 if needed). ``source: "auto"`` is answered with the model's
source language as ``detectedLanguage`` (a bertune model knows one pair). A pair the model does
not translate is a 400, as in LibreTranslate.
"""
from __future__ import annotations

from fastapi import APIRouter, Request

from bertune_cli.serve.errors import ApiError
from bertune_cli.serve.guards import check_lines
from bertune_cli.serve.routes.call import decode_options, run_model
from bertune_cli.serve.schemas import DetectedLanguage, Language, LibreRequest, LibreResponse

router = APIRouter(tags=["LibreTranslate"])

NAMES = {"ar": "Arabic", "bn": "Bengali", "cs": "Czech", "de": "German", "en": "English",
         "es": "Spanish", "fr": "French", "hi": "Hindi", "it": "Italian", "ja": "Japanese",
         "nl": "Dutch", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian",
         "tr": "Turkish", "uk": "Ukrainian", "vi": "Vietnamese", "zh": "Chinese"}


@router.get("/languages", response_model=list[Language], summary="The model's language pair")
async def languages(request: Request) -> list[Language]:
    s = request.app.state.settings
    return [Language(code=s.source_lang, name=NAMES.get(s.source_lang, s.source_lang),
                     targets=[s.target_lang]),
            Language(code=s.target_lang, name=NAMES.get(s.target_lang, s.target_lang),
                     targets=[])]


async def answer(body: LibreRequest, request: Request) -> LibreResponse:
    s = request.app.state.settings
    if body.source not in ("auto", s.source_lang) or body.target not in (None, s.target_lang):
        raise ApiError(400, f"{body.source}->{body.target} is not supported: this model "
                            f"translates {s.source_lang}->{s.target_lang}",
                       "unsupported_language")
    if body.alternatives > s.max_alternatives:
        raise ApiError(422, f"alternatives={body.alternatives}; the limit is "
                            f"{s.max_alternatives}", "too_many_alternatives")
    single = isinstance(body.q, str)
    lines = check_lines([body.q] if single else list(body.q), s)
    k = body.alternatives
    out = await run_model(request, request.app.state.batcher.translate(
        lines, **decode_options(request, n_best=k + 1)))
    texts = [o if isinstance(o, str) else o[0].text for o in out]
    alts = [[h.text for h in o[1:]] for o in out] if k else None
    detected = DetectedLanguage(language=s.source_lang, confidence=100.0) \
        if body.source == "auto" else None
    if single:
        return LibreResponse(translatedText=texts[0], alternatives=alts[0] if alts else None,
                             detectedLanguage=detected)
    return LibreResponse(translatedText=texts, alternatives=alts,
                         detectedLanguage=[detected] * len(texts) if detected else None)
