"""Process-level services of the training loop: mixed-precision autocast, the RNG state of
every generator (saved in checkpoint_last so a resumed run draws the same numbers), gathering
one object from every DDP rank, and the Ctrl-C / SIGTERM flag that lets the current update
finish before the loop saves and stops."""

from __future__ import annotations

import random
import signal
import threading
from contextlib import nullcontext
from typing import Any

import numpy as np

from bertune_cli.core.errors import ConfigError, Terminated


def precision_autocast(precision: str, device: str):
    import torch

    if precision == "fp32":
        return nullcontext()
    device_type = "cuda" if "cuda" in str(device) else "cpu"
    if precision == "fp16" and device_type == "cpu":
        raise ConfigError("train.precision=fp16 needs a GPU", "use bf16 or fp32 on CPU")
    return torch.autocast(
        device_type=device_type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16
    )


def rng_state() -> dict[str, Any]:
    import torch

    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": (
            name,
            torch.from_numpy(keys.astype(np.int64)),
            int(pos),
            int(has_gauss),
            float(cached),
        ),
        "python": random.getstate(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def set_rng_state(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def gather(obj: Any, world: int) -> list[Any]:
    if world == 1:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


class InterruptFlag:
    """First Ctrl-C (or SIGTERM): finish the current update, save checkpoint_last, stop.
    Second: abort. ``error()`` is the exception to stop with (Terminated for SIGTERM)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._flag = threading.Event()
        self._previous: dict[int, Any] = {}
        self._signum = signal.SIGINT

    def __enter__(self) -> "InterruptFlag":
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)

    def _handle(self, signum, frame) -> None:
        if self._flag.is_set():
            raise self.error()
        self._signum = signum
        self._flag.set()

    def is_set(self) -> bool:
        return self._flag.is_set()

    def error(self) -> KeyboardInterrupt:
        return Terminated() if self._signum == signal.SIGTERM else KeyboardInterrupt()
