"""Dynamic batching: requests that arrive together share one model call, on one worker thread.

Handlers ``await batcher.translate(lines, options=DecodeOptions(...))`` (keyword arguments of
``Translator.translate``; for /explain, of ``core.explain.explain``); the job goes into a
queue and the handler's coroutine waits on an asyncio future, so the event loop keeps serving
while the model runs. The single worker thread takes the oldest job, then keeps taking jobs for
at most
``max_wait_ms`` or until ``max_batch_tokens`` estimated source tokens are gathered, concatenates
the lines of the jobs that share the same decoding options, runs ``Translator.translate`` once
(it length-sorts and cuts the lines into its own padded batches) and resolves each job's future
with its slice of the output. ``/explain`` jobs run alone (their MC-dropout seed is per request)
on the same thread, because MC dropout switches the model into train mode: the model must
never run on two threads at once. With ``batching=False`` every job is its own model call (the
benchmark's baseline).

A failing model call never fails its neighbours: the batch is split in halves and retried
down to the single job that fails alone, which alone gets the error (``_call``).

The queue is bounded (``max_queue`` requests waiting or running): beyond it ``submit`` raises
``QueueFull`` with a Retry-After estimate from the measured seconds per sentence. A job whose
caller timed out (its future was cancelled) is skipped, not computed.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger("bertune.serve")
_STOP = None


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"the queue is full; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(eq=False)
class Job:
    kind: str  # "translate" | "explain"
    lines: list[str]
    options: dict[str, Any]
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    tokens: int  # estimated source tokens (words + </s>)
    key: tuple = field(init=False)

    def __post_init__(self) -> None:
        self.key = (self.kind, tuple(sorted(self.options.items())))


def estimate_tokens(lines: list[str]) -> int:
    """Source tokens before BPE (a lower bound of the BPE count): words + </s> per line."""
    return sum(len(line.split()) + 1 for line in lines)


class Batcher:
    def __init__(
        self,
        translator,
        *,
        batching: bool = True,
        max_batch_tokens: int = 1024,
        max_wait_ms: float = 5.0,
        max_queue: int = 256,
        on_batch: Callable[[int, float], None] | None = None,
        explain_fn: Callable[..., list[dict]] | None = None,
    ):
        self.translator = translator
        self.batching, self.max_batch_tokens = batching, max(1, int(max_batch_tokens))
        self.max_wait = max(0.0, float(max_wait_ms)) / 1000.0
        self.max_queue = max(1, int(max_queue))
        self.on_batch = on_batch or (lambda sentences, seconds: None)
        self._explain_fn = explain_fn
        self._q: queue.Queue = queue.Queue()
        self._held: collections.deque = collections.deque()  # taken while gathering, not fitting
        self._lock = threading.Lock()
        self._depth = 0  # requests submitted and not finished
        self._pending_lines = 0
        self._sec_per_line = 0.05  # running estimate for Retry-After
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the worker thread (also done by the first submit: an app used without its
        lifespan, e.g. a bare TestClient, still works)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="bertune-model", daemon=True
                )
                self._thread.start()

    def close(self, timeout: float | None = None) -> None:
        """Finish the jobs already queued, then stop the worker thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._q.put(_STOP)
            thread.join(timeout)

    @property
    def depth(self) -> int:
        return self._depth

    # ------------------------------------------------------------------ submit (event loop)
    async def translate(self, lines: list[str], **options: Any) -> list[Any]:
        return await self._submit("translate", lines, options)

    async def explain(self, lines: list[str], **options: Any) -> list[dict]:
        return await self._submit("explain", lines, options)

    async def _submit(self, kind: str, lines: list[str], options: dict[str, Any]) -> Any:
        self.start()
        with self._lock:
            if self._depth >= self.max_queue:
                wait = self._pending_lines * self._sec_per_line
                raise QueueFull(max(1, math.ceil(wait)))
            self._depth += 1
            self._pending_lines += len(lines)
        loop = asyncio.get_running_loop()
        job = Job(
            kind, list(lines), dict(options), loop.create_future(), loop, estimate_tokens(lines)
        )
        self._q.put(job)
        return await job.future

    # ------------------------------------------------------------------ worker thread
    def _next(self) -> Job | None:
        return self._held.popleft() if self._held else self._q.get()

    def _work(self) -> None:
        while True:
            job = self._next()
            if job is _STOP:
                return
            batch = self._gather(job) if self.batching and job.kind == "translate" else [job]
            self._run(batch)

    def _gather(self, first: Job) -> list[Job]:
        batch, tokens = [first], first.tokens
        deadline = time.monotonic() + self.max_wait
        while tokens < self.max_batch_tokens:
            remaining = deadline - time.monotonic()
            try:
                job = self._q.get(timeout=remaining) if remaining > 0 else self._q.get_nowait()
            except queue.Empty:
                break
            if (
                job is not _STOP
                and job.key == first.key
                and tokens + job.tokens <= self.max_batch_tokens
            ):
                batch.append(job)
                tokens += job.tokens
                continue
            self._held.append(job)  # another kind of job, the stop mark, or over budget
            if job is _STOP or job.key == first.key:
                break
        return batch

    def _run(self, batch: list[Job]) -> None:
        live = [j for j in batch if not j.future.cancelled()]
        for j in batch:
            if j not in live:
                self._finish(j)
        if live:
            self._call(live)

    def _call(self, jobs: list[Job]) -> None:
        """One model call for ``jobs``. If it raises, the jobs are split in halves and each
        half is run again, down to single jobs: only the job that fails alone gets the
        error (a request can never fail the others batched with it), and since a sentence's
        output does not depend on its batch, the others get exactly what they would have got.
        """
        lines = [line for j in jobs for line in j.lines]
        start = time.perf_counter()
        try:
            if jobs[0].kind == "explain":
                outputs = self._explain(lines, jobs[0].options)
            else:
                outputs = self.translator.translate(lines, **jobs[0].options)
        except Exception as exc:  # the worker keeps running whatever happens
            if len(jobs) > 1:
                log.warning(
                    "a batched model call of %d requests failed (%s); retrying them "
                    "in smaller batches",
                    len(jobs),
                    exc.__class__.__name__,
                )
                half = len(jobs) // 2
                self._call(jobs[:half])
                self._call(jobs[half:])
                return
            log.warning("model call failed: %s: %s", exc.__class__.__name__, exc)
            self._resolve(jobs[0], None, exc)
            return
        seconds = time.perf_counter() - start
        self._sec_per_line = 0.8 * self._sec_per_line + 0.2 * seconds / max(1, len(lines))
        self.on_batch(len(lines), seconds)
        at = 0
        for j in jobs:
            self._resolve(j, outputs[at : at + len(j.lines)], None)
            at += len(j.lines)

    def _explain(self, lines: list[str], options: dict[str, Any]) -> list[dict]:
        if self._explain_fn is None:
            from bertune_cli.core.explain import explain

            self._explain_fn = explain
        return self._explain_fn(self.translator, lines, **options)

    def _finish(self, job: Job) -> None:
        with self._lock:
            self._depth -= 1
            self._pending_lines -= len(job.lines)

    def _resolve(self, job: Job, result: Any, exc: BaseException | None) -> None:
        self._finish(job)

        def settle() -> None:
            if job.future.done():  # the caller timed out meanwhile
                return
            if exc is not None:
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)

        try:
            job.loop.call_soon_threadsafe(settle)
        except RuntimeError:  # the event loop is closed: nobody is waiting any more
            pass
