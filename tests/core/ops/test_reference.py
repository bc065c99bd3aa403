"""The PyTorch reference of the soft predictions (method.md §3) and the public ops API.

Oracles: an independent sort-based sparsemax (the original's formulation, differentiated by
autograd through sort/cumsum/gather), torch.autograd.gradcheck in float64, closed forms
(uniform rows, ties, one-hot), and the Gumbel distribution's known moments
(mean = Euler-Mascheroni 0.5772..., variance = pi^2/6) and its argmax property
P(argmax(z + g) = i) = softmax(z)_i.
"""
from __future__ import annotations

import math

import pytest
import torch

from bertune_cli.core import ops
from bertune_cli.core.errors import ConfigError
from bertune_cli.core.ops import reference

EULER_GAMMA = 0.5772156649015329


def sparsemax_by_sort(z: torch.Tensor) -> torch.Tensor:
    """Independent oracle: tau from the sorted cumulative sums (Martins & Astudillo, Alg. 1)."""
    zs, _ = torch.sort(z, dim=-1, descending=True)
    cs = zs.cumsum(dim=-1) - 1
    r = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    k = (zs - cs / r > 0).sum(dim=-1, keepdim=True)                       # support size
    tau = cs.gather(-1, k - 1) / k
    return (z - tau).clamp_min(0)


def _special_rows(v: int, dtype=torch.float64) -> torch.Tensor:
    """(6, V): random, very peaked, flat, single-support, tie of two, wide spread."""
    g = torch.Generator().manual_seed(0)
    rows = torch.randn(6, v, generator=g, dtype=dtype)
    rows[1] *= 1000.0
    rows[2] = 0.25
    rows[3, 7] = 50.0
    rows[4] = 0.0
    rows[4, [2, 5]] = 9.0
    rows[5] *= 0.05
    return rows


# ------------------------------------------------------------------------------ sparsemax
@pytest.mark.parametrize("scale", [0.01, 0.3, 1.0, 10.0])
def test_sparsemax_matches_sort_based_outputs_and_gradients(scale):
    g = torch.Generator().manual_seed(1)
    z = (torch.randn(16, 301, generator=g, dtype=torch.float64) * scale).requires_grad_()
    up = torch.randn(16, 301, generator=g, dtype=torch.float64)
    p = reference.sparsemax(z)
    (dz,) = torch.autograd.grad(p, z, up)
    z2 = z.detach().clone().requires_grad_()
    p2 = sparsemax_by_sort(z2)
    (dz2,) = torch.autograd.grad(p2, z2, up)
    torch.testing.assert_close(p, p2, rtol=0, atol=1e-12)
    torch.testing.assert_close(dz, dz2, rtol=0, atol=1e-12)


def test_sparsemax_rows_are_distributions_with_closed_form_special_cases():
    v = 50
    z = _special_rows(v)
    p = reference.sparsemax(z)
    assert (p >= 0).all()
    torch.testing.assert_close(p.sum(-1), torch.ones(6, dtype=z.dtype), rtol=0, atol=1e-12)
    torch.testing.assert_close(p, sparsemax_by_sort(z), rtol=0, atol=1e-12)
    assert int((p[1] > 0).sum()) == 1                                    # very peaked: one-hot
    torch.testing.assert_close(p[2], torch.full((v,), 1 / v, dtype=z.dtype))  # flat: uniform
    assert p[3, 7] == 1 and int((p[3] > 0).sum()) == 1                   # single support
    assert p[4, 2] == p[4, 5] == 0.5 and int((p[4] > 0).sum()) == 2       # tie of two
    assert int((p[5] > 0).sum()) > 10                                    # wide support


def test_sparsemax_threshold_is_exact_and_handles_minus_inf():
    z = torch.tensor([[0.0, float("-inf"), 0.5, 0.2], [3.0, 1.0, float("-inf"), 2.5]])
    tau, k = reference.sparsemax_threshold(z)
    # Row 0: support {0.5, 0.2, 0.0}: tau = (0.7 - 1) / 3; row 1: {3, 2.5}: tau = 2.25.
    torch.testing.assert_close(tau.squeeze(1), torch.tensor([-0.1, 2.25]))
    assert k.squeeze(1).tolist() == [3, 2]
    p = reference.sparsemax(z)
    assert (p[:, [1, 2]][torch.isinf(z[:, [1, 2]])] == 0).all()
    torch.testing.assert_close(p.sum(-1), torch.ones(2))


