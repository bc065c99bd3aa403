"""Triton kernels for the soft embedding e_bar = p^T E (method.md §3); ``p`` is never written.

Imported only by ``triton_soft`` after it checked that Triton is usable, so this module may import
triton at the top. Set ``TRITON_INTERPRET=1`` *before* the first import to run the kernels in
Triton's interpreter on CPU tensors (tests): ``@triton.jit`` reads it at decoration time.

Conventions shared by all kernels:
* ``z``: (N, V) logits, row stride ``stride_z``, unit column stride, any float dtype; loaded
  and accumulated in ``ACC`` (float32, or float64 for float64 inputs).
* ``E``: (V, D) row stride ``stride_e``. Dots take p in E's dtype (bf16 MMA for bf16 E);
  ``PREC`` is the fp32 dot precision ("ieee", or "tf32" when torch allows TF32 matmuls).
* Sparsemax works on logits shifted by their row max ``shift`` (M,) (see
  ``reference.row_shift``): tau is stored relative to it and p = [(z - shift) - tau]_+, so the
  float32 sums never see the logits' magnitude.
* Rows: a program handles ``BM`` *compact* rows ``r < M``; with ``HAS_ROWS`` they map to
  global rows ``rows[r]`` (the valid rows of a padding mask), so masked rows cost nothing.
  Per-row statistics (lse, tau, k, argmax, c) are compact (M,); z, dz, out, dout are global.
* Gumbel noise is a pure function of (seed, global row, column): the forward, both backward
  kernels and ``gumbel_fill`` regenerate identical noise, whatever the tiling or the mask.
"""

from __future__ import annotations

import triton
import triton.language as tl

NEG_INF = tl.constexpr(float("-inf"))  # a plain global is not visible to compiled kernels


@triton.jit
def _row_ids(first, rows_ptr, M, BM: tl.constexpr, HAS_ROWS: tl.constexpr):
    """Compact rows r (BM,), their validity, and the global row index (int64) of each."""
    r = first + tl.arange(0, BM)
    r_ok = r < M
    if HAS_ROWS:
        g = tl.load(rows_ptr + r, mask=r_ok, other=0).to(tl.int64)
    else:
        g = r.to(tl.int64)
    return r, r_ok, g


@triton.jit
def _gumbel(seed, g_rows, cols):
    """Standard Gumbel noise (BM, BV) float32 for global rows (BM,) x columns (BV,)."""
    # Philox counter (column, row, 0, 0): unique per element for N, V < 2^32, independent of tiles.
    c0 = (cols[None, :] + 0 * g_rows[:, None]).to(tl.uint32)
    c1 = (g_rows[:, None] + 0 * cols[None, :]).to(tl.uint32)
    zero = c0 * 0
    bits, _, _, _ = tl.philox(seed, c0, c1, zero, zero)
    # 23 random bits, centred in their cell: U in [2^-24, 1 - 2^-24], exact in fp32, never 0 or 1,
    # so g is finite (|g| < 17); the tails cut off have probability ~6e-8 each.
    u = ((bits >> 9).to(tl.float32) + 0.5) * (1.0 / 8388608.0)
    return -tl.log(-tl.log(u))


@triton.jit
def _logits(
    z_ptr,
    stride_z,
    g_rows,
    r_ok,
    cols,
    c_ok,
    seed,
    tau,
    NOISE: tl.constexpr,
    SCALE: tl.constexpr,
    ACC: tl.constexpr,
):
    """(BM, BV) tile of x = (z + g) / tau in ACC; -inf outside the valid rows/columns."""
    ptrs = z_ptr + g_rows[:, None] * stride_z + cols[None, :]
    x = tl.load(ptrs, mask=r_ok[:, None] & c_ok[None, :], other=NEG_INF).to(ACC)
    if NOISE:
        x = x + _gumbel(seed, g_rows, cols).to(ACC)
    if SCALE:
        x = x / tau
    return x


