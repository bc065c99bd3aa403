"""Process-wide runtime settings: set once, at start-up, by an entry point.

The ``bertune`` executable calls ``configure`` before every command body (``main.py``), a
server worker process when it builds its app; library functions never change process-wide
state behind their caller's back. A library user (a notebook, a benchmark) calls it once.

* ``OMP_WAIT_POLICY=PASSIVE`` (a default: a value already in the environment wins; set
  ``ACTIVE`` yourself on a dedicated machine). OpenMP threads that spin-wait (libgomp's
  default) collapse when the cores are shared: measured on 2 busy cores, a transformer_small
  step ran at 96 target tokens/s with 2 spinning threads, 924 with 1 thread and 756 with 2
  passive threads. It must be in the environment before torch starts its thread pool, so
  ``configure`` runs before a command imports torch.
* ``torch.set_flush_denormal(True)``: float32 values below 1e-38 are flushed to zero on the
  CPU. Peaked soft predictions (Gumbel at tau 0.1) put ~10% of p in that range, where x86
  arithmetic is ~2x slower for the softmax backward and p·E, and denormal activations make
  CPU matmuls of a decoding step up to 100x slower; such values change nothing. It is a
  per-thread CPU flag that threads started later inherit, so it is set in the main thread
  before any worker thread exists. Only for commands that run torch (``torch=True``).
"""
from __future__ import annotations

import os

ENV_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}

_configured: set[str] = set()


def configure(torch: bool = True) -> None:
    """Apply the settings above (idempotent). ``torch=False``: the environment only, without
    importing torch (commands that do not run a model)."""
    if "env" not in _configured:
        for key, value in ENV_DEFAULTS.items():
            os.environ.setdefault(key, value)
        _configured.add("env")
    if torch and "torch" not in _configured:
        import torch as torch_module

        torch_module.set_flush_denormal(True)
        _configured.add("torch")
