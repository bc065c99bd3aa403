"""``POST /explain``: translations with confidence, attention, MC-dropout uncertainty and
attribution, as ``bertune translate --json`` with the same flags prints them (one code path:
``core.explain.explain``), run on the model's worker thread like every model call."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from bertune_cli.serve.errors import ApiError
from bertune_cli.serve.guards import check_lines, require_key
from bertune_cli.serve.routes.call import decode_options, run_model
from bertune_cli.serve.schemas import ERRORS, ExplainRequest, ExplainResponse

router = APIRouter(tags=["explain"])


@router.post("/explain", response_model=ExplainResponse, responses=ERRORS,
             dependencies=[Depends(require_key)],
             summary="Translate and explain: confidence, attention, MC-dropout, attribution")
async def explain(body: ExplainRequest, request: Request) -> ExplainResponse:
    s = request.app.state.settings
    lines = check_lines([body.q] if isinstance(body.q, str) else list(body.q), s)
    if body.mc_dropout > s.max_mc_dropout:
        raise ApiError(422, f"mc_dropout={body.mc_dropout}; the limit is {s.max_mc_dropout}",
                       "too_many_passes")
    flags = body.model_dump(exclude={"q", "api_key"})
    results = await run_model(request, request.app.state.batcher.explain(
        lines, **flags, **decode_options(request)))
    return ExplainResponse(results=results)
