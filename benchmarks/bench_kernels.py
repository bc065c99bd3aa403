"""GPU benchmark: Triton soft-embedding kernels vs eager PyTorch vs torch.compile (fwd + bwd).

For every mode (dense, sparsemax, gumbel tau=0.1), embedding width D and dtype, three ways to
compute e_bar = p^T E and its gradient w.r.t. the logits:

* triton:   ``soft_embedding(..., impl="triton")`` — p never materialized;
* eager:    the straightforward PyTorch formulation (softmax / sort-based sparsemax /
            F.gumbel_softmax, then ``p @ E``); bf16 runs under ``torch.autocast`` (softmax in
            fp32, matmul in bf16) as a bf16 training step would;
* compiled: ``torch.compile`` of the eager function.

Reported: median fwd+bwd time (CUDA events), peak memory above the inputs
(``torch.cuda.max_memory_allocated``; dz itself, (N, V), is part of every variant), achieved
bandwidth of the *minimal* traffic (read z twice, write dz, read E twice) as a fraction of a
measured device-to-device copy, TFLOP/s of the two (N, V, D) products (dense and gumbel), and
the max |triton - eager| of the forward output (gumbel: without noise). Prints a table and writes
``benchmarks/results/kernels-<gpu name>.json``.

    python benchmarks/bench_kernels.py                      # N=4096, V=30522, D=384,768, fp32+bf16
    python benchmarks/bench_kernels.py --d 384 --dtypes bf16 --no-compile
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("dense", "sparsemax", "gumbel")
TAU = 0.1


def _require_gpu():
    import torch

    if not torch.cuda.is_available():
        sys.exit(
            "bench_kernels.py needs a CUDA GPU and none is visible "
            "(torch.cuda.is_available() is False).\n"
            "For the CPU path run: python benchmarks/bench_soft.py"
        )
    if os.environ.get("TRITON_INTERPRET") == "1":
        sys.exit("TRITON_INTERPRET=1 is set: unset it to benchmark compiled kernels.")
    try:
        import triton  # noqa: F401
    except ImportError:
        sys.exit("bench_kernels.py needs Triton: pip install 'triton>=3.0'")


def _eager(mode: str):
    """The straightforward formulation: p materialized, then p @ E."""
    import torch
    import torch.nn.functional as F

    def sort_sparsemax(z):  # (N, V) -> (N, V)
        zs, _ = torch.sort(z, dim=-1, descending=True)
        cs = zs.cumsum(dim=-1) - 1
        r = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype, device=z.device)
        k = (zs - cs / r > 0).sum(dim=-1, keepdim=True)
        return (z - cs.gather(-1, k - 1) / k).clamp_min(0)

    probs = {
        "dense": lambda z: torch.softmax(z.float(), dim=-1),
        "sparsemax": lambda z: sort_sparsemax(z.float()),
        "gumbel": lambda z: F.gumbel_softmax(z.float(), tau=TAU),
    }[mode]
    return lambda z, e: probs(z) @ e  # bf16: autocast


def _triton(mode: str):
    from bertune_cli.core.ops import soft_embedding

    return lambda z, e: soft_embedding(z, e, mode, tau=TAU, seed=0, impl="triton")


def _measure(fn, z, e, up, dtype, iters: int, warmup: int):
    """(median ms of fwd+bwd, peak MB above the live inputs) for one variant."""
    import torch

    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16)

    def step():
        with autocast:
            out = fn(z, e)  # (N, D)
        (dz,) = torch.autograd.grad(out, z, up.to(out.dtype))
        return dz

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    peak_mb = (torch.cuda.max_memory_allocated() - base) / 2**20
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        step()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times), peak_mb


def _copy_bandwidth() -> float:
    """Measured device-to-device copy bandwidth in bytes/s (1 GiB read + 1 GiB written)."""
    import torch

    x = torch.empty(2**28, dtype=torch.float32, device="cuda")
    y = torch.empty_like(x)
    for _ in range(3):
        y.copy_(x)
    times = []
    for _ in range(10):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        y.copy_(x)
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1000)
    del x, y
    torch.cuda.empty_cache()
    return 2 * 2**30 / statistics.median(times)


def _forward_diff(mode, z, e, dtype) -> float | None:
    import torch

    from bertune_cli.core.ops import soft_embedding

    with torch.no_grad():
        got = soft_embedding(z, e, mode, tau=TAU, noise=False, impl="triton")
        if mode == "gumbel":
            ref = torch.softmax(z.float() / TAU, -1) @ e.float()
        else:
            ref = _eager(mode)(z, e.float())
        return (got.float() - ref.float()).abs().max().item()


def run(a) -> dict:
    import torch
    import triton

    peak_bw = _copy_bandwidth()
    gpu = torch.cuda.get_device_name()
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    rows = []
    print(
        f"bench_kernels: {gpu}, N={a.n} V={a.v}, torch {torch.__version__}, triton "
        f"{triton.__version__}, tf32 matmul {torch.backends.cuda.matmul.allow_tf32}, "
        f"copy bandwidth {peak_bw / 1e9:.0f} GB/s, median of {a.iters}"
    )
    head = (
        f"{'mode':<10}{'D':>5} {'dtype':<5} {'variant':<9}{'ms':>9}{'peak MB':>9}"
        f"{'GB/s':>8}{'%copy':>7}{'TFLOP/s':>9}{'vs eager':>9}{'fwd maxdiff':>12}"
    )
    print(head)
    for d in a.d:
        for dname in a.dtypes:
            dtype = dtypes[dname]
            for mode in a.modes:
                torch.manual_seed(0)
                z = (torch.randn(a.n, a.v, device="cuda") * 3).to(dtype).requires_grad_()
                e = (torch.randn(a.v, d, device="cuda") * 0.05).to(dtype)
                up = torch.randn(a.n, d, device="cuda")
                size_z, size_e = z.element_size(), e.element_size()
                min_bytes = 3 * a.n * a.v * size_z + 2 * a.v * d * size_e + 2 * a.n * d * 4
                flops = 4 * a.n * a.v * d if mode != "sparsemax" else None
                diff = _forward_diff(mode, z.detach(), e, dtype)
                variants = {"eager": _eager(mode), "triton": _triton(mode)}
                if a.compile:
                    variants["compiled"] = torch.compile(_eager(mode))
                eager_ms = None
                for name, fn in variants.items():
                    row = {
                        "mode": mode,
                        "D": d,
                        "dtype": dname,
                        "variant": name,
                        "N": a.n,
                        "V": a.v,
                    }
                    try:
                        ms, peak = _measure(
                            fn,
                            z,
                            e,
                            up,
                            dtype,
                            a.iters,
                            a.warmup + (3 if name == "compiled" else 0),
                        )
                    except Exception as exc:  # reported in the table and the JSON, not hidden
                        row["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
                        rows.append(row)
                        print(f"{mode:<10}{d:>5} {dname:<5} {name:<9} ERROR {row['error']}")
                        torch.cuda.empty_cache()
                        continue
                    eager_ms = ms if name == "eager" else eager_ms
                    gbps = min_bytes / (ms / 1000) / 1e9
                    row.update(
                        ms=ms,
                        peak_mb=peak,
                        gbps=gbps,
                        frac_copy=gbps * 1e9 / peak_bw,
                        tflops=None if flops is None else flops / (ms / 1000) / 1e12,
                        fwd_maxdiff=diff if name == "triton" else None,
                    )
                    rows.append(row)
                    tf = "" if row["tflops"] is None else f"{row['tflops']:.1f}"
                    ratio = "" if eager_ms is None or name == "eager" else f"{ms / eager_ms:.2f}x"
                    md = "" if name != "triton" else f"{diff:.2e}"
                    print(
                        f"{mode:<10}{d:>5} {dname:<5} {name:<9}{ms:>9.2f}{peak:>9.0f}"
                        f"{gbps:>8.0f}{100 * row['frac_copy']:>6.0f}%{tf:>9}{ratio:>9}{md:>12}"
                    )
                del z, e, up
                torch.cuda.empty_cache()
    signature = {
        "gpu": gpu,
        "torch": torch.__version__,
        "triton": triton.__version__,
        "python": platform.python_version(),
        "N": a.n,
        "V": a.v,
        "tau": TAU,
        "iters": a.iters,
        "tf32": torch.backends.cuda.matmul.allow_tf32,
        "copy_GBps": peak_bw / 1e9,
    }
    for row in rows:  # ratios against eager for every variant, now that all ran
        ref = next(
            (
                r
                for r in rows
                if r.get("ms")
                and r["variant"] == "eager"
                and (r["mode"], r["D"], r["dtype"]) == (row["mode"], row["D"], row["dtype"])
            ),
            None,
        )
        if ref and row.get("ms"):
            row["ratio_vs_eager"] = row["ms"] / ref["ms"]
            row["mem_ratio_vs_eager"] = row["peak_mb"] / max(ref["peak_mb"], 1e-9)
    return {"signature": signature, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=4096, help="rows N = B*T (default 4096)")
    ap.add_argument("--v", type=int, default=30522, help="vocabulary V (default 30522)")
    ap.add_argument("--d", type=int, nargs="+", default=[384, 768], help="embedding widths")
    ap.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument(
        "--no-compile", dest="compile", action="store_false", help="skip the torch.compile variant"
    )
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default: results/...)")
    a = ap.parse_args()
    _require_gpu()
    import torch

    result = run(a)
    name = re.sub(r"[^A-Za-z0-9]+", "-", torch.cuda.get_device_name()).strip("-").lower()
    out = a.out or ROOT / "benchmarks" / "results" / f"kernels-{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