@triton.jit
def _dot(a, b, acc, PREC: tl.constexpr, UPCAST: tl.constexpr):
    """acc + a @ b. UPCAST: multiply 16-bit operands in fp32 — Triton 3.9's interpreter returns
    garbage for bf16 tl.dot, so interpreted runs emulate only the rounding of the operands."""
    if UPCAST:
        return tl.dot(a.to(tl.float32), b.to(tl.float32), acc, input_precision="ieee")
    else:
        return tl.dot(a, b, acc, input_precision=PREC)


@triton.jit
def _probs(x, stat, SPARSE: tl.constexpr):
    """p tile from x (BM, BV) and the row statistic (BM,): lse (softmax) or tau (sparsemax)."""
    if SPARSE:
        p = tl.where(x > stat[:, None], x - stat[:, None], 0.0)
    else:
        p = tl.exp(x - stat[:, None])
    return p


@triton.jit
def softmax_embed_fwd(
    z_ptr,
    e_ptr,
    out_ptr,
    lse_ptr,
    amax_ptr,
    rows_ptr,
    tau_ptr,
    seed,
    M,
    V,
    D,
    stride_z,
    stride_e,
    stride_o,
    HAS_ROWS: tl.constexpr,
    NOISE: tl.constexpr,
    SCALE: tl.constexpr,
    ARGMAX: tl.constexpr,
    ACC: tl.constexpr,
    PREC: tl.constexpr,
    UPCAST: tl.constexpr,
    BM: tl.constexpr,
    BV: tl.constexpr,
    BD: tl.constexpr,
):
    """out[rows, d-block] = softmax(x) @ E in one pass over V with an online softmax.

    Grid (cdiv(M, BM), cdiv(D, BD)). Writes out (N, D) rows, and from the first D block the
    per-row lse (M,) that the backward needs (plus argmax (M,) for straight-through Gumbel).
    """
    pid_m = tl.program_id(0)
    pid_d = tl.program_id(1)
    r, r_ok, g_rows = _row_ids(pid_m * BM, rows_ptr, M, BM, HAS_ROWS)
    d = pid_d * BD + tl.arange(0, BD)
    d_ok = d < D
    tau = tl.load(tau_ptr)
    m_i = tl.full([BM], NEG_INF, ACC)
    l_i = tl.zeros([BM], ACC)
    best = tl.zeros([BM], tl.int32)
    acc = tl.zeros([BM, BD], ACC)
    for v0 in range(0, V, BV):
        cols = v0 + tl.arange(0, BV)
        c_ok = cols < V
        x = _logits(z_ptr, stride_z, g_rows, r_ok, cols, c_ok, seed, tau, NOISE, SCALE, ACC)
        t_max = tl.max(x, axis=1)
        if ARGMAX:
            best = tl.where(t_max > m_i, tl.argmax(x, axis=1) + v0, best)
        m_new = tl.maximum(m_i, t_max)
        # A row that is -inf so far (masked vocabulary, padding rows) must give 0, not NaN.
        m_safe = tl.where(m_new == NEG_INF, 0.0, m_new)
        alpha = tl.exp(m_i - m_safe)
        p = tl.exp(x - m_safe[:, None])
        l_i = l_i * alpha + tl.sum(p, axis=1)
        e = tl.load(
            e_ptr + cols[:, None] * stride_e + d[None, :],
            mask=c_ok[:, None] & d_ok[None, :],
            other=0.0,
        )
        acc = _dot(p.to(e.dtype), e, acc * alpha[:, None], PREC, UPCAST)
        m_i = m_new
    l_safe = tl.where(l_i > 0, l_i, 1.0)
    tl.store(
        out_ptr + g_rows[:, None] * stride_o + d[None, :],
        acc / l_safe[:, None],
        mask=r_ok[:, None] & d_ok[None, :],
    )
    if pid_d == 0:
        tl.store(lse_ptr + r, m_i + tl.log(l_safe), mask=r_ok)
        if ARGMAX:
            tl.store(amax_ptr + r, best, mask=r_ok)


