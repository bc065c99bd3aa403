"""Triton kernels against the PyTorch reference.

Without CUDA the kernels run in Triton's interpreter on CPU tensors: this module sets
TRITON_INTERPRET=1 when it is imported, before anything imports triton (``@triton.jit`` reads it
when it decorates), and restores it after its tests. With CUDA the same tests run the compiled
kernels, and a subprocess test compiles them for sm_90 even without a GPU. Shapes are small (the interpreter
is slow) and tiles are 16 wide, so V = 37 and D = 20 span partial tiles. Skipped without Triton,
except the impl-selection tests, which need no Triton.
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
import math
import os
import subprocess
import sys

import pytest
import torch

CUDA = torch.cuda.is_available()
_OLD_INTERPRET = os.environ.get("TRITON_INTERPRET")
if not CUDA:
    # Before anything imports triton: its standard library (tl.zeros, ...) is decorated at import
    # time, and the interpreter only works if that happened with TRITON_INTERPRET=1.
    os.environ["TRITON_INTERPRET"] = "1"

from bertune_cli.core import ops  # noqa: E402
from bertune_cli.core.ops import reference  # noqa: E402

DEVICE = "cuda" if CUDA else "cpu"
# (BM, BV, BD, warps) for every kernel: 16-wide tiles, so V=37 and D=20 span partial tiles.
SMALL = {k: (16, 16, 16, 4) for k in ("fwd", "sp_fwd", "tau", "bwd", "bwd_e")}
TOL = {torch.float64: (1e-10, 1e-10), torch.float32: (2e-5, 2e-5), torch.bfloat16: (2e-2, 2e-2)}


@pytest.fixture(scope="module", autouse=True)
def _restore_interpret_env():
    """Later test modules see TRITON_INTERPRET as it was (impl='triton' raises on CPU again)."""
    yield
    if _OLD_INTERPRET is None:
        os.environ.pop("TRITON_INTERPRET", None)
    else:
        os.environ["TRITON_INTERPRET"] = _OLD_INTERPRET


@pytest.fixture(scope="module")
def kernels():
    """triton_soft with interpreted kernels on CPU, compiled kernels on CUDA."""
    triton = pytest.importorskip("triton")
    if not CUDA and not type(triton.language.standard.zeros).__name__ == "InterpretedFunction":
        pytest.fail("triton was imported before this module set TRITON_INTERPRET=1; run "
                    "`TRITON_INTERPRET=1 pytest tests/core/ops/test_triton.py`")
    from bertune_cli.core.ops import triton_kernels, triton_soft

    if not CUDA and type(triton_kernels.softmax_embed_fwd).__name__ != "InterpretedFunction":
        importlib.reload(triton_kernels)  # imported earlier without the interpreter
    return triton_soft


def _rows(n_extra: int, v: int, dtype, seed=0) -> torch.Tensor:
    """(4 + n_extra, V): peaked, flat, single-support, tie, then random rows (scale 3)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(4 + n_extra, v, generator=g, dtype=torch.float64) * 3
    z[0] *= 300.0
    z[1] = 0.5
    z[2, v - 1] = 40.0                       # the support sits in the last, partial tile
    z[3] = -1.0
    z[3, [0, 20]] = 6.0
    return z.to(dtype).to(DEVICE)


def _run(fn, z, e, up):
    z = z.detach().clone().requires_grad_()
    e = e.detach().clone().requires_grad_()
    out = fn(z, e)
    dz, de = torch.autograd.grad(out, (z, e), up)
    return out, dz, de


def _close(a, b, dtype, scale=1.0):
    rtol, atol = TOL[dtype]
    torch.testing.assert_close(a.double(), b.double(), rtol=rtol, atol=atol * scale)


def _close_dz(dz, r_dz, up, e, r_out, tau, dtype):
    """dz to matmul accuracy: |err| <= rtol |dz| + eps * bound, with the rounding bound of
    dz = p (dp - dout.e_bar) / tau, bound_rv = (|dout_r| . |E_v| + |dout_r| . |e_bar_r|) / tau.
    (An fp32 value of p (dp - c) that cancels to ~0 keeps an absolute error ~eps |g||E| / tau.)"""
    rtol, eps = {torch.float64: (1e-10, 1e-12), torch.float32: (1e-5, 1e-6),
                 torch.bfloat16: (1e-2, 8e-3)}[dtype]
    up, e, r_out = up.double().abs(), e.double().abs(), r_out.detach().double().abs()
    bound = (up @ e.T + (up * r_out).sum(-1, keepdim=True)) / tau
    err = (dz.double() - r_dz.double()).abs()
    excess = err - rtol * r_dz.double().abs() - eps * bound - 1e-30
    assert (excess <= 0).all(), f"max error {err.max().item():.3g}, worst excess {excess.max():.3g}"


