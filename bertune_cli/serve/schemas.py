"""Request and response models of every endpoint (they are also the OpenAPI schema at /docs).

Two contracts share ``POST /translate``, told apart by the body's shape: the blog's
``{"sentence"}`` and LibreTranslate's ``{"q", "source", "target", "format", "alternatives"}``
(https://docs.libretranslate.com: ``q`` may be a string or a list; ``format`` is ``text`` or
``html``; ``alternatives`` asks for that many extra n-best translations). Both accept an
optional ``api_key`` in the body, as
LibreTranslate clients send it there.
"""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class BlogRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"sentence": "Haben wir das süße Brot gebacken?"}]},
    )
    sentence: str
    api_key: str | None = None


class BlogResponse(BaseModel):
    translated_sentence: str


class LibreRequest(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "q": "Haben wir das süße Brot gebacken?",
                    "source": "de",
                    "target": "en",
                    "format": "text",
                    "alternatives": 2,
                }
            ]
        },
    )
    q: Union[str, list[str]]
    source: str | None = Field(
        None,
        description="source language code, or 'auto' to identify it (default: the model's source)",
    )
    target: str | None = Field(None, description="target language code (default: the model's)")
    format: Literal["text", "html"] = Field(
        "text", description="'html': translate the text of an HTML fragment, keep its tags"
    )
    alternatives: int = Field(0, ge=0, description="extra n-best translations per sentence")
    api_key: str | None = None


class DetectedLanguage(BaseModel):
    language: str
    confidence: float


class LibreResponse(BaseModel):
    translatedText: Union[str, list[str]]
    alternatives: Union[list[str], list[list[str]], None] = None
    detectedLanguage: Union[DetectedLanguage, list[DetectedLanguage], None] = None


class Language(BaseModel):
    code: str
    name: str
    targets: list[str]


class ExplainRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "q": "Haben wir das süße Brot gebacken?",
                    "confidence": True,
                    "attention": True,
                    "mc_dropout": 8,
                }
            ]
        },
    )
    q: Union[str, list[str]]
    confidence: bool = True
    mc_dropout: int = Field(0, ge=0, description="Monte Carlo dropout passes (0 = off)")
    attention: bool = False
    attention_layer: int = -1
    attribution: bool = False
    seed: int = 0
    api_key: str | None = None


class ExplainResponse(BaseModel):
    results: list[dict[str, Any]] = Field(
        description="one object per sentence, as `bertune translate --json` with the same "
        "flags writes it"
    )


class Health(BaseModel):
    status: Literal["ok", "draining"]
    model: str | None
    device: str
    engine: str
    version: str
    pair: str
    queue: int
    batching: bool
    explain: bool = Field(description="whether POST /explain works (it needs the torch engine)")
    corpus: str | None = Field(None, description="what the model was trained on (its recipe)")
    example: str | None = Field(None, description="a source sentence of the model's test set")


class FileResponseBody(BaseModel):
    translatedFileUrl: str


class ErrorBody(BaseModel):
    error: str
    detail: Any


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "malformed JSON, invalid text, or an unsupported language",
        401: "missing or wrong API key",
        403: "Host or Origin not allowed",
        404: "not found",
        408: "the request did not arrive in time",
        413: "request body too large",
        422: "invalid request or a limit exceeded",
        503: "queue full or shutting down (see Retry-After)",
        504: "timed out",
    }.items()
}