@triton.jit
def sparsemax_tau(
    z_ptr,
    tau_ptr,
    k_ptr,
    shift_ptr,
    rows_ptr,
    M,
    V,
    stride_z,
    HAS_ROWS: tl.constexpr,
    ACC: tl.constexpr,
    BM: tl.constexpr,
    BV: tl.constexpr,
):
    """Exact sparsemax threshold tau (M,) relative to the row max shift (M,), and the support
    size k (M,), no sort. Grid (cdiv(M, BM),).

    Michelot's fixed point from -1 on z - max (see reference.sparsemax_threshold): each pass
    over V tiles sums the entries above tau; a row stops when its support no longer shrinks,
    the block when all its rows stopped (typically 3-13 passes at V = 30522).
    """
    r, r_ok, g_rows = _row_ids(tl.program_id(0) * BM, rows_ptr, M, BM, HAS_ROWS)
    m = tl.full([BM], NEG_INF, ACC)
    for v0 in range(0, V, BV):
        cols = v0 + tl.arange(0, BV)
        x = _logits(z_ptr, stride_z, g_rows, r_ok, cols, cols < V, 0, 1.0, False, False, ACC)
        m = tl.maximum(m, tl.max(x, axis=1))
    m = tl.where(m == NEG_INF, 0.0, m)  # a row without finite entries: no shift
    tau = tl.zeros([BM], ACC) - 1.0
    k_prev = tl.where(r_ok, V + 1, 0)
    active = r_ok.to(tl.int32)
    while tl.max(active, axis=0) > 0:
        s = tl.zeros([BM], ACC)
        k = tl.zeros([BM], tl.int32)
        for v0 in range(0, V, BV):
            cols = v0 + tl.arange(0, BV)
            x = _logits(z_ptr, stride_z, g_rows, r_ok, cols, cols < V, 0, 1.0, False, False, ACC)
            x = x - m[:, None]
            sup = x > tau[:, None]
            s += tl.sum(tl.where(sup, x, 0.0), axis=1)
            k += tl.sum(sup.to(tl.int32), axis=1)
        shrunk = (k < k_prev) & (active > 0)
        tau = tl.where(shrunk, (s - 1.0) / tl.maximum(k, 1).to(ACC), tau)
        k_prev = tl.where(shrunk, k, k_prev)
        active = shrunk.to(tl.int32)
    tl.store(tau_ptr + r, tau, mask=r_ok)
    tl.store(k_ptr + r, k_prev, mask=r_ok)
    tl.store(shift_ptr + r, m, mask=r_ok)