def _reference(mode, z, e, tau, noise_tensor=None):
    """Reference e_bar for the kernel's noise (gumbel) — p computed on the same input values."""
    def fn(z, e):
        if mode == "gumbel":
            p = reference.gumbel_softmax(z, tau=tau, gumbels=noise_tensor)
        else:
            p = ops.soft_probs(z, mode)
        return p @ e.to(p.dtype)
    return fn


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("mode, tau", [("dense", 1.0), ("sparsemax", 1.0), ("gumbel", 1.0),
                                       ("gumbel", 0.1), ("gumbel", 0.01)])
def test_kernel_matches_reference_outputs_and_gradients(kernels, mode, tau, dtype):
    z = _rows(3, 37, dtype)
    e = torch.randn(37, 20, generator=torch.Generator().manual_seed(1)).to(dtype).to(DEVICE)
    out_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    up = torch.randn(z.shape[0], 20, dtype=out_dtype).to(DEVICE)        # dL/d e_bar
    out, dz, de = _run(lambda z, e: kernels.soft_embedding(z, e, mode, tau=tau, seed=5,
                                                           blocks=SMALL), z, e, up)
    noise = kernels.gumbel_noise(5, *z.shape, device=DEVICE)
    r_out, r_dz, r_de = _run(_reference(mode, z, e, tau, noise), z, e, up)
    assert out.dtype == out_dtype
    assert dz.dtype == dtype and de.dtype == dtype
    _close(out, r_out, dtype)
    _close_dz(dz, r_dz, up, e, r_out, tau if mode == "gumbel" else 1.0, dtype)
    _close(de, r_de, dtype, scale=max(1.0, r_de.abs().max().item()))


@pytest.mark.parametrize("mode", ["dense", "sparsemax", "gumbel"])
def test_single_row_and_default_tiles(kernels, mode):
    z = torch.randn(1, 300, dtype=torch.float64, device=DEVICE) * 2
    e = torch.randn(300, 24, dtype=torch.float64, device=DEVICE)
    out = kernels.soft_embedding(z, e, mode, tau=0.1, seed=3)
    ref = _reference(mode, z, e, 0.1, kernels.gumbel_noise(3, 1, 300, device=DEVICE))(z, e)
    _close(out, ref, torch.float64)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_sparsemax_threshold_kernel_matches_reference(kernels, dtype):
    z = torch.cat([_rows(6, 53, dtype), torch.randn(4, 53).to(dtype).to(DEVICE) * 0.01])
    tau, k = kernels.sparsemax_threshold(z, blocks=SMALL)
    r_tau, r_k = reference.sparsemax_threshold(z.to(reference.compute_dtype(dtype)))
    assert k.tolist() == r_k.squeeze(1).tolist()
    _close(tau, r_tau.squeeze(1), torch.float64 if dtype == torch.float64 else torch.float32)


def test_gumbel_kernel_seeds_and_eval_mode(kernels):
    z = _rows(4, 37, torch.float32)
    e = torch.randn(37, 20, device=DEVICE)
    run = lambda **kw: kernels.soft_embedding(z, e, "gumbel", tau=0.1, blocks=SMALL, **kw)  # noqa
    a, b, c = run(seed=1), run(seed=1), run(seed=2)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - c).abs().max() > 1e-2
    # Evaluation: no noise, y = softmax(z / tau).
    torch.testing.assert_close(run(seed=1, noise=False), torch.softmax(z / 0.1, -1) @ e,
                               rtol=2e-5, atol=2e-5)


