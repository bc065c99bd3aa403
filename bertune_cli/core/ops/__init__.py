"""Soft predictions over the vocabulary and the expected embedding fed to the LM (method.md §3).

One public API:

* ``soft_probs(logits, mode, ...)`` -> probabilities, same shape as ``logits`` (the reference
  path; used for analysis such as entropy plots and as the oracle in tests);
* ``soft_embedding(logits, embedding, mode, ...)`` -> ``p^T E`` for every position, computed by
  the PyTorch reference (``impl="torch"``) or by fused Triton kernels (``impl="triton"``) that
  never materialize ``p``.

Modes (``SOFT_MODES``): ``dense`` p = softmax(z); ``sparsemax``; ``gumbel``
y = softmax((log softmax(z) + g) / tau) = softmax((z + g) / tau), fresh noise per training call,
none with ``noise=False`` (evaluation), ``hard=True`` = straight-through. ``tau`` is used by
``gumbel`` only; ``hard`` is accepted for ``gumbel`` only.

Choosing the implementation (design.md, "House rules" 6: no silent fallback):
``impl="torch"`` always works. ``impl="triton"`` raises ``KernelUnavailable`` when Triton is not
installed, or when the tensors are not on a CUDA device and ``TRITON_INTERPRET=1`` is not set
(the interpreter runs the same kernels on CPU tensors, slowly; tests use it). ``impl="auto"``
runs the reference: the Triton kernels have been checked in Triton's interpreter and compiled
for sm_90, but not yet run on a GPU, so a default does not use them (``TRITON_AUTO_ON_CUDA``:
set it once the ``gpu``-marked tests of tests/core/ops/test_triton.py pass on a real GPU; then
"auto" picks Triton for CUDA tensors when Triton imports). ``choose_impl(impl, device)`` says
what will run, and why, before any tensor exists (the fine-tuning resolves it once, prints it
and records it); ``resolve_impl`` logs each distinct choice of "auto" once on the
``bertune.ops`` logger. A kernel error is raised, never caught.
"""

from __future__ import annotations

import logging
import os

from ..errors import ConfigError, KernelUnavailable
from . import reference

logger = logging.getLogger("bertune.ops")

SOFT_MODES = {
    "dense": reference.dense,
    "sparsemax": reference.sparsemax,
    "gumbel": reference.gumbel_softmax,
}
IMPLS = ("auto", "torch", "triton")
# impl="auto" on CUDA tensors picks the Triton kernels only once they have passed on a GPU.
TRITON_AUTO_ON_CUDA = False
UNVALIDATED = "the Triton kernels have not been validated on a GPU yet; --impl triton uses them"

_reported: set[str] = set()  # impl choices already logged (auto reports each once)

__all__ = ["SOFT_MODES", "IMPLS", "soft_probs", "soft_embedding", "resolve_impl", "choose_impl"]


def _check(mode: str, tau: float, hard: bool) -> None:
    if mode not in SOFT_MODES:
        raise ConfigError(
            f"unknown soft mode {mode!r}", hint=f"choose one of {', '.join(SOFT_MODES)}"
        )
    if not tau > 0:
        raise ConfigError(f"Gumbel temperature tau must be > 0, got {tau!r}")
    if hard and mode != "gumbel":
        raise ConfigError(f"hard=True (straight-through) applies to mode 'gumbel', not {mode!r}")


def soft_probs(
    logits, mode: str, *, tau: float = 0.1, hard: bool = False, noise: bool = True, generator=None
):
    """Soft prediction p for ``logits`` (..., V) -> (..., V), float32 (float64 for float64 input).

    ``noise=False`` disables the Gumbel noise (evaluation); ``generator`` (torch.Generator)
    makes it reproducible. Reference implementation only — memory O(N·V).
    """
    _check(mode, tau, hard)
    return SOFT_MODES[mode](logits, tau=tau, hard=hard, noise=noise, generator=generator)


def resolve_impl(impl: str, logits) -> str:
    """The implementation ``soft_embedding`` will run: ``"torch"`` or ``"triton"``.

    Raises ``KernelUnavailable`` when ``impl="triton"`` cannot run here, ``ConfigError`` for an
    unknown ``impl``.
    """
    if impl not in IMPLS:
        raise ConfigError(f"unknown soft-embedding impl {impl!r}", hint=f"choose one of {IMPLS}")
    if impl == "torch":
        return "torch"
    if impl == "triton":
        _require_triton(logits.is_cuda, str(logits.device))
        return "triton"
    choice, reason = _auto(logits.is_cuda, str(logits.device))
    _report_once(choice, reason)
    return choice


