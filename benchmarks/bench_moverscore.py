"""MoverScore speed and exactness: bertune's MoverScore vs ``moverscore_v2.word_mover_score``
(moverscore 1.0.3, loaded through the test shim tests/core/metrics/moverscore_shim.py), same
process, same LM (the bundled MiniLM, last layer), same device and torch thread count.

1000 Multi30k test pairs: references = test_2016_flickr.en, hypotheses = the same sentences
with two word swaps and, for 30% of them, the last word dropped (seeded), so lengths and
overlap look like MT output. Each timing includes building the idf weights (the reference:
``get_idf_dict`` of references and hypotheses) but not loading the LM (both load it once,
untimed). Prints the best of ``--repeat`` alternated runs, the ratio, and the max |Δ| of the
sentence scores against the unmodified reference and against the reference with float64
distances (the one arithmetic difference, see core/metrics/moverscore.py).

Needs the reference installed (test-only): ``pip install --no-deps moverscore==1.0.3 pyemd``.

    python benchmarks/bench_moverscore.py [--data ../shared/data/multi30k] [--n 1000] [--threads 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import multi30k_references, perturb  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _shim():
    spec = importlib.util.spec_from_file_location(
        "moverscore_shim", REPO / "tests" / "core" / "metrics" / "moverscore_shim.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        default=str(REPO.parent / "shared" / "data" / "multi30k"),
        help="folder with test_2016_flickr.en.gz",
    )
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument(
        "--threads", type=int, default=0, help="torch threads for both (0: torch's default)"
    )
    args = ap.parse_args()

    import numpy as np
    import torch

    from bertune_cli.core.lm.model import resolve_lm
    from bertune_cli.core.metrics.moverscore import load_moverscore_lm, score_moverscore

    if args.threads:
        torch.set_num_threads(args.threads)
    refs = multi30k_references(args.data, args.n)
    rnd = random.Random(1234)
    hyps = [perturb(r, rnd) for r in refs]

    shim = _shim()
    ref = shim.load_reference(resolve_lm("minilm"))
    cdist32 = ref.batched_cdist_l2
    lm = load_moverscore_lm("minilm", "cpu")

    def run_reference(float64=False):
        ref.batched_cdist_l2 = (
            (lambda a, b: cdist32(a.double(), b.double())) if float64 else cdist32
        )
        idf_ref, idf_hyp = ref.get_idf_dict(refs), ref.get_idf_dict(hyps)
        return np.array(
            ref.word_mover_score(
                refs,
                hyps,
                idf_ref,
                idf_hyp,
                stop_words=[],
                n_gram=1,
                remove_subwords=True,
                batch_size=256,
                device="cpu",
            )
        )

    def run_bertune():
        return score_moverscore(hyps, [refs], lm).scores

    run_reference()  # warm-up (allocator, file cache), untimed
    run_bertune()
    print(
        f"pairs: {len(hyps)}  LM: bundled MiniLM, last layer (6)  device: cpu  "
        f"torch threads: {torch.get_num_threads()}"
    )
    best = {"reference": float("inf"), "bertune": float("inf")}
    for _ in range(args.repeat):
        for name, fn in (("reference", run_reference), ("bertune", run_bertune)):
            t = time.perf_counter()
            out = fn()
            best[name] = min(best[name], time.perf_counter() - t)
            if name == "reference":
                theirs = out
            else:
                ours = out
    theirs64 = run_reference(float64=True)
    d32, d64 = np.abs(ours - theirs), np.abs(ours - theirs64)
    print(
        f"moverscore_v2 (shim): {best['reference']:.2f} s   bertune: {best['bertune']:.2f} s"
        f"   ratio {best['reference'] / best['bertune']:.2f}x"
    )
    print(f"system score: reference {100 * theirs.mean():.4f}  bertune {100 * ours.mean():.4f}")
    print(
        f"max |Δ| vs reference with float64 distances: {d64.max():.2e}  "
        f"(pairs within 1e-6: {int((d64 <= 1e-6).sum())}/{len(d64)})"
    )
    print(
        f"max |Δ| vs unmodified reference (float32 distances): {d32.max():.2e}  "
        f"(pairs within 1e-6: {int((d32 <= 1e-6).sum())}/{len(d32)}; its own float32 error "
        f"max {np.abs(theirs - theirs64).max():.2e})"
    )


if __name__ == "__main__":
    main()
