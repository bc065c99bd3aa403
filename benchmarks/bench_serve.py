"""Throughput and latency of `bertune serve` under concurrent load: dynamic batching on vs off.

For each mode a real server is started (`bertune serve` in a subprocess, loopback only, a free
port), warmed up, then sent ``--requests`` blog-contract requests (one sentence each, cycling
through the data's test sources), ``--parallel`` at a time, from one asyncio httpx client.
Reported per mode: sentences/s over the whole load, p50/p99 request latency, failures, and the
mean sentences per model call from the server's own /metrics; then the on/off throughput
ratio. Everything runs in one invocation so both modes see the same machine state.

Usage (after `bertune train-baseline --pair demo`):
    nice -n 10 python benchmarks/bench_serve.py --model runs/demo/baseline
    nice -n 10 python benchmarks/bench_serve.py --requests 1000 --parallel 32 --max-wait-ms 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: str, port: int, extra: list[str]) -> subprocess.Popen:
    import httpx

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bertune_cli.main",
            "serve",
            "--model",
            model,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--device",
            "cpu",
            "--log-level",
            "warning",
            "--max-queue",
            "100000",
            *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"bertune serve failed:\n{proc.stderr.read().decode()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.3)
    proc.kill()
    sys.exit("bertune serve did not start within 300 s")


async def load(url: str, lines: list[str], requests: int, parallel: int):
    """Latencies (s) of ``requests`` POST /translate, ``parallel`` in flight; failures; wall."""
    import httpx

    gate = asyncio.Semaphore(parallel)
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=parallel, max_keepalive_connections=parallel)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:

        async def one(i: int) -> None:
            nonlocal failures
            async with gate:
                start = time.perf_counter()
                try:
                    r = await http.post("/translate", json={"sentence": lines[i % len(lines)]})
                    ok = r.status_code == 200 and "translated_sentence" in r.json()
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                failures += not ok

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        wall = time.perf_counter() - start
    return latencies, failures, wall


def batch_totals(metrics: str) -> tuple[float, float]:
    """(sentences, model calls) so far, from the server's bertune_batch_sentences histogram."""

    def value(name: str) -> float:
        m = re.search(rf"^{name} ([0-9.e+]+)$", metrics, re.M)
        return float(m.group(1)) if m else float("nan")

    return value("bertune_batch_sentences_sum"), value("bertune_batch_sentences_count")


def run_mode(model, lines, args, batching: bool) -> dict:
    import httpx
    import numpy as np

    port = free_port()
    extra = [
        "--batching" if batching else "--no-batching",
        "--max-wait-ms",
        str(args.max_wait_ms),
        "--max-batch-tokens",
        str(args.max_batch_tokens),
    ]
    proc = start_server(model, port, extra)
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(load(url, lines, min(32, args.requests), args.parallel))  # warm-up
        sent0, calls0 = batch_totals(httpx.get(url + "/metrics").text)
        latencies, failures, wall = asyncio.run(load(url, lines, args.requests, args.parallel))
        sent1, calls1 = batch_totals(httpx.get(url + "/metrics").text)
    finally:
        proc.terminate()
        proc.wait(60)
    ms = np.array(latencies) * 1000
    return {
        "mode": "batching on" if batching else "batching off",
        "sent_s": args.requests / wall,
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "failures": failures,
        "batch": (sent1 - sent0) / max(1.0, calls1 - calls0),
        "wall": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model",
        default="runs/demo/baseline",
        help="run directory or checkpoint (default: runs/demo/baseline)",
    )
    parser.add_argument("--input", help="source lines (default: <data>/test.src.txt)")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--max-batch-tokens", type=int, default=0)
    args = parser.parse_args()

    import torch

    from bertune_cli import __version__
    from bertune_cli.core.errors import CheckpointError
    from bertune_cli.core.model.checkpoint import read_meta

    try:
        meta = read_meta(Path(args.model))
    except CheckpointError as exc:
        sys.exit(f"{exc}\nMake one first: bertune train-baseline --pair demo")
    src = Path(args.input) if args.input else Path(meta["data"]["path"]) / "test.src.txt"
    lines = [line for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [run_mode(args.model, lines, args, batching) for batching in (True, False)]
    beam = meta.get("config", {}).get("eval", {}).get("beam")
    print(
        f"{args.requests} requests (1 sentence each, from {src}), {args.parallel} in flight, "
        f"loopback, model {args.model} (beam {beam})"
    )
    print(
        f"{'':14s} {'sent/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'failures':>9s} "
        f"{'sent/model call':>16s}"
    )
    for r in rows:
        print(
            f"{r['mode']:14s} {r['sent_s']:8.1f} {r['p50']:8.1f} {r['p99']:8.1f} "
            f"{r['failures']:9d} {r['batch']:16.1f}"
        )
    print(
        f"batching on / off: {rows[0]['sent_s'] / rows[1]['sent_s']:.2f}x sentences/s, "
        f"p50 latency {rows[1]['p50'] / rows[0]['p50']:.2f}x lower"
    )
    print(
        f"signature: bertune {__version__}|torch {torch.__version__}|max_wait_ms "
        f"{args.max_wait_ms:g}|max_batch_tokens {args.max_batch_tokens or 'auto'}|"
        f"cpus {os.cpu_count()}|load {os.getloadavg()[0]:.1f}|{platform.python_version()}"
    )


if __name__ == "__main__":
    main()
