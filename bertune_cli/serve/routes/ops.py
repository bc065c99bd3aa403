"""Operations: ``GET /health`` (model loaded, device, version, what the page needs: whether
``/explain`` works, the training corpus, an example sentence) and ``GET /metrics``
(Prometheus text format, see serve/prometheus.py; it needs the key when keys are set)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from bertune_cli import __version__
from bertune_cli.serve.guards import require_key
from bertune_cli.serve.schemas import ERRORS, Health

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health, summary="Model loaded, device, version")
async def health(request: Request) -> Health:
    s, state = request.app.state.settings, request.app.state
    device = str(getattr(state.translator, "device", s.device))  # resolved ("auto" -> "cpu")
    return Health(
        status="draining" if state.draining else "ok",
        model=s.model,
        device=device,
        engine=s.engine,
        version=__version__,
        pair=f"{s.source_lang}-{s.target_lang}",
        queue=state.batcher.depth,
        batching=s.batching,
        explain=s.engine == "torch",
        corpus=s.corpus,
        example=s.example,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={401: ERRORS[401]},
    dependencies=[Depends(require_key)],
    summary="Prometheus metrics",
)
async def metrics(request: Request) -> Response:
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)