def test_kernel_noise_is_gumbel_and_independent_of_tiles(kernels):
    g = kernels.gumbel_noise(123, 64, 4000, device=DEVICE).double().cpu()
    assert torch.isfinite(g).all()
    assert abs(g.mean().item() - 0.5772156649) < 0.01                    # sd of mean ~0.005
    assert abs(g.var().item() - math.pi ** 2 / 6) < 0.04
    other = kernels.gumbel_noise(124, 64, 4000, device=DEVICE).double().cpu()
    assert abs(torch.corrcoef(torch.stack([g.flatten(), other.flatten()]))[0, 1]) < 0.01
    assert not torch.equal(g[0], g[1])                                   # rows differ
    # The noise of an element does not depend on the matrix it is drawn in (only seed, row, col).
    torch.testing.assert_close(kernels.gumbel_noise(123, 3, 50, device=DEVICE).cpu(),
                               g[:3, :50].float(), rtol=0, atol=0)
    stats = pytest.importorskip("scipy.stats")
    assert stats.kstest(g.flatten()[:50_000].numpy(), "gumbel_r").pvalue > 1e-3


def test_hard_gumbel_kernel_is_straight_through(kernels):
    z = _rows(3, 37, torch.float64).requires_grad_()
    e = torch.randn(37, 20, dtype=torch.float64, device=DEVICE)
    up = torch.randn(z.shape[0], 20, dtype=torch.float64, device=DEVICE)
    hard = kernels.soft_embedding(z, e, "gumbel", tau=0.5, hard=True, seed=8, blocks=SMALL)
    soft = kernels.soft_embedding(z, e, "gumbel", tau=0.5, seed=8, blocks=SMALL)
    noise = kernels.gumbel_noise(8, *z.shape, device=DEVICE)
    torch.testing.assert_close(hard.detach(), e[(z.detach() + noise).argmax(-1)])
    torch.testing.assert_close(torch.autograd.grad(hard, z, up)[0],
                               torch.autograd.grad(soft, z, up)[0])


@pytest.mark.parametrize("mode", ["dense", "sparsemax", "gumbel"])
def test_masked_rows_are_zero_and_skipped(kernels, mode):
    z = _rows(4, 37, torch.float32).requires_grad_()
    e = torch.randn(37, 20, device=DEVICE)
    mask = torch.tensor([True, False, True, True, False, False, True, True], device=DEVICE)
    full = kernels.soft_embedding(z, e, mode, seed=4, blocks=SMALL)
    out = kernels.soft_embedding(z, e, mode, seed=4, mask=mask, blocks=SMALL)
    # Same noise for a row with or without the mask: it depends on the global row index.
    torch.testing.assert_close(out[mask], full[mask], rtol=0, atol=1e-6)  # other tile mates
    assert (out[~mask] == 0).all()
    (dz,) = torch.autograd.grad(out.sum(), z)
    assert (dz[~mask] == 0).all() and dz[mask].abs().sum() > 0
    none = kernels.soft_embedding(z, e, mode, seed=4, mask=torch.zeros_like(mask), blocks=SMALL)
    assert none.shape == (8, 20) and (none == 0).all()                  # empty grid: no launch
    assert (torch.autograd.grad(none.sum(), z)[0] == 0).all()
    with torch.no_grad():                                               # sparsemax: no mean_S(E)
        torch.testing.assert_close(kernels.soft_embedding(z, e, mode, seed=4, blocks=SMALL), full)


def test_public_api_with_leading_dims_and_mask(kernels):
    z = torch.randn(2, 3, 37, device=DEVICE)
    e = torch.randn(37, 20, device=DEVICE)
    mask = torch.tensor([[True, True, False], [True, False, False]], device=DEVICE)
    for mode in ops.SOFT_MODES:
        got = ops.soft_embedding(z, e, mode, noise=False, impl="triton", mask=mask)
        ref = ops.soft_embedding(z, e, mode, noise=False, impl="torch", mask=mask)
        assert got.shape == (2, 3, 20)
        torch.testing.assert_close(got, ref, rtol=2e-5, atol=2e-5)


def test_gradcheck_float64_through_kernels(kernels):
    g = torch.Generator().manual_seed(2)
    z = (torch.randn(2, 18, generator=g, dtype=torch.float64) * 2).to(DEVICE).requires_grad_()
    e = torch.randn(18, 3, generator=g, dtype=torch.float64).to(DEVICE).requires_grad_()
    for mode in ("gumbel", "sparsemax"):
        fn = lambda z, e: kernels.soft_embedding(z, e, mode, tau=0.5, seed=6,  # noqa: E731
                                                 blocks=SMALL)
        assert torch.autograd.gradcheck(fn, (z, e), eps=1e-6, atol=1e-7, fast_mode=True)


