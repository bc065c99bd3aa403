"""``POST /explain``: translations with confidence, attention, MC-dropout uncertainty and
attribution, as ``bertune translate --json`` with the same flags prints them (one code path:
``core.explain.explain``), run on the model's worker thread like every model call."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from bertune_cli.serve.errors import ApiError, validation_detail
from bertune_cli.serve.guards import check_lines, read_body, require_key
from bertune_cli.serve.routes.call import decode_options, run_model
from bertune_cli.serve.schemas import ERRORS, ExplainRequest, ExplainResponse

router = APIRouter(tags=["explain"])


_BODY = {
    "required": True,
    "content": {"application/json": {"schema": ExplainRequest.model_json_schema()}},
}


@router.post(
    "/explain",
    response_model=ExplainResponse,
    responses=ERRORS,
    dependencies=[Depends(require_key)],
    openapi_extra={"requestBody": _BODY},
    summary="Translate and explain: confidence, attention, MC-dropout, attribution",
)
async def explain(request: Request) -> ExplainResponse:
    s = request.app.state.settings
    if s.engine != "torch":
        raise ApiError(
            422,
            f"explanations need the torch engine; this server decodes with "
            f"{s.engine} (start it with --engine torch)",
            "explain_unavailable",
        )
    try:  # parsed here, not by FastAPI, so that a malformed body is always a JSON 400
        body = ExplainRequest.model_validate(await read_body(request))
    except ValidationError as exc:
        raise ApiError(422, validation_detail(exc.errors()), "invalid_request") from exc
    single = isinstance(body.q, str)
    lines = check_lines([body.q] if single else list(body.q), s, "q", listed=not single)
    if body.mc_dropout > s.max_mc_dropout:
        raise ApiError(
            422, f"mc_dropout={body.mc_dropout}; the limit is {s.max_mc_dropout}", "too_many_passes"
        )
    flags = body.model_dump(exclude={"q", "api_key"})
    results = await run_model(
        request, request.app.state.batcher.explain(lines, options=decode_options(request), **flags)
    )
    return ExplainResponse(results=results)
