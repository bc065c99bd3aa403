"""Running a job on the model from a route: timeout, queue-full and error mapping."""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable

from fastapi import Request

from bertune_cli.serve.batcher import QueueFull
from bertune_cli.serve.errors import ApiError


async def run_model(request: Request, job: Awaitable[Any]) -> Any:
    """Await a batcher job within the per-request timeout (504), 503 + Retry-After when the
    queue is full, 422 for a typed bertune error (a bad option), anything else a 500."""
    from bertune_cli.core.errors import BertuneError

    settings = request.app.state.settings
    try:
        return await asyncio.wait_for(job, timeout=settings.timeout_s)
    except QueueFull as exc:
        raise ApiError(503, str(exc), "queue_full",
                       {"Retry-After": str(exc.retry_after)}) from exc
    except asyncio.TimeoutError as exc:
        raise ApiError(504, f"the translation took longer than {settings.timeout_s:g} s",
                       "timeout") from exc
    except BertuneError as exc:
        raise ApiError(422, str(exc), "invalid_request") from exc


def decode_options(request: Request, n_best: int = 1) -> dict[str, Any]:
    """The checkpoint recipe's decoding options (as `bertune translate` uses them), with a beam
    wide enough for ``n_best`` hypotheses."""
    translator = request.app.state.translator
    options = translator.options()
    if n_best > 1:
        options["n_best"] = n_best
        options["beam"] = max(int(options.get("beam", 5)), n_best)
    return options