@triton.jit
def sparsemax_embed_fwd(
    z_ptr,
    e_ptr,
    out_ptr,
    ms_ptr,
    tau_ptr,
    k_ptr,
    shift_ptr,
    rows_ptr,
    M,
    V,
    D,
    stride_z,
    stride_e,
    stride_o,
    HAS_ROWS: tl.constexpr,
    MEAN_S: tl.constexpr,
    ACC: tl.constexpr,
    PREC: tl.constexpr,
    UPCAST: tl.constexpr,
    BM: tl.constexpr,
    BV: tl.constexpr,
    BD: tl.constexpr,
):
    """out[rows] = [z - tau]_+ @ E; with MEAN_S also ms (M, D) = mean of E over the support.

    Grid (cdiv(M, BM), cdiv(D, BD)). A tile with no support entry in any of its rows (almost
    all of them: supports hold a handful of the 30522 entries) skips the E load and the dot.
    ms lets the backward apply 1_S (g - mean_S g) in a single pass: mean_S(dp) = dout . ms.
    """
    pid_m = tl.program_id(0)
    pid_d = tl.program_id(1)
    r, r_ok, g_rows = _row_ids(pid_m * BM, rows_ptr, M, BM, HAS_ROWS)
    d = pid_d * BD + tl.arange(0, BD)
    d_ok = d < D
    tau = tl.load(tau_ptr + r, mask=r_ok, other=0.0)
    shift = tl.load(shift_ptr + r, mask=r_ok, other=0.0)
    acc = tl.zeros([BM, BD], ACC)
    acc_s = tl.zeros([BM, BD], ACC)
    for v0 in range(0, V, BV):
        cols = v0 + tl.arange(0, BV)
        c_ok = cols < V
        x = _logits(z_ptr, stride_z, g_rows, r_ok, cols, c_ok, 0, 1.0, False, False, ACC)
        x = x - shift[:, None]
        sup = x > tau[:, None]
        if tl.max(tl.max(sup.to(tl.int32), axis=1), axis=0) > 0:
            e = tl.load(
                e_ptr + cols[:, None] * stride_e + d[None, :],
                mask=c_ok[:, None] & d_ok[None, :],
                other=0.0,
            )
            p = tl.where(sup, x - tau[:, None], 0.0)
            acc = _dot(p.to(e.dtype), e, acc, PREC, UPCAST)
            if MEAN_S:
                acc_s = _dot(tl.where(sup, 1.0, 0.0).to(e.dtype), e, acc_s, PREC, UPCAST)
    tl.store(
        out_ptr + g_rows[:, None] * stride_o + d[None, :], acc, mask=r_ok[:, None] & d_ok[None, :]
    )
    if MEAN_S:
        k = tl.load(k_ptr + r, mask=r_ok, other=1)
        tl.store(
            ms_ptr + r[:, None] * D + d[None, :],
            acc_s / tl.maximum(k, 1).to(ACC)[:, None],
            mask=r_ok[:, None] & d_ok[None, :],
        )


@triton.jit
def embed_bwd_logits(
    z_ptr,
    e_ptr,
    dout_ptr,
    dz_ptr,
    stat_ptr,
    shift_ptr,
    c_ptr,
    rows_ptr,
    tau_ptr,
    seed,
    M,
    V,
    D,
    stride_z,
    stride_e,
    stride_do,
    stride_dz,
    HAS_ROWS: tl.constexpr,
    SPARSE: tl.constexpr,
    NOISE: tl.constexpr,
    SCALE: tl.constexpr,
    ACC: tl.constexpr,
    PREC: tl.constexpr,
    UPCAST: tl.constexpr,
    BM: tl.constexpr,
    BV: tl.constexpr,
    BD: tl.constexpr,
):
    """dz tile from recomputed p; grid (cdiv(M, BM), cdiv(V, BV)), fully parallel.

    dp = dout @ E_tile^T (loop over D). softmax: dz = p (dp - c) / tau with c = dout . out;
    sparsemax: dz = 1_S (dp - c) with c = dout . ms (tiles without support skip the dot).
    """
    pid_m = tl.program_id(0)
    pid_v = tl.program_id(1)
    r, r_ok, g_rows = _row_ids(pid_m * BM, rows_ptr, M, BM, HAS_ROWS)
    cols = pid_v * BV + tl.arange(0, BV)
    c_ok = cols < V
    tau = tl.load(tau_ptr)
    stat = tl.load(stat_ptr + r, mask=r_ok, other=0.0)
    if SPARSE:
        shift = tl.load(shift_ptr + r, mask=r_ok, other=0.0)
        x = _logits(z_ptr, stride_z, g_rows, r_ok, cols, c_ok, seed, tau, False, False, ACC)
        x = x - shift[:, None]
        d_end = tl.where(tl.max(tl.max((x > stat[:, None]).to(tl.int32), axis=1), axis=0) > 0, D, 0)
    else:
        d_end = D
    dp = tl.zeros([BM, BV], ACC)
    for d0 in range(0, d_end, BD):
        d = d0 + tl.arange(0, BD)
        d_ok = d < D
        e = tl.load(
            e_ptr + cols[:, None] * stride_e + d[None, :],
            mask=c_ok[:, None] & d_ok[None, :],
            other=0.0,
        )
        g = tl.load(
            dout_ptr + g_rows[:, None] * stride_do + d[None, :],
            mask=r_ok[:, None] & d_ok[None, :],
            other=0.0,
        )
        dp = _dot(g.to(e.dtype), tl.trans(e), dp, PREC, UPCAST)
    # p is recomputed only now (z re-read from cache) so that no (BM, BV) tile but dp is live
    # across the D loop: register pressure decides whether this kernel spills.
    x = _logits(z_ptr, stride_z, g_rows, r_ok, cols, c_ok, seed, tau, NOISE, SCALE, ACC)
    c = tl.load(c_ptr + r, mask=r_ok, other=0.0)
    if SPARSE:
        x = x - tl.load(shift_ptr + r, mask=r_ok, other=0.0)[:, None]
        dz = tl.where(x > stat[:, None], dp - c[:, None], 0.0)
    else:
        dz = _probs(x, stat, False) * (dp - c[:, None])
        if SCALE:
            dz = dz / tau
    tl.store(
        dz_ptr + g_rows[:, None] * stride_dz + cols[None, :],
        dz.to(dz_ptr.dtype.element_ty),
        mask=r_ok[:, None] & c_ok[None, :],
    )