# Wide tiles for full-vocabulary rows: the interpreter's cost is per tile, not per element.
WIDE = {"fwd": (8, 1024, 16, 4), "sp_fwd": (8, 1024, 16, 4), "tau": (2, 1024, 0, 4),
        "bwd": (8, 1024, 16, 4), "bwd_e": (8, 1024, 16, 4)}


@pytest.mark.parametrize("v", [5000, 30522])
def test_sparsemax_kernel_float32_mass_on_flat_tied_and_full_vocabulary_rows(kernels, v,
                                                                             degenerate_rows):
    """The kernel thresholds z - max like the reference: the float32 p = [(z - max) - tau]_+
    of its threshold sums to 1 within 1e-6, finite dz (before: mass lost on flat-topped rows,
    NaN on rows of ties). Read through a column of ones in E, the sum also carries the dot's
    float32 accumulation: within a BV-wide tile in an order the backend chooses (in the
    interpreter numpy's BLAS, whose blocking depends on the CPU: 2e-6 on one CPU, 1.1e-5 on
    another), then across the V/BV tiles, so the worst-case bound (BV + V/BV) u of a sum of
    non-negative terms that add up to 1 (Higham's gamma_n, u = 2^-24)."""
    z = degenerate_rows(v).to(DEVICE).requires_grad_()
    tau, k, shift = kernels.sparsemax_threshold(z.detach(), blocks=WIDE, relative=True)
    p = ((z.detach() - shift[:, None]) - tau[:, None]).clamp_min(0)       # float32, (6, V)
    assert (p.double().sum(-1) - 1).abs().max().item() <= 1e-6
    assert (k >= 1).all() and k[3].item() == v and k[4].item() == 2000
    e = torch.randn(v, 16, generator=torch.Generator().manual_seed(0)).to(DEVICE)
    e[:, 0] = 1.0
    out = kernels.soft_embedding(z, e, "sparsemax", blocks=WIDE)
    bv = WIDE["fwd"][1]
    assert (out[:, 0] - 1).abs().max().item() <= (bv + math.ceil(v / bv)) * 2.0 ** -24
    torch.testing.assert_close(out, ops.soft_embedding(z.detach(), e, "sparsemax", impl="torch"),
                               rtol=2e-5, atol=2e-5)
    (dz,) = torch.autograd.grad(out, z, torch.randn_like(out))
    assert torch.isfinite(dz).all()


def test_hard_gumbel_kernel_gradient_wrt_the_embedding_is_onehot_transpose_g(kernels):
    """gradcheck on E: the forward E[argmax] has Jacobian onehot (before: (onehot + p)^T G)."""
    g = torch.Generator().manual_seed(2)
    z = torch.randn(3, 21, generator=g, dtype=torch.float64).to(DEVICE)
    e = torch.randn(21, 3, generator=g, dtype=torch.float64).to(DEVICE).requires_grad_()
    fn = lambda e: kernels.soft_embedding(z, e, "gumbel", tau=0.5, hard=True, seed=3,  # noqa: E731
                                          blocks=SMALL)
    assert torch.autograd.gradcheck(fn, (e,), eps=1e-6, atol=1e-8, fast_mode=True)
    up = torch.randn(3, 3, generator=g, dtype=torch.float64).to(DEVICE)
    amax = (z + kernels.gumbel_noise(3, *z.shape, device=DEVICE)).argmax(-1)
    onehot = torch.nn.functional.one_hot(amax, 21).to(up.dtype)
    torch.testing.assert_close(torch.autograd.grad(fn(e), e, up)[0], onehot.T @ up)


