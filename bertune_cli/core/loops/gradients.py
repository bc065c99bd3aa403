"""The gradients' last steps before the optimizer: scale to a per-unit mean, norm, clip.

``finish_gradients`` does what ``p.grad.mul_(scale)`` per parameter followed by
``torch.nn.utils.clip_grad_norm_(params, clip_norm or inf)`` does, bit for bit, in fewer
passes over the gradients: one fused multiply for the scale, one for the norm, and the clip's
multiply only when it changes something. ``clip_grad_norm_`` multiplies every gradient by its
clamped coefficient even when that is 1.0 (no clipping asked, or a norm under the bound): an
identity that costs a full read and write of the gradients every update.
"""

from __future__ import annotations

import math

import torch


def finish_gradients(params: list, scale: float, clip_norm: float = 0.0) -> torch.Tensor:
    """Multiply every gradient by ``scale``, then clip the total L2 norm to ``clip_norm``
    (0: no clipping). Returns the total norm before clipping (a 0-dim tensor), which is
    non-finite when a gradient is."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    if scale != 1.0:
        torch._foreach_mul_(grads, scale)
    total = torch.nn.utils.get_total_norm(grads, 2.0)
    if clip_norm > 0 and math.isfinite(float(total)):
        # the coefficient clip_grad_norm_ uses; multiplying by it when it is clamped to 1 is
        # the identity, so only a norm over the bound is touched
        coef = clip_norm / (total + 1e-6)
        if float(coef) < 1.0:
            torch.nn.utils.clip_grads_with_norm_(params, clip_norm, total)
    return total