@triton.jit
def embed_bwd_embedding(
    z_ptr,
    dout_ptr,
    de_ptr,
    stat_ptr,
    shift_ptr,
    rows_ptr,
    tau_ptr,
    seed,
    M,
    V,
    D,
    stride_z,
    stride_do,
    stride_de,
    HAS_ROWS: tl.constexpr,
    SPARSE: tl.constexpr,
    NOISE: tl.constexpr,
    SCALE: tl.constexpr,
    ACC: tl.constexpr,
    PREC: tl.constexpr,
    UPCAST: tl.constexpr,
    BM: tl.constexpr,
    BV: tl.constexpr,
    BD: tl.constexpr,
):
    """dE (V, D) = p^T dout with p recomputed; grid (cdiv(V, BV), cdiv(D, BD)), loop over rows.

    Only launched when E requires grad (the LM is frozen in BERTTune, so normally never).
    """
    cols = tl.program_id(0) * BV + tl.arange(0, BV)
    c_ok = cols < V
    d = tl.program_id(1) * BD + tl.arange(0, BD)
    d_ok = d < D
    tau = tl.load(tau_ptr)
    acc = tl.zeros([BV, BD], ACC)
    for m0 in range(0, M, BM):
        r, r_ok, g_rows = _row_ids(m0, rows_ptr, M, BM, HAS_ROWS)
        x = _logits(z_ptr, stride_z, g_rows, r_ok, cols, c_ok, seed, tau, NOISE, SCALE, ACC)
        if SPARSE:
            x = x - tl.load(shift_ptr + r, mask=r_ok, other=0.0)[:, None]
        p = _probs(x, tl.load(stat_ptr + r, mask=r_ok, other=0.0), SPARSE)
        g = tl.load(
            dout_ptr + g_rows[:, None] * stride_do + d[None, :],
            mask=r_ok[:, None] & d_ok[None, :],
            other=0.0,
        )
        acc = _dot(tl.trans(p).to(g.dtype), g, acc, PREC, UPCAST)
    tl.store(
        de_ptr + cols[:, None] * stride_de + d[None, :],
        acc.to(de_ptr.dtype.element_ty),
        mask=c_ok[:, None] & d_ok[None, :],
    )


@triton.jit
def gumbel_fill(out_ptr, seed, N, V, BM: tl.constexpr, BV: tl.constexpr):
    """Materialize the in-kernel noise, out (N, V) float32 (tests and diagnostics only)."""
    rows = tl.program_id(0) * BM + tl.arange(0, BM)
    cols = tl.program_id(1) * BV + tl.arange(0, BV)
    g = _gumbel(seed, rows.to(tl.int64), cols)
    tl.store(
        out_ptr + rows[:, None].to(tl.int64) * V + cols[None, :],
        g,
        mask=(rows < N)[:, None] & (cols < V)[None, :],
    )