def test_sparsemax_backward_is_the_closed_form():
    z = _special_rows(40).requires_grad_()
    g = torch.randn(6, 40, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    p = reference.sparsemax(z)
    (dz,) = torch.autograd.grad(p, z, g)
    s = (p > 0).to(g.dtype)
    expected = s * (g - (g * s).sum(-1, keepdim=True) / s.sum(-1, keepdim=True))
    torch.testing.assert_close(dz, expected, rtol=0, atol=1e-12)


def test_sparsemax_keeps_only_its_output_for_backward():
    z = torch.randn(8, 1000, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        reference.sparsemax(z)
    assert [tuple(t.shape) for t in saved] == [(8, 1000), (8, 1)]       # p and |S| per row


def test_bf16_logits_are_computed_in_float32():
    z = torch.randn(4, 100).to(torch.bfloat16)
    for mode in ops.SOFT_MODES:
        p = ops.soft_probs(z, mode, noise=False)
        assert p.dtype == torch.float32
        torch.testing.assert_close(p, ops.soft_probs(z.float(), mode, noise=False))


# ---------------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("mode", ["dense", "sparsemax", "gumbel"])
def test_soft_embedding_gradcheck_float64(mode):
    g = torch.Generator().manual_seed(4)
    z = (torch.randn(3, 11, generator=g, dtype=torch.float64) * 2).requires_grad_()
    e = torch.randn(11, 5, generator=g, dtype=torch.float64).requires_grad_()
    # gumbel: a fixed seed makes the noise a constant of the function (regenerated per call).
    fn = lambda z, e: ops.soft_embedding(z, e, mode, tau=0.5, seed=7, impl="torch")  # noqa: E731
    assert torch.autograd.gradcheck(fn, (z, e), eps=1e-6, atol=1e-7)


def test_sparsemax_gradcheck_float64():
    z = (torch.randn(4, 9, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
         ).requires_grad_()
    assert torch.autograd.gradcheck(reference.sparsemax, (z,), eps=1e-6, atol=1e-7)


# ------------------------------------------------------------------------------------- gumbel
def test_gumbel_same_seed_same_output_different_seed_different():
    z = torch.randn(4, 30)
    e = torch.randn(30, 8)
    a = ops.soft_embedding(z, e, "gumbel", seed=1, impl="torch")
    b = ops.soft_embedding(z, e, "gumbel", seed=1, impl="torch")
    c = ops.soft_embedding(z, e, "gumbel", seed=2, impl="torch")
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - c).abs().max() > 1e-3
    torch.manual_seed(0)  # seed=None: fresh noise from the global RNG, reproducible by it
    d = ops.soft_embedding(z, e, "gumbel", impl="torch")
    f = ops.soft_embedding(z, e, "gumbel", impl="torch")
    torch.manual_seed(0)
    torch.testing.assert_close(ops.soft_embedding(z, e, "gumbel", impl="torch"), d)
    assert (d - f).abs().max() > 1e-3


@pytest.mark.parametrize("tau", [1.0, 0.1, 0.01])
def test_gumbel_without_noise_is_softmax_of_scaled_logits(tau):
    """method.md: y = softmax((log p + g)/tau), p = softmax(z). With g = 0 this is
    softmax(log_softmax(z)/tau) = softmax(z/tau) (shift invariance), NOT softmax(z)."""
    z = torch.randn(5, 40, dtype=torch.float64) * 3
    y = ops.soft_probs(z, "gumbel", tau=tau, noise=False)
    torch.testing.assert_close(y, torch.softmax(z / tau, -1))
    torch.testing.assert_close(y, torch.softmax(torch.log_softmax(z, -1) / tau, -1))
    if tau != 1.0:
        assert (y - torch.softmax(z, -1)).abs().max() > 1e-3


def test_gumbel_uses_log_softmax_form_with_noise():
    z = torch.randn(3, 20, dtype=torch.float64)
    g = reference.gumbel_noise((3, 20), generator=torch.Generator().manual_seed(0),
                               dtype=torch.float64)
    y = reference.gumbel_softmax(z, tau=0.3, gumbels=g)
    torch.testing.assert_close(y, torch.softmax((torch.log_softmax(z, -1) + g) / 0.3, -1))


def test_gumbel_hard_is_one_hot_forward_with_soft_gradient():
    z = torch.randn(6, 25, dtype=torch.float64, requires_grad=True)
    up = torch.randn(6, 25, dtype=torch.float64)
    hard = ops.soft_probs(z, "gumbel", tau=0.5, hard=True,
                          generator=torch.Generator().manual_seed(9))
    soft = ops.soft_probs(z, "gumbel", tau=0.5, generator=torch.Generator().manual_seed(9))
    assert set(hard.detach().unique().tolist()) == {0.0, 1.0}
    assert (hard.detach().argmax(-1) == soft.detach().argmax(-1)).all()
    torch.testing.assert_close(hard.detach().sum(-1), torch.ones(6, dtype=z.dtype))
    (g_hard,) = torch.autograd.grad(hard, z, up)
    (g_soft,) = torch.autograd.grad(soft, z, up)
    torch.testing.assert_close(g_hard, g_soft)
    # soft_embedding: forward E[argmax], gradient of the soft embedding.
    e = torch.randn(25, 4, dtype=torch.float64)
    out = ops.soft_embedding(z, e, "gumbel", tau=0.5, hard=True, seed=3, impl="torch")
    soft_out = ops.soft_embedding(z, e, "gumbel", tau=0.5, seed=3, impl="torch")
    p = reference.gumbel_softmax(z.detach(), tau=0.5,
                                 generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(out.detach(), e[p.argmax(-1)])
    gup = torch.randn(6, 4, dtype=torch.float64)
    torch.testing.assert_close(torch.autograd.grad(out, z, gup)[0],
                               torch.autograd.grad(soft_out, z, gup)[0])


def test_gumbel_noise_moments_and_distribution():
    g = reference.gumbel_noise((400_000,), generator=torch.Generator().manual_seed(0),
                               dtype=torch.float64)
    assert torch.isfinite(g).all()
    # Standard errors: mean sd/sqrt(n) = 0.002; variance ~ 0.006 (kurtosis 5.4).
    assert abs(g.mean().item() - EULER_GAMMA) < 0.01
    assert abs(g.var().item() - math.pi ** 2 / 6) < 0.03
    stats = pytest.importorskip("scipy.stats")
    assert stats.kstest(g[:50_000].numpy(), "gumbel_r").pvalue > 1e-3


def test_gumbel_argmax_frequencies_follow_softmax():
    """Gumbel-max trick: argmax(z + g) ~ Categorical(softmax(z)); 20000 draws, 5 classes."""
    z = torch.tensor([1.0, 0.0, -1.0, 2.0, 0.5], dtype=torch.float64)
    y = ops.soft_probs(z.expand(20_000, 5), "gumbel", tau=0.1,
                       generator=torch.Generator().manual_seed(11))
    freq = torch.bincount(y.argmax(-1), minlength=5).double() / 20_000
    assert (freq - torch.softmax(z, -1)).abs().max() < 0.015             # ~4 sd


# ------------------------------------------------------------------------ soft embedding API
def test_soft_embedding_is_p_times_e_with_leading_dims_and_mask():
    z = torch.randn(2, 3, 17)
    e = torch.randn(17, 6)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    for mode in ops.SOFT_MODES:
        full = ops.soft_embedding(z, e, mode, noise=False, impl="torch")
        assert full.shape == (2, 3, 6) and full.dtype == torch.float32
        torch.testing.assert_close(full, ops.soft_probs(z, mode, noise=False) @ e)
        zg = z.clone().requires_grad_()
        masked = ops.soft_embedding(zg, e, mode, noise=False, impl="torch", mask=mask)
        torch.testing.assert_close(masked[mask], full[mask])
        assert (masked[~mask] == 0).all()
        (dz,) = torch.autograd.grad(masked.sum(), zg)
        assert (dz[~mask] == 0).all() and dz[mask].abs().sum() > 0
        none = ops.soft_embedding(zg, e, mode, impl="torch", mask=torch.zeros_like(mask))
        assert none.shape == (2, 3, 6) and (none == 0).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(mode="softmax"), "unknown soft mode"),
    (dict(mode="gumbel", tau=0.0), "tau must be > 0"),
    (dict(mode="dense", hard=True), "applies to mode 'gumbel'"),
    (dict(mode="dense", impl="cuda"), "unknown soft-embedding impl"),
])
def test_invalid_arguments_raise_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ops.soft_embedding(torch.randn(2, 5), torch.randn(5, 3), **kwargs)


