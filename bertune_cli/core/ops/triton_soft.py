"""Triton implementation of ``soft_embedding``: autograd Functions around ``triton_kernels``.

Only ``bertune_cli.core.ops`` calls this, after ``resolve_impl`` checked that Triton can run
(CUDA tensors, or ``TRITON_INTERPRET=1``). Triton is imported lazily (``_kernels()``) so that
this module imports without it.

Memory per call, for N rows, V vocabulary, D embedding width (M = unmasked rows):
forward keeps z (the caller's tensor, no copy), E, out (N, D) and per-row statistics (M,) —
plus, for sparsemax with gradients, the support mean of E (M, D). Backward allocates only dz
(N, V), which autograd needs anyway. No (N, V) intermediate exists at any time.
"""

from __future__ import annotations

import torch

# (BM rows, BV vocabulary, BD embedding, warps) per kernel. GPU values: the largest tiles that
# compile for sm_90 without register spills in both fp32 and bf16 (ptxas via cuobjdump; the
# dense backward with 64x64x64 tiles spilled ~1 KB/thread at 4 warps, none at 8). Not timed on a
# GPU yet — benchmarks/bench_kernels.py is the place to tune them.
# The interpreter gets 16-wide tiles so that small test shapes still span several tiles.
GPU_BLOCKS = {
    "fwd": (64, 32, 128, 8),
    "sp_fwd": (64, 64, 64, 8),
    "tau": (4, 1024, 0, 4),
    "bwd": (64, 64, 64, 8),
    "bwd_e": (64, 64, 64, 8),
}
INTERPRET_BLOCKS = {name: (16, 16, 16, 4) for name in GPU_BLOCKS}
NUM_STAGES = 2

__all__ = ["soft_embedding", "gumbel_noise", "sparsemax_threshold"]


def _kernels():
    from . import triton_kernels

    return triton_kernels


def _tl_dtype(dtype: torch.dtype):
    import triton.language as tl

    return tl.float64 if dtype == torch.float64 else tl.float32


def _blocks(z: torch.Tensor, blocks: dict | None) -> dict:
    if blocks is not None:
        return blocks
    return GPU_BLOCKS if z.is_cuda and not _interpreting() else INTERPRET_BLOCKS


def _interpreting() -> bool:
    import os

    return os.environ.get("TRITON_INTERPRET") == "1"


def _dot_flags(acc_dtype: torch.dtype, e_dtype: torch.dtype) -> dict:
    """PREC: fp32 dots follow torch's own matmul setting, so impl="triton" and impl="torch"
    agree. UPCAST: the interpreter cannot multiply 16-bit operands (see triton_kernels._dot)."""
    tf32 = acc_dtype == torch.float32 and torch.backends.cuda.matmul.allow_tf32
    return dict(
        PREC="tf32" if tf32 else "ieee",
        UPCAST=_interpreting() and e_dtype in (torch.bfloat16, torch.float16),
    )


def _cdiv(a: int, b: int) -> int:
    return (a + b - 1) // b


def _launch(kernel, grid: tuple, *args, **kwargs) -> None:
    """Launch unless the grid is empty (every row masked, or N = 0): CUDA rejects empty grids."""
    if all(g > 0 for g in grid):
        kernel[grid](*args, **kwargs)


def _prepare(z: torch.Tensor, e: torch.Tensor, rows: torch.Tensor | None):
    """Unit-stride operands, E in a dtype tl.dot accepts alongside p, and the accumulator dtype."""
    acc = torch.float64 if z.dtype == torch.float64 else torch.float32
    if z.stride(1) != 1:
        z = z.contiguous()
    if acc == torch.float64:
        e = e.to(torch.float64)
    elif e.dtype not in (torch.float32, torch.bfloat16, torch.float16):
        e = e.to(torch.float32)
    if e.stride(1) != 1:
        e = e.contiguous()
    m = z.shape[0] if rows is None else rows.shape[0]
    return z, e, acc, m


