"""The fused Gumbel-softmax and the skipped row gather compute exactly the written formula."""
from __future__ import annotations

import pytest
import torch

from bertune_cli.core import ops
from bertune_cli.core.ops import reference


def _formula(z, e, tau, seed, rows):
    """softmax((z + g) / tau) @ E on ``rows`` with g = gumbel_noise drawn for those rows,
    zeros elsewhere: the definition, written with autograd's own ops."""
    g = reference.gumbel_noise((len(rows), z.size(-1)),
                               generator=torch.Generator().manual_seed(seed))
    p = torch.softmax((z[rows] + g) / tau, -1)
    return torch.zeros(z.size(0), e.size(1)).index_copy(0, rows, p @ e)


@pytest.mark.parametrize("padded", [False, True])
def test_gumbel_soft_embedding_is_bitwise_the_formula(padded):
    torch.manual_seed(0)
    z0 = 3 * torch.randn(12, 50)
    e = torch.randn(50, 6)
    mask = torch.ones(12, dtype=torch.bool)
    if padded:
        mask[[3, 7, 8]] = False
    rows = mask.nonzero().squeeze(1)
    up = torch.randn(12, 6)
    z = z0.clone().requires_grad_()
    got = ops.soft_embedding(z, e, "gumbel", tau=0.1, seed=4, impl="torch", mask=mask)
    (dz,) = torch.autograd.grad(got, z, up)
    zz = z0.clone().requires_grad_()
    want = _formula(zz, e, 0.1, 4, rows)
    (want_dz,) = torch.autograd.grad(want, zz, up)
    assert torch.equal(got, want) and torch.equal(dz, want_dz)
    assert dz[~mask].abs().sum() == 0


def test_gumbel_without_noise_and_with_given_noise_keep_their_meaning():
    z = torch.randn(4, 9, dtype=torch.float64, requires_grad=True)
    y = reference.gumbel_softmax(z, tau=0.5, noise=False)
    (g,) = torch.autograd.grad(y[:, 0].sum(), z)
    zz = z.detach().clone().requires_grad_()
    (want,) = torch.autograd.grad(torch.softmax(zz / 0.5, -1)[:, 0].sum(), zz)
    assert torch.equal(y, torch.softmax(z.detach() / 0.5, -1)) and torch.equal(g, want)
    noise = torch.randn(4, 9, dtype=torch.float64)
    torch.testing.assert_close(reference.gumbel_softmax(z, tau=0.5, gumbels=noise),
                               torch.softmax((z + noise) / 0.5, -1))