def test_shape_mismatches_raise_config_error():
    with pytest.raises(ConfigError, match=r"embedding must be \(V=5, D\)"):
        ops.soft_embedding(torch.randn(2, 5), torch.randn(6, 3), "dense")
    with pytest.raises(ConfigError, match="mask must have shape"):
        ops.soft_embedding(torch.randn(2, 5), torch.randn(5, 3), "dense",
                           mask=torch.ones(3, dtype=torch.bool))


# ------------------------------------------------------------- float32 sparsemax
@pytest.mark.parametrize("v", [5000, 30522])
def test_sparsemax_float32_mass_on_flat_tied_and_full_vocabulary_rows(v, degenerate_rows):
    """Sum p = 1 to 1e-6 in float32 and a finite backward: the threshold is computed on
    z - max (before: |sum p - 1| up to 2e-3 on flat-topped rows, NaN on the tie rows)."""
    z = degenerate_rows(v).requires_grad_()
    p = reference.sparsemax(z)
    assert p.dtype == torch.float32 and (p >= 0).all()
    assert (p.sum(-1) - 1).abs().max().item() <= 1e-6
    torch.testing.assert_close(p[3], torch.full((v,), 1 / v))          # all equal: uniform
    torch.testing.assert_close(p[4, :2000], torch.full((2000,), 1 / 2000))
    up = torch.randn(p.shape, generator=torch.Generator().manual_seed(1))
    (dz,) = torch.autograd.grad(p, z, up)
    assert torch.isfinite(dz).all()
    tau, k = reference.sparsemax_threshold(z.detach())
    assert (k >= 1).all() and k[3].item() == v and k[4].item() == 2000


