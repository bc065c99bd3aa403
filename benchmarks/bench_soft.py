"""CPU benchmark: soft prediction + expected embedding (p @ E), forward + backward.

bertune's reference path (``soft_embedding(..., impl="torch")``) against the straightforward
PyTorch formulation of each mode, same process settings, same inputs:

* dense:     torch.softmax(z) @ E
* sparsemax: sort-based sparsemax (entmax-style autograd Function: full sort forward,
             closed-form backward), then @ E
* gumbel:    F.gumbel_softmax(z, tau=0.1) @ E

Each (mode, variant) runs in a fresh subprocess so peak memory is not polluted by the others.
Peak memory = Linux peak resident set (VmHWM) after resetting it (``/proc/self/clear_refs`` = 5)
once the inputs exist, minus the resident set at that moment: the extra memory one fwd+bwd needs.

    python benchmarks/bench_soft.py                   # N=512, V=30522, D=384 (CPU-scaled)
    python benchmarks/bench_soft.py --n 4096          # the paper's size (slow on CPU)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("dense", "sparsemax", "gumbel")
TAU = 0.1


def _naive(mode: str):
    import torch
    import torch.nn.functional as F

    class SortSparsemax(torch.autograd.Function):
        """The usual formulation (entmax / the original BERTTune code): sort every row."""

        @staticmethod
        def forward(ctx, z):
            zs, _ = torch.sort(z, dim=-1, descending=True)
            cs = zs.cumsum(dim=-1) - 1
            r = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype, device=z.device)
            k = (zs - cs / r > 0).sum(dim=-1, keepdim=True)
            tau = cs.gather(-1, k - 1) / k
            p = (z - tau).clamp_min(0)
            ctx.save_for_backward(p)
            return p

        @staticmethod
        def backward(ctx, g):
            (p,) = ctx.saved_tensors
            s = p > 0
            g = g * s
            return (g - g.sum(-1, keepdim=True) / s.sum(-1, keepdim=True)) * s

    probs = {
        "dense": lambda z: torch.softmax(z, dim=-1),
        "sparsemax": SortSparsemax.apply,
        "gumbel": lambda z: F.gumbel_softmax(z, tau=TAU),
    }[mode]
    return lambda z, e: probs(z) @ e


def _bertune(mode: str):
    from bertune_cli.core.ops import soft_embedding

    return lambda z, e: soft_embedding(z, e, mode, tau=TAU, impl="torch")


def _rss_kb(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status (Linux only)")


def worker(mode: str, variant: str, n: int, v: int, d: int, repeats: int, threads: int) -> dict:
    """Time fwd+bwd (median of ``repeats`` after one warm-up) and measure the peak RSS delta."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    z = (torch.randn(n, v) * 3).requires_grad_()  # (N, V)
    e = torch.randn(v, d) * 0.05  # (V, D), frozen LM
    up = torch.randn(n, d)  # dL/d e_bar
    fn = (_bertune if variant == "bertune" else _naive)(mode)

    def step():
        out = fn(z, e)  # (N, D)
        out.backward(up)
        z.grad = None

    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS
    base = _rss_kb("VmRSS")
    step()  # warm-up, and the peak
    peak_mb = (_rss_kb("VmHWM") - base) / 1024
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return {
        "mode": mode,
        "variant": variant,
        "ms": 1000 * statistics.median(times),
        "peak_mb": peak_mb,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=512, help="rows N = B*T (default 512)")
    ap.add_argument("--v", type=int, default=30522, help="vocabulary V (default 30522)")
    ap.add_argument("--d", type=int, default=384, help="embedding width D (default 384)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--worker", nargs=2, metavar=("MODE", "VARIANT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(*a.worker, a.n, a.v, a.d, a.repeats, a.threads)))
        return

    import torch

    print(
        f"bench_soft: N={a.n} V={a.v} D={a.d} fp32, fwd+bwd, median of {a.repeats}, "
        f"{a.threads} threads, torch {torch.__version__}"
    )
    print(
        "memory: peak RSS above the post-input baseline (Linux VmHWM after clear_refs=5), "
        "one subprocess per row; one (N, V) fp32 tensor is "
        f"{a.n * a.v * 4 / 2**20:.0f} MB"
    )
    print(
        f"{'mode':<10} {'variant':<28} {'fwd+bwd ms':>11} {'peak MB':>9} "
        f"{'time ratio':>11} {'mem ratio':>10}"
    )
    names = {
        "bertune": "bertune (impl=torch)",
        "naive": {
            "dense": "softmax @ E",
            "sparsemax": "sort sparsemax @ E",
            "gumbel": "F.gumbel_softmax @ E",
        },
    }
    for mode in a.modes.split(","):
        res = {}
        for variant in ("naive", "bertune"):
            cmd = [
                sys.executable,
                __file__,
                "--worker",
                mode,
                variant,
                "--n",
                str(a.n),
                "--v",
                str(a.v),
                "--d",
                str(a.d),
                "--repeats",
                str(a.repeats),
                "--threads",
                str(a.threads),
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if out.returncode != 0:
                sys.exit(f"worker {mode}/{variant} failed:\n{out.stderr}")
            res[variant] = json.loads(out.stdout.strip().splitlines()[-1])
        for variant in ("naive", "bertune"):
            r = res[variant]
            label = names[variant] if variant == "bertune" else names["naive"][mode]
            ratio = (
                ""
                if variant == "naive"
                else f"{r['ms'] / res['naive']['ms']:>10.2f}x "
                f"{r['peak_mb'] / max(res['naive']['peak_mb'], 1e-9):>9.2f}x"
            )
            print(f"{mode:<10} {label:<28} {r['ms']:>11.1f} {r['peak_mb']:>9.0f} {ratio}")
    print("ratios: bertune / straightforward (below 1 = bertune faster / smaller)")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
