"""Label-smoothed CE: the hand-written backward equals autograd of the fairseq formula."""
from __future__ import annotations

import pytest
import torch

from bertune_cli.core.loops.losses import label_smoothed_nll_loss


def _formula(logits, target, eps, pad=0):
    """The loss written out with log_softmax (autograd differentiates it)."""
    lp = logits.float().log_softmax(-1)
    keep = target.ne(pad)
    nll = -lp.gather(-1, target[..., None])[..., 0][keep].sum()
    smooth = -lp.sum(-1)[keep].sum()
    eps_i = eps / (logits.size(-1) - 1)
    return (1 - eps - eps_i) * nll + eps_i * smooth, nll


@pytest.mark.parametrize("weights", [(1.0, 0.0), (0.3, 0.7), (0.0, 1.0)])
def test_gradient_equals_autograd_of_the_formula(weights):
    """Both outputs (loss and nll) carry gradient; padded positions get none."""
    torch.manual_seed(0)
    logits = (4 * torch.randn(3, 5, 50)).requires_grad_()
    target = torch.randint(1, 50, (3, 5))
    target[1, 3:] = 0
    target[2, 1:] = 0
    a, b = weights
    loss, nll = label_smoothed_nll_loss(logits, target, 0.1)
    (got,) = torch.autograd.grad(a * loss + b * nll, logits)
    want_loss, want_nll = _formula(logits, target, 0.1)
    (want,) = torch.autograd.grad(a * want_loss + b * want_nll, logits)
    assert torch.allclose(loss, want_loss, rtol=1e-6) and torch.allclose(nll, want_nll, rtol=1e-6)
    assert torch.allclose(got, want, atol=1e-7, rtol=1e-5)
    assert got[1, 3:].abs().sum() == 0 and got[2, 1:].abs().sum() == 0


def test_gradient_in_float64_matches_finite_differences():
    """gradcheck of the float32 computation's derivative, fed float64 logits (cast once)."""
    torch.manual_seed(1)
    target = torch.tensor([[3, 1, 0], [2, 4, 5]])

    def f(z):
        loss, nll = label_smoothed_nll_loss(z, target, 0.2)
        return (loss + 0.5 * nll).double()

    z = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(f(z), z)
    h = 1e-3
    for idx in [(0, 0, 3), (0, 1, 0), (1, 2, 5), (0, 2, 1)]:
        zp, zm = z.detach().clone(), z.detach().clone()
        zp[idx] += h
        zm[idx] -= h
        numeric = (f(zp) - f(zm)) / (2 * h)
        assert float(grad[idx]) == pytest.approx(float(numeric), abs=2e-3)


def test_low_precision_logits_get_a_gradient_of_their_dtype():
    logits = torch.randn(2, 3, 7).bfloat16().requires_grad_()
    target = torch.tensor([[1, 2, 0], [3, 0, 0]])
    loss, _ = label_smoothed_nll_loss(logits, target, 0.1)
    assert loss.dtype == torch.float32
    loss.backward()
    assert logits.grad.dtype == torch.bfloat16 and torch.isfinite(logits.grad.float()).all()