def test_hard_gumbel_gradient_wrt_the_embedding_is_onehot_transpose_g():
    """gradcheck: the forward value E[argmax] is linear in E with Jacobian onehot, so the
    numerical dE is onehot^T G; before, autograd returned (onehot + p)^T G."""
    g = torch.Generator().manual_seed(2)
    z = torch.randn(5, 11, generator=g, dtype=torch.float64)
    e = torch.randn(11, 4, generator=g, dtype=torch.float64, requires_grad=True)

    def fn(e):
        return reference.soft_embedding(z, e, "gumbel", tau=0.5, hard=True, seed=3)

    assert torch.autograd.gradcheck(fn, (e,), eps=1e-6, atol=1e-8)
    up = torch.randn(5, 4, generator=g, dtype=torch.float64)
    (de,) = torch.autograd.grad(fn(e), e, up)
    idx = fn(e).detach().unsqueeze(1).eq(e.detach().unsqueeze(0)).all(-1).double()  # (5, 11)
    torch.testing.assert_close(de, idx.T @ up)
    # z still gets the soft (straight-through) gradient
    zz = z.clone().requires_grad_()
    (dz,) = torch.autograd.grad(reference.soft_embedding(zz, e.detach(), "gumbel", tau=0.5,
                                                         hard=True, seed=3), zz, up)
    zs = z.clone().requires_grad_()
    (dz_soft,) = torch.autograd.grad(reference.soft_embedding(zs, e.detach(), "gumbel", tau=0.5,
                                                              seed=3), zs, up)
    torch.testing.assert_close(dz, dz_soft)