class SoftmaxEmbedding(torch.autograd.Function):
    """dense (softmax) and Gumbel-softmax embedding: out (N, D), argmax (M,) int32."""

    @staticmethod
    def forward(ctx, z, e, rows, tau_t, seed, noise, scale, argmax, blocks):
        k = _kernels()
        z, e_k, acc, m = _prepare(z, e, rows)
        n, v = z.shape
        d = e_k.shape[1]
        out = (torch.zeros if rows is not None else torch.empty)(n, d, dtype=acc, device=z.device)
        lse = torch.empty(m, dtype=acc, device=z.device)
        amax = torch.zeros(m if argmax else 1, dtype=torch.int32, device=z.device)
        bm, bv, bd, warps = blocks["fwd"]
        _launch(
            k.softmax_embed_fwd,
            (_cdiv(m, bm), _cdiv(d, bd)),
            z,
            e_k,
            out,
            lse,
            amax,
            rows if rows is not None else lse,
            tau_t,
            seed,
            m,
            v,
            d,
            z.stride(0),
            e_k.stride(0),
            out.stride(0),
            HAS_ROWS=rows is not None,
            NOISE=noise,
            SCALE=scale,
            ARGMAX=argmax,
            ACC=_tl_dtype(acc),
            BM=bm,
            BV=bv,
            BD=bd,
            num_warps=warps,
            num_stages=NUM_STAGES,
            **_dot_flags(acc, e_k.dtype),
        )
        ctx.save_for_backward(z, e_k, out, lse, rows, tau_t)
        ctx.cfg = (seed, noise, scale, blocks, e.dtype)
        ctx.mark_non_differentiable(amax)
        return out, amax

    @staticmethod
    def backward(ctx, dout, _damax):
        z, e_k, out, lse, rows, tau_t = ctx.saved_tensors
        seed, noise, scale, blocks, e_dtype = ctx.cfg
        dout = dout.contiguous()
        # c = dout . e_bar per row: the softmax Jacobian's rank-one term, from (M, D) tensors.
        c = _rowdot(dout, out, rows)
        dz, de = _backward(
            ctx, z, e_k, dout, lse, lse, c, rows, tau_t, seed, noise, scale, False, blocks, e_dtype
        )
        return dz, de, None, None, None, None, None, None, None


class SparsemaxEmbedding(torch.autograd.Function):
    """sparsemax embedding: out (N, D); saves tau and the row max (M,) and the support mean
    of E (M, D)."""

    @staticmethod
    def forward(ctx, z, e, rows, blocks, need_ms):
        k = _kernels()
        z, e_k, acc, m = _prepare(z, e, rows)
        n, v = z.shape
        d = e_k.shape[1]
        tau, kk, shift = _threshold(z, rows, acc, m, blocks)
        out = (torch.zeros if rows is not None else torch.empty)(n, d, dtype=acc, device=z.device)
        ms = torch.empty((m, d) if need_ms else (1,), dtype=acc, device=z.device)
        bm, bv, bd, warps = blocks["sp_fwd"]
        _launch(
            k.sparsemax_embed_fwd,
            (_cdiv(m, bm), _cdiv(d, bd)),
            z,
            e_k,
            out,
            ms,
            tau,
            kk,
            shift,
            rows if rows is not None else tau,
            m,
            v,
            d,
            z.stride(0),
            e_k.stride(0),
            out.stride(0),
            HAS_ROWS=rows is not None,
            MEAN_S=need_ms,
            ACC=_tl_dtype(acc),
            BM=bm,
            BV=bv,
            BD=bd,
            num_warps=warps,
            num_stages=NUM_STAGES,
            **_dot_flags(acc, e_k.dtype),
        )
        ctx.save_for_backward(z, e_k, tau, shift, ms, rows)
        ctx.cfg = (blocks, e.dtype)
        return out

    @staticmethod
    def backward(ctx, dout):
        z, e_k, tau, shift, ms, rows = ctx.saved_tensors
        blocks, e_dtype = ctx.cfg
        dout = dout.contiguous()
        c = None
        if ctx.needs_input_grad[0]:
            g = dout if rows is None else dout.index_select(0, rows)
            c = (g * ms).sum(dim=1)  # mean_S(dp) = dout . mean_S(E), (M,)
        tau_t = torch.ones(1, dtype=tau.dtype, device=tau.device)  # unused by sparse kernels
        dz, de = _backward(
            ctx, z, e_k, dout, tau, shift, c, rows, tau_t, 0, False, False, True, blocks, e_dtype
        )
        return dz, de, None, None, None


