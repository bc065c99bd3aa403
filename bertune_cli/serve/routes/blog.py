"""The blog's contract: ``{"sentence": "..."}`` -> ``{"translated_sentence": "..."}``."""

from __future__ import annotations

from fastapi import Request

from bertune_cli.serve.guards import check_lines
from bertune_cli.serve.routes.call import decode_options, run_model
from bertune_cli.serve.schemas import BlogRequest, BlogResponse


async def answer(body: BlogRequest, request: Request) -> BlogResponse:
    lines = check_lines([body.sentence], request.app.state.settings, "sentence", listed=False)
    out = await run_model(
        request, request.app.state.batcher.translate(lines, options=decode_options(request))
    )
    return BlogResponse(translated_sentence=out[0])