def choose_impl(impl: str, device: str) -> tuple[str, str]:
    """``(implementation, why)`` that ``soft_embedding(impl=impl)`` runs for tensors on
    ``device`` (a torch device string), decided before any tensor exists; KernelUnavailable
    when ``impl="triton"`` cannot run there."""
    if impl not in IMPLS:
        raise ConfigError(f"unknown soft-embedding impl {impl!r}", hint=f"choose one of {IMPLS}")
    if impl == "torch":
        return "torch", "impl=torch"
    cuda = str(device).startswith("cuda")
    if impl == "triton":
        _require_triton(cuda, str(device))
        return "triton", "impl=triton"
    choice, reason = _auto(cuda, str(device))
    return choice, f"impl=auto: {reason}"


def _auto(cuda: bool, device: str) -> tuple[str, str]:
    """What impl="auto" runs for tensors on ``device`` and why."""
    if not cuda:
        return "torch", "tensors are on the CPU"
    if not TRITON_AUTO_ON_CUDA:
        return "torch", UNVALIDATED
    try:
        import triton  # noqa: F401
    except ImportError:
        return "torch", "Triton is not installed (pip install 'bertune[gpu]')"
    return "triton", f"CUDA tensors on {device}"


def _report_once(choice: str, reason: str) -> None:
    key = f"{choice}: {reason}"
    if key not in _reported:
        _reported.add(key)
        logger.info("soft_embedding impl='auto' uses %s (%s)", choice, reason)


def _require_triton(cuda: bool, device: str) -> None:
    """KernelUnavailable unless the Triton kernels can run on tensors on ``device``."""
    try:
        import triton  # noqa: F401
    except ImportError as exc:
        from bertune_cli.core.system.extras import install_hint

        raise KernelUnavailable(
            "impl='triton' needs Triton, which is not installed",
            hint=f"{install_hint('triton')} or use impl='torch'",
        ) from exc
    if os.environ.get("TRITON_INTERPRET") == "1":
        return  # the interpreter runs the kernels on CPU (or CUDA) tensors
    import torch

    if not torch.cuda.is_available():
        raise KernelUnavailable(
            "impl='triton' needs a CUDA device and none is available",
            hint="use impl='torch' (or TRITON_INTERPRET=1 to test the kernels on CPU, slowly)",
        )
    if not cuda:
        raise KernelUnavailable(
            f"impl='triton' needs CUDA tensors, got logits on {device}",
            hint="move logits and embedding to the GPU or use impl='torch'",
        )


def soft_embedding(
    logits,
    embedding,
    mode: str,
    *,
    tau: float = 0.1,
    hard: bool = False,
    noise: bool = True,
    seed: int | None = None,
    impl: str = "auto",
    mask=None,
):
    """Expected embedding e_bar = p^T E for every position.

    ``logits``: (..., V) (e.g. (B, T, V)), any float dtype; ``embedding``: (V, D) on the same
    device; ``mask``: (...,) bool or None — rows where it is False are skipped and come back as
    zeros with zero gradient (padding). Returns (..., D) in float32 (float64 for float64 logits).

    ``noise`` / ``seed`` (gumbel): ``noise=False`` is evaluation (no noise); with noise, ``seed``
    fixes it (same seed => same output; the backward regenerates it) and ``None`` draws a fresh
    seed from torch's global RNG, so ``torch.manual_seed`` makes runs reproducible. The torch and
    Triton paths use different random streams for the same seed.
    """
    import torch

    _check(mode, tau, hard)
    v = logits.shape[-1]
    if embedding.dim() != 2 or embedding.shape[0] != v:
        raise ConfigError(
            f"embedding must be (V={v}, D), got {tuple(embedding.shape)}",
            hint="with a shortlist, pass the matching rows of E",
        )
    if embedding.device != logits.device:
        raise ConfigError(
            f"embedding is on {embedding.device}, logits on {logits.device}",
            hint="move the LM embedding matrix to the logits' device",
        )
    lead = logits.shape[:-1]
    z = logits.reshape(-1, v)  # (N, V), a view if logits are contiguous
    flat_mask = None
    if mask is not None:
        if tuple(mask.shape) != tuple(lead):
            raise ConfigError(f"mask must have shape {tuple(lead)}, got {tuple(mask.shape)}")
        flat_mask = mask.reshape(-1).to(device=z.device, dtype=torch.bool)  # (N,)
    choice = resolve_impl(impl, z)
    if choice == "torch":
        out = reference.soft_embedding(
            z, embedding, mode, tau=tau, hard=hard, noise=noise, seed=seed, mask=flat_mask
        )
    else:
        from . import triton_soft

        if mode == "gumbel" and noise and seed is None:
            seed = int(torch.randint(0, 2**31 - 1, ()))  # fresh noise from the global CPU RNG
        out = triton_soft.soft_embedding(
            z, embedding, mode, tau=tau, hard=hard, noise=noise, seed=seed, mask=flat_mask
        )
    return out.reshape(*lead, embedding.shape[1])