COMPILE_SCRIPT = r"""
import triton, triton.language as tl
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from bertune_cli.core.ops import triton_kernels as K
from bertune_cli.core.ops.triton_soft import GPU_BLOCKS, NUM_STAGES

PTRS = {"z_ptr": "*bf16", "e_ptr": "*bf16", "dz_ptr": "*bf16", "de_ptr": "*bf16",
        "amax_ptr": "*i32", "k_ptr": "*i32", "rows_ptr": "*i64"}

def build(fn, block, **consts):
    bm, bv, bd, warps = GPU_BLOCKS[block]
    consts.update(BM=bm, BV=bv, BD=bd, ACC=tl.float32, PREC="tf32", UPCAST=False, HAS_ROWS=True)
    consts = {k: v for k, v in consts.items() if k in fn.arg_names}
    sig = {n: "constexpr" if n in consts else PTRS.get(n, "*fp32" if n.endswith("_ptr") else "i32")
           for n in fn.arg_names}
    src = ASTSource(fn, sig, {(fn.arg_names.index(k),): v for k, v in consts.items()})
    triton.compile(src, target=GPUTarget("cuda", 90, 32),
                   options={"num_warps": warps, "num_stages": NUM_STAGES})
    print("compiled", fn.__name__ if hasattr(fn, "__name__") else fn, block)

build(K.softmax_embed_fwd, "fwd", NOISE=True, SCALE=True, ARGMAX=True)
build(K.sparsemax_tau, "tau")
build(K.sparsemax_embed_fwd, "sp_fwd", MEAN_S=True)
build(K.embed_bwd_logits, "bwd", SPARSE=False, NOISE=True, SCALE=True)
build(K.embed_bwd_logits, "bwd", SPARSE=True, NOISE=False, SCALE=False)
build(K.embed_bwd_embedding, "bwd_e", SPARSE=False, NOISE=True, SCALE=True)
"""


@pytest.mark.skipif(CUDA, reason="the CUDA tests compile and run the kernels themselves")
def test_kernels_compile_for_an_h100_without_a_gpu(kernels):
    """The interpreter does not check what the compiler rejects (globals, loop-carried types,
    scalar control flow); compile every kernel to a cubin for sm_90 (bundled ptxas, no GPU)."""
    if importlib.util.find_spec("triton.backends.nvidia") is None:
        pytest.skip("this Triton build has no NVIDIA backend (no bundled ptxas)")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    res = subprocess.run([sys.executable, "-W", "ignore", "-c", COMPILE_SCRIPT], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("compiled") == 6


# ----------------------------------------------------------------- implementation selection
def test_triton_without_gpu_or_interpreter_raises_kernel_unavailable():
    """A fresh interpreter with no GPU visible and TRITON_INTERPRET unset (Triton or not)."""
    code = ("import torch\nfrom bertune_cli.core import ops\n"
            "from bertune_cli.core.errors import KernelUnavailable\n"
            "try:\n    ops.soft_embedding(torch.randn(2, 5), torch.randn(5, 3), 'dense',"
            " impl='triton')\nexcept KernelUnavailable as exc:\n    print('RAISED', exc)\n")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["CUDA_VISIBLE_DEVICES"] = ""
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("RAISED impl='triton' needs"), res.stdout
    assert "impl='torch'" in res.stdout                                  # the hint


def test_auto_on_cpu_tensors_uses_torch_and_logs_once(caplog, monkeypatch):
    monkeypatch.setattr(ops, "_reported", set())
    z, e = torch.randn(2, 5), torch.randn(5, 3)
    with caplog.at_level(logging.INFO, logger="bertune.ops"):
        assert ops.resolve_impl("auto", z) == "torch"
        out = ops.soft_embedding(z, e, "dense")
        ops.soft_embedding(z, e, "sparsemax")
    torch.testing.assert_close(out, torch.softmax(z, -1) @ e)
    msgs = [r.getMessage() for r in caplog.records if r.name == "bertune.ops"]
    assert msgs == ["soft_embedding impl='auto' uses torch (tensors are on the CPU)"]


# ------------------------------------------------------------------------------- real GPU
@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("mode", ["dense", "sparsemax", "gumbel"])
def test_gpu_full_vocabulary_matches_reference_with_less_memory(kernels, mode, dtype):
    n, v, d = 512, 30522, 384
    z = (torch.randn(n, v, device="cuda") * 3).to(dtype)
    e = (torch.randn(v, d, device="cuda") * 0.05).to(dtype)
    up = torch.randn(n, d, device="cuda")
    noise = kernels.gumbel_noise(5, n, v, device="cuda")
    r_out, r_dz, _ = _run(_reference(mode, z, e, 0.1, noise), z, e.detach(), up)
    del noise
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    zk = z.detach().clone().requires_grad_()
    out = kernels.soft_embedding(zk, e, mode, tau=0.1, seed=5)
    (dz,) = torch.autograd.grad(out, zk, up)
    peak = torch.cuda.max_memory_allocated() - base
    _close(out, r_out, dtype)
    _close_dz(dz, r_dz, up, e, r_out, 0.1 if mode == "gumbel" else 1.0, dtype)
    # z copy + dz + small tensors: at most ~2 (N, V) tensors of z's dtype (+ 10% slack).
    assert peak < 2.2 * z.numel() * z.element_size()