def _rowdot(a: torch.Tensor, b: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    """(M,) row-wise dot of two (N, D) tensors over the compact rows."""
    if rows is not None:
        a, b = a.index_select(0, rows), b.index_select(0, rows)
    return (a * b).sum(dim=1)


def _backward(
    ctx, z, e_k, dout, stat, shift, c, rows, tau_t, seed, noise, scale, sparse, blocks, e_dtype
):
    """Launch the dz (N, V) and dE (V, D) kernels that autograd asks for. ``stat``: lse
    (softmax) or tau (sparsemax, relative to the row max ``shift``; unused for softmax)."""
    k = _kernels()
    n, v = z.shape
    d = e_k.shape[1]
    m = stat.shape[0]
    acc = torch.float64 if z.dtype == torch.float64 else torch.float32
    common = dict(
        HAS_ROWS=rows is not None,
        SPARSE=sparse,
        NOISE=noise,
        SCALE=scale,
        ACC=_tl_dtype(acc),
        num_stages=NUM_STAGES,
        **_dot_flags(acc, e_k.dtype),
    )
    rows_arg = rows if rows is not None else stat
    dz = de = None
    if ctx.needs_input_grad[0]:
        # Masked rows get no gradient: zero-filled once, never touched by the kernel.
        dz = (torch.zeros_like if rows is not None else torch.empty_like)(z)
        bm, bv, bd, warps = blocks["bwd"]
        _launch(
            k.embed_bwd_logits,
            (_cdiv(m, bm), _cdiv(v, bv)),
            z,
            e_k,
            dout,
            dz,
            stat,
            shift,
            c,
            rows_arg,
            tau_t,
            seed,
            m,
            v,
            d,
            z.stride(0),
            e_k.stride(0),
            dout.stride(0),
            dz.stride(0),
            BM=bm,
            BV=bv,
            BD=bd,
            num_warps=warps,
            **common,
        )
    if ctx.needs_input_grad[1]:
        de = torch.empty(v, d, dtype=e_k.dtype, device=z.device)
        bm, bv, bd, warps = blocks["bwd_e"]
        _launch(
            k.embed_bwd_embedding,
            (_cdiv(v, bv), _cdiv(d, bd)),
            z,
            dout,
            de,
            stat,
            shift,
            rows_arg,
            tau_t,
            seed,
            m,
            v,
            d,
            z.stride(0),
            dout.stride(0),
            de.stride(0),
            BM=bm,
            BV=bv,
            BD=bd,
            num_warps=warps,
            **common,
        )
        de = de.to(e_dtype)
    return dz, de


def _threshold(z, rows, acc, m, blocks):
    k = _kernels()
    tau = torch.empty(m, dtype=acc, device=z.device)
    kk = torch.empty(m, dtype=torch.int32, device=z.device)
    shift = torch.empty(m, dtype=acc, device=z.device)
    bm, bv, _, warps = blocks["tau"]
    _launch(
        k.sparsemax_tau,
        (_cdiv(m, bm),),
        z,
        tau,
        kk,
        shift,
        rows if rows is not None else tau,
        m,
        z.shape[1],
        z.stride(0),
        HAS_ROWS=rows is not None,
        ACC=_tl_dtype(acc),
        BM=bm,
        BV=bv,
        num_warps=warps,
    )
    return tau, kk, shift


def sparsemax_threshold(z: torch.Tensor, blocks: dict | None = None, relative: bool = False):
    """Kernel sparsemax threshold: ``z`` (N, V) -> tau (N,) in the compute dtype (in z's frame:
    the kernel's relative tau plus the row max), k (N,) int32. ``relative=True``: (tau, k,
    shift) as the kernels use them, p = [(z - shift) - tau]_+ (exact in float32)."""
    z = z if z.stride(1) == 1 else z.contiguous()
    acc = torch.float64 if z.dtype == torch.float64 else torch.float32
    tau, k, shift = _threshold(z, None, acc, z.shape[0], _blocks(z, blocks))
    return (tau, k, shift) if relative else (tau + shift, k)


def gumbel_noise(seed: int, n: int, v: int, device="cpu") -> torch.Tensor:
    """The noise the kernels add for ``seed``, materialized: (n, v) float32 (tests only)."""
    out = torch.empty(n, v, dtype=torch.float32, device=device)
    _launch(
        _kernels().gumbel_fill, (_cdiv(n, 16), _cdiv(v, 256)), out, int(seed), n, v, BM=16, BV=256
    )
    return out


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
    blocks: dict | None = None,
) -> torch.Tensor:
    """Kernel e_bar = p^T E. ``z`` (N, V), ``embedding`` (V, D), ``mask`` (N,) bool -> (N, D).

    Float32 output (float64 for float64 logits); masked rows are zero. ``seed`` is required for
    Gumbel noise (the caller draws one from the global RNG). ``blocks`` overrides the tiles.
    """
    blocks = _blocks(z, blocks)
    rows = None
    if mask is not None:
        rows = mask.nonzero().squeeze(1)  # (M,) int64
    if mode == "sparsemax":
        # The support mean of E is only needed for dz: skip it under no_grad / frozen logits.
        need_ms = torch.is_grad_enabled() and z.requires_grad
        return SparsemaxEmbedding.apply(z, embedding, rows, blocks, need_ms)
    gumbel = mode == "gumbel"
    use_noise = gumbel and noise
    if use_noise and seed is None:
        raise ValueError("Gumbel noise in the Triton path needs an explicit seed")
    acc = torch.float64 if z.dtype == torch.float64 else torch.float32
    tau_t = torch.full((1,), float(tau) if gumbel else 1.0, dtype=acc, device=z.device)
    # hard: the soft path gets a detached E, so dE = onehot^T G only (the gradient of the
    # forward value E[argmax]); dz stays the soft straight-through gradient.
    out, amax = SoftmaxEmbedding.apply(
        z,
        embedding.detach() if hard else embedding,
        rows,
        tau_t,
        int(seed or 0),
        use_noise,
        gumbel,
        hard,
        blocks,
    )
    if not hard:
        return out
    # Straight-through: forward value E[argmax], gradient of the soft embedding.
    hard_rows = embedding.index_select(0, amax.long()).to(out.dtype)  # (M, D)
    soft_rows = out.detach() if rows is None else out.detach().index_select(0, rows)
    delta = hard_rows - soft_rows
    if rows is not None:
        delta = torch.zeros_like(out).index_copy_(0, rows, delta)
    return out + delta
