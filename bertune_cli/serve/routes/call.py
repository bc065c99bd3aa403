"""Running a job on the model from a route: timeout, queue-full and error mapping."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable

from fastapi import Request

from bertune_cli.serve.batcher import QueueFull
from bertune_cli.serve.errors import ApiError


async def run_model(request: Request, job: Awaitable[Any], timeout: float | None = None) -> Any:
    """Await a batcher job within the per-request timeout (504), 503 + Retry-After when the
    queue is full, 400 when the request's text cannot be preprocessed (a DataError), 422 for
    another typed bertune error (a bad option), anything else a 500."""
    from bertune_cli.core.errors import BertuneError, DataError

    settings = request.app.state.settings
    timeout = timeout or settings.timeout_s
    try:
        return await asyncio.wait_for(job, timeout=timeout)
    except QueueFull as exc:
        raise ApiError(503, str(exc), "queue_full", {"Retry-After": str(exc.retry_after)}) from exc
    except asyncio.TimeoutError as exc:
        raise ApiError(504, f"the translation took longer than {timeout:g} s", "timeout") from exc
    except DataError as exc:  # the request's text could not be preprocessed
        raise ApiError(400, str(exc), "invalid_text") from exc
    except BertuneError as exc:
        raise ApiError(422, str(exc), "invalid_request") from exc


def decode_options(request: Request, n_best: int = 1):
    """A request's ``DecodeOptions``: the checkpoint recipe's (as `bertune translate` uses
    them), with ``n_best`` hypotheses and a beam wide enough for them."""
    options = request.app.state.translator.options()
    if n_best > 1:
        options = options.with_(n_best=n_best, beam=max(int(options.beam), n_best))
    return options
