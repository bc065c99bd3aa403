"""Process-wide runtime settings: set once, at start-up, by an entry point.

The ``bertune`` executable calls ``configure`` before every command body (``main.py``), a
server worker process when it builds its app; library functions never change process-wide
state behind their caller's back. A library user (a notebook, a benchmark) calls it once.

* ``OMP_WAIT_POLICY=PASSIVE`` (a default: a value already in the environment wins; set
  ``ACTIVE`` yourself on a dedicated machine). OpenMP threads that spin-wait (libgomp's
  default) collapse when the cores are shared: measured on 2 busy cores, a transformer_small
  step ran at 96 target tokens/s with 2 spinning threads, 924 with 1 thread and 756 with 2
  passive threads. It must be in the environment before torch starts its thread pool.
* ``torch.set_flush_denormal(True)``: float32 values below 1e-38 are flushed to zero on the
  CPU. Peaked soft predictions (Gumbel at tau 0.1) put ~10% of p in that range, where x86
  arithmetic is ~2x slower for the softmax backward and p·E, and denormal activations make
  CPU matmuls of a decoding step up to 100x slower; such values change nothing. It is a
  per-thread CPU flag that threads started later inherit, so it is set in the main thread as
  soon as torch is imported — not before: importing torch takes seconds, and a command checks
  its arguments (and fails fast) before it needs torch. ``configure`` applies it at once when
  torch is already imported, else right after ``import torch`` completes (``_AfterImport``).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
from typing import Any, Callable

ENV_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}

_configured: set[str] = set()


def configure() -> None:
    """Apply the settings above (idempotent)."""
    if "env" not in _configured:
        for key, value in ENV_DEFAULTS.items():
            os.environ.setdefault(key, value)
        _configured.add("env")
    if "torch" not in _configured:
        _configured.add("torch")
        if "torch" in sys.modules:
            _torch_settings(sys.modules["torch"])
        else:
            sys.meta_path.insert(0, _AfterImport("torch", _torch_settings))


def _torch_settings(torch: Any) -> None:
    torch.set_flush_denormal(True)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``then(module)`` once ``import name`` has executed the module (then steps aside)."""

    def __init__(self, name: str, then: Callable[[Any], None]):
        self.name, self.then = name, then

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # the real finders find it
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        execute, then = spec.loader.exec_module, self.then

        def exec_module(module):
            execute(module)
            then(module)

        spec.loader.exec_module = exec_module
        return spec
