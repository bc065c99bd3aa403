"""Dynamic batching: concurrent requests share model calls, on one thread, in order."""
from __future__ import annotations

import asyncio
import threading

import pytest

from bertune_cli.serve.batcher import Batcher, QueueFull, estimate_tokens


def _run(coro):
    return asyncio.run(coro)


def test_concurrent_requests_share_one_model_call_and_get_their_own_lines(fake):
    fake.gate = threading.Event()
    batcher = Batcher(fake, max_batch_tokens=10_000, max_wait_ms=50)

    async def main():
        first = asyncio.ensure_future(batcher.translate(["warm up"]))
        await asyncio.sleep(0.1)  # the worker holds the first job, blocked on the gate
        rest = [asyncio.ensure_future(batcher.translate([f"line {i}", f"more {i}"]))
                for i in range(16)]
        await asyncio.sleep(0.05)
        fake.gate.set()
        return await first, await asyncio.gather(*rest)

    first, rest = _run(main())
    batcher.close()
    assert first == ["WARM UP"]
    assert rest == [[f"LINE {i}", f"MORE {i}"] for i in range(16)]
    assert len(fake.calls) == 2 and len(fake.calls[1]) == 32  # 16 requests, one model call


def test_batching_off_runs_every_request_alone(fake):
    batcher = Batcher(fake, batching=False)

    async def main():
        return await asyncio.gather(*(batcher.translate([f"s{i}"]) for i in range(6)))

    assert _run(main()) == [[f"S{i}"] for i in range(6)]
    batcher.close()
    assert sorted(map(tuple, fake.calls)) == [(f"s{i}",) for i in range(6)]


def test_the_token_budget_and_the_options_split_batches(fake):
    fake.gate = threading.Event()
    batcher = Batcher(fake, max_batch_tokens=estimate_tokens(["a b c"] * 3), max_wait_ms=50)

    async def main():
        first = asyncio.ensure_future(batcher.translate(["blocker"]))
        await asyncio.sleep(0.1)
        jobs = [asyncio.ensure_future(batcher.translate(["a b c"])) for _ in range(5)]
        other = asyncio.ensure_future(batcher.translate(["x y"], n_best=2))
        await asyncio.sleep(0.05)
        fake.gate.set()
        await first
        return await asyncio.gather(*jobs), await other

    plain, nbest = _run(main())
    batcher.close()
    assert plain == [["A B C"]] * 5 and nbest[0][1].text == "X Y!"
    sizes = [len(c) for c in fake.calls[1:]]
    assert max(sizes) <= 3 and sum(sizes) == 6  # budget 3 lines; the n_best job alone
    assert ["x y"] in fake.calls[1:]


def test_a_full_queue_says_when_to_retry_and_a_failure_reaches_only_its_callers(fake):
    fake.gate = threading.Event()
    batcher = Batcher(fake, max_queue=2, max_wait_ms=0, batching=False)
    fake.fail_on = "boom"

    async def main():
        a = asyncio.ensure_future(batcher.translate(["boom"]))
        b = asyncio.ensure_future(batcher.translate(["fine"]))
        await asyncio.sleep(0.05)
        with pytest.raises(QueueFull) as full:
            await batcher.translate(["third"])
        assert full.value.retry_after >= 1
        fake.gate.set()
        with pytest.raises(RuntimeError, match="exploded"):
            await a
        return await b, await batcher.translate(["after"])

    assert _run(main()) == (["FINE"], ["AFTER"])
    batcher.close()
    assert batcher.depth == 0


def test_a_cancelled_request_is_skipped_not_computed(fake):
    fake.gate = threading.Event()
    batcher = Batcher(fake, batching=False)

    async def main():
        first = asyncio.ensure_future(batcher.translate(["first"]))
        await asyncio.sleep(0.05)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(batcher.translate(["given up"]), 0.05)
        fake.gate.set()
        return await first, await batcher.translate(["next"])

    assert _run(main()) == (["FIRST"], ["NEXT"])
    batcher.close()
    assert ["given up"] not in fake.calls and batcher.depth == 0


def test_a_failing_request_fails_alone_and_its_batch_neighbours_get_their_answers(fake):
    """30 requests and one the model fails on share a model call: that call raises, the
    batcher splits it in halves and retries, and only the failing request gets the error."""
    fake.fail_on = "boom"
    batcher = Batcher(fake, max_batch_tokens=10_000, max_wait_ms=300)

    async def main():
        jobs = [asyncio.ensure_future(batcher.translate([f"line {i}"])) for i in range(15)]
        bad = asyncio.ensure_future(batcher.translate(["a boom b"]))
        jobs += [asyncio.ensure_future(batcher.translate([f"line {i}"])) for i in range(15, 30)]
        results = await asyncio.gather(*jobs)
        with pytest.raises(RuntimeError, match="exploded"):
            await bad
        return results

    results = _run(main())
    batcher.close()
    assert results == [[f"LINE {i}"] for i in range(30)]
    assert len(fake.calls[0]) == 31  # one batch at first
    assert fake.calls[-1] == ["a boom b"] or ["a boom b"] in fake.calls
    assert len(fake.calls) <= 12  # halving: about 2·log2(31) calls, not one per request
    assert batcher.depth == 0
