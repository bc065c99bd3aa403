"""finish_gradients is per-parameter scaling + clip_grad_norm_, bit for bit, in fewer passes."""
from __future__ import annotations

import math

import pytest
import torch

from bertune_cli.core.loops.gradients import finish_gradients


def _params(seed: int, nan: bool = False):
    g = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(shape, generator=g))
              for shape in ((7, 5), (5,), (3, 4, 2), (1,))]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g) * 3
    if nan:
        params[2].grad[1, 2, 0] = float("nan")
    params.append(torch.nn.Parameter(torch.ones(2)))  # no gradient: left alone
    return params


@pytest.mark.parametrize("scale, clip", [(1.0, 0.0), (0.37, 0.0), (0.37, 0.5), (0.37, 1e6),
                                         (1 / 3, 2.0)])
def test_equals_scaling_then_clip_grad_norm_bitwise(scale, clip):
    ours, theirs = _params(1), _params(1)
    total = finish_gradients(ours, scale, clip)
    for p in theirs:
        if p.grad is not None:
            p.grad.mul_(scale)
    want = torch.nn.utils.clip_grad_norm_(theirs, clip or math.inf)
    assert torch.equal(total, want)
    for a, b in zip(ours, theirs):
        assert (a.grad is None and b.grad is None) or torch.equal(a.grad, b.grad)
    if clip == 0.5:  # the bound was hit: the gradients were clipped, to the bound
        assert float(torch.nn.utils.get_total_norm([p.grad for p in ours[:4]])) == \
            pytest.approx(0.5, rel=1e-5)


def test_a_non_finite_gradient_gives_a_non_finite_norm():
    params = _params(2, nan=True)
    assert not math.isfinite(float(finish_gradients(params, 0.5, 1.0)))
    assert float(finish_gradients([torch.nn.Parameter(torch.ones(2))], 0.5)) == 0.0
