"""PyTorch reference for the soft predictions of method.md §3: the oracle for the kernels.

Every function takes teacher-forced logits ``z`` of shape ``(..., V)`` and returns probabilities of
the same shape, in the *compute dtype*: float64 stays float64 (gradcheck), everything else is
computed and returned in float32 (bf16/fp16 logits are upcast once, because a sparsemax threshold
or a softmax over 30522 entries in bf16 is too coarse).

Memory: autograd keeps one ``(N, V)`` tensor per mode — the output (softmax and sparsemax
backward need only their output, sparsemax also its (N, 1) support sizes; the Gumbel noise is
folded in place into the scaled logits, so it is not kept either).

Gumbel-softmax: method.md §3 defines ``y = softmax((log p + g) / tau)`` with ``p = softmax(z)``.
``log softmax(z) = z - logsumexp(z)`` differs from ``z`` by a per-row constant, and softmax is
shift-invariant, so ``y = softmax((z + g) / tau)`` *exactly* (up to rounding); both this module
and the kernels use the second form. Without noise (evaluation) ``y = softmax(z / tau)`` — a
sharpened softmax, NOT ``softmax(z)``.
"""

from __future__ import annotations

import torch

__all__ = [
    "compute_dtype",
    "dense",
    "sparsemax",
    "sparsemax_threshold",
    "Sparsemax",
    "gumbel_noise",
    "gumbel_softmax",
    "soft_embedding",
]


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64 (for gradcheck); every other dtype is computed in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def dense(
    z: torch.Tensor,
    *,
    tau: float = 0.1,
    hard: bool = False,
    noise: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """p = softmax(z) over the last dim. ``z``: (..., V) -> (..., V). tau/noise/generator unused."""
    del tau, hard, noise, generator  # uniform registry signature; validated in ops.__init__
    return torch.softmax(z, dim=-1, dtype=compute_dtype(z.dtype))


# ----------------------------------------------------------------------------------- sparsemax
# Rows are thresholded in chunks of ~4 MB (fp32): cache-resident passes, small temporaries.
CHUNK_ELEMENTS = 2**20


@torch.no_grad()
def sparsemax_threshold(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact sparsemax threshold tau and support size k per row, without sorting.

    ``z``: (..., V) in the compute dtype -> ``tau`` (..., 1) same dtype, ``k`` (..., 1) int64.
    Rows are processed in chunks of ``CHUNK_ELEMENTS`` (see ``_michelot``), on logits shifted
    by their row max (``row_shift``); the returned tau is in the caller's (unshifted) frame.
    """
    lead, v = z.shape[:-1], z.shape[-1]
    flat = z.reshape(-1, v)
    shift = row_shift(flat)  # (R, 1)
    parts = [
        _michelot(c - m)
        for c, m in zip(
            flat.split(max(1, CHUNK_ELEMENTS // v)), shift.split(max(1, CHUNK_ELEMENTS // v))
        )
    ]
    tau = torch.cat([t for t, _ in parts]) if parts else flat.new_empty(0, 1)
    k = torch.cat([k for _, k in parts]) if parts else flat.new_empty(0, 1, dtype=torch.int64)
    return (tau + shift).reshape(*lead, 1), k.reshape(*lead, 1)


def row_shift(z: torch.Tensor) -> torch.Tensor:
    """Row max (..., 1) of ``z`` (..., V); 0 for a row with no finite entry.

    Sparsemax is shift-invariant, and Michelot's sums must run on ``z - max``: on raw logits
    of scale 12..112 the float32 sum over a flat-topped support loses up to 5e-3 of the mass,
    and a row of many exact ties at a large value (all 1000, or 2000 ties at 1e4) rounds
    ``tau`` up to the ties themselves, giving an empty support (k = 0) and a 0/0 in the
    backward. Shifted, the top entry is 0 > tau = (s - 1)/k, so k >= 1 always.
    """
    m = z.amax(dim=-1, keepdim=True)
    return torch.where(torch.isfinite(m), m, torch.zeros_like(m))


def _michelot(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """tau (R, 1) and k (R, 1) for a chunk of rows ``z`` (R, V).

    Michelot's fixed point ``tau <- (sum_{z > tau} z - 1) / |{z > tau}|`` started at
    ``max(z) - 1`` (a lower bound of tau*: the top entry alone already has mass >= 1 there).
    From below, the iterates increase monotonically and each step that changes tau drops at least
    one entry from the support, so the support size strictly decreases until the fixed point,
    which is tau* exactly (the support sums to 1 by construction). Measured on V=30522: 3-13 passes
    (flat rows need the most), versus a full O(V log V) sort. We stop a row when its support
    size no longer decreases — in floating point that is also the guard against a rounding
    cycle.
    """
    v = z.shape[-1]
    tau = z.amax(dim=-1, keepdim=True) - 1  # (R, 1)
    k_prev = torch.full_like(tau, v + 1, dtype=torch.int64)
    while True:
        support = z > tau  # (R, V) bool
        k = support.sum(dim=-1, keepdim=True)
        shrunk = k < k_prev
        if not bool(shrunk.any()):
            return tau, k_prev
        s = torch.where(support, z, 0).sum(dim=-1, keepdim=True)
        del support
        tau = torch.where(shrunk, (s - 1) / k.clamp_min(1), tau)
        k_prev = torch.where(shrunk, k, k_prev)


class Sparsemax(torch.autograd.Function):
    """p = [z - tau]_+ with sum(p) = 1 (Martins & Astudillo 2016); saves p and |S| per row."""

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:  # (..., V) -> (..., V)
        z = z.to(compute_dtype(z.dtype))
        z = z - row_shift(z)  # p = [z - m - tau']_+ : see row_shift for why
        tau, k = sparsemax_threshold(z)
        p = (z - tau).clamp_min_(0)
        # The support S = {p > 0} and its size are all backward needs; k is saved because
        # counting a bool (N, V) tensor makes an int64 copy of it (8 bytes per entry).
        ctx.save_for_backward(p, k)
        return p

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:
        # Jacobian on S is I - 1 1^T / |S|, zero elsewhere: g -> 1_S (g - mean_S g).
        p, k = ctx.saved_tensors
        support = p > 0
        g = torch.where(support, g, 0)
        mean = g.sum(dim=-1, keepdim=True) / k
        return g.sub_(mean).mul_(support)


def sparsemax(
    z: torch.Tensor,
    *,
    tau: float = 0.1,
    hard: bool = False,
    noise: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sparsemax over the last dim. ``z``: (..., V) -> (..., V). tau/noise/generator unused."""
    del tau, hard, noise, generator
    return Sparsemax.apply(z)


# -------------------------------------------------------------------------------------- gumbel
def gumbel_noise(
    shape,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device=None,
) -> torch.Tensor:
    """Standard Gumbel samples g = -log(-log U), shape ``shape`` (e.g. (N, V)).

    U is clamped away from 0 (torch.rand can return exactly 0, giving -inf); the largest value
    torch.rand returns, 1 - 2^-24, gives g ~ 16.6, which is finite.
    """
    u = torch.rand(shape, generator=generator, dtype=dtype, device=device)
    return u.clamp_min_(torch.finfo(dtype).tiny).log_().neg_().log_().neg_()


def gumbel_softmax(
    z: torch.Tensor,
    *,
    tau: float = 0.1,
    hard: bool = False,
    noise: bool = True,
    generator: torch.Generator | None = None,
    gumbels: torch.Tensor | None = None,
) -> torch.Tensor:
    """y = softmax((z + g) / tau) over the last dim (= softmax((log softmax(z) + g) / tau)).

    ``z``: (..., V) -> (..., V). ``noise=False``: g = 0 (evaluation). ``gumbels``: explicit noise
    of z's shape (tests feed the kernel's noise here); otherwise drawn from ``generator`` (the
    global RNG when None). ``hard=True``: straight-through — the forward value is the one-hot
    of argmax y, the gradient is that of the soft y.
    """
    ct = compute_dtype(z.dtype)
    if gumbels is not None:
        neg_g = gumbels.to(device=z.device, dtype=ct, copy=True).neg_()
    elif noise:
        # −g = log(−log U), drawn as gumbel_noise draws g (same stream), one pass shorter
        u = torch.rand(z.shape, generator=generator, dtype=ct, device=z.device)
        neg_g = u.clamp_min_(torch.finfo(ct).tiny).log_().neg_().log_()
    else:
        neg_g = None
    y = _TemperedSoftmax.apply(z, neg_g, tau)
    if not hard:
        return y
    one_hot = torch.zeros_like(y).scatter_(-1, y.argmax(dim=-1, keepdim=True), 1.0)
    return one_hot - y.detach() + y


class _TemperedSoftmax(torch.autograd.Function):
    """y = softmax((z − neg_g) / tau), built in place in the noise buffer ``neg_g`` (the only
    (N, V) tensor kept is y); backward: softmax's, divided by tau in place (one buffer).
    (neg_g − z)/(−tau) is bitwise (z + g)/tau: IEEE sums and quotients are sign-symmetric."""

    @staticmethod
    def forward(ctx, z, neg_g, tau):
        ct = compute_dtype(z.dtype)
        x = z.to(ct) / tau if neg_g is None else neg_g.sub_(z).div_(-tau)
        y = torch.softmax(x, dim=-1)
        del x
        ctx.save_for_backward(y)
        ctx.tau, ctx.in_dtype = tau, z.dtype
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        grad = torch._softmax_backward_data(g.to(y.dtype), y, -1, y.dtype).div_(ctx.tau)
        return grad.to(ctx.in_dtype), None, None


# ---------------------------------------------------------------------------- soft embedding
def soft_embedding(
    z: torch.Tensor,
    embedding: torch.Tensor,
    mode: str,
    *,
    tau: float = 0.1,
    hard: bool = False,
    noise: bool = True,
    seed: int | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Expected embedding e_bar = p^T E for every row.

    ``z``: (N, V) logits; ``embedding``: (V, D); ``mask``: (N,) bool or None -> (N, D) in the
    compute dtype. Masked-out rows are not computed and come back as zeros (no gradient).
    ``seed`` seeds the Gumbel noise (a fresh torch.Generator); None draws from the global RNG.
    Gumbel ``hard=True`` uses E[argmax] in the forward and the soft gradient (straight-through
    in embedding space, which equals one_hot @ E without building the one-hot): dz is that of
    p^T E, dE is onehot^T G (the gradient of the forward value), not (onehot + p)^T G.
    """
    from . import SOFT_MODES  # the registry lives in the package; imported late to avoid a cycle

    ct = compute_dtype(z.dtype)
    e = embedding.to(ct)
    rows = None
    if mask is not None and not bool(mask.all()):  # (all rows real: no gather, no scatter)
        rows = mask.nonzero().squeeze(1)  # (M,)
        z = z.index_select(0, rows)  # (M, V)
    generator = None
    if mode == "gumbel" and noise and seed is not None:
        generator = torch.Generator(device=z.device).manual_seed(int(seed))
    p = SOFT_MODES[mode](z, tau=tau, hard=False, noise=noise, generator=generator)  # (M, V)
    if not hard:
        out = p @ e  # (M, D)
    else:
        # Forward E[argmax] = onehot^T E, so dE = onehot^T G; the soft path p^T E only carries
        # the straight-through gradient to z (through a detached E), never a p^T G to E.
        hard_rows = e.index_select(0, p.detach().argmax(dim=-1))  # (M, D)
        soft = p @ e.detach()  # (M, D)
        out = hard_rows + (soft - soft.detach())
    if rows is None:
        return out
    return out.new_zeros(mask.shape[0], e.shape[1]).index_copy(0, rows, out)
