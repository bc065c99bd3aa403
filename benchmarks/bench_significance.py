"""Paired significance speed and exactness: bertune vs sacrebleu 2.6's ``PairedTest``.

1. 2 systems × 1000 Multi30k test sentences, BLEU + chrF, paired bootstrap with 1000
   samples (seed 12345): both start from the texts (sacrebleu: metrics with cached
   references + ``PairedTest``; bertune: ``SacreMetric`` + ``paired_test``), same process.
   Prints both times, the ratio (target ≥ 5×) and whether every score, p-value, mean and CI
   is identical (bit for bit).
2. 5 systems × 3000 sentences (Multi30k train), BLEU + chrF, 1000 samples: bertune's time
   from the texts (target < 2 s), sacrebleu's for reference, identical results again.
3. The same as 2 with approximate randomization (10000 trials), for information.

Systems are the references with two word swaps and, for 30% of the lines, the last word
dropped (seeded), so that scores and lengths look like MT output.

    python benchmarks/bench_significance.py [--data ../shared/data/multi30k]
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import perturb  # noqa: E402


def run_sacrebleu(refs, systems, test, n):
    from sacrebleu.metrics import BLEU, CHRF
    from sacrebleu.significance import PairedTest

    metrics = {"BLEU": BLEU(references=[refs]), "chrF": CHRF(references=[refs])}
    named = [(f"s{i}", h) for i, h in enumerate(systems)]
    _, scores = PairedTest(named, metrics, references=None, test_type=test, n_samples=n)()
    return {
        m: [(r.score, r.p_value, r.mean, r.ci) for r in res]
        for m, res in scores.items()
        if m != "System"
    }


def run_bertune(refs, systems, test, n):
    from bertune_cli.core.evaluation.significance import paired_test
    from bertune_cli.core.metrics.stats import SacreMetric

    metrics = [SacreMetric("bleu", [refs]), SacreMetric("chrf", [refs])]
    stats = [[m.extract(h) for m in metrics] for h in systems]
    rep = paired_test(metrics, stats, [f"s{i}" for i in range(len(systems))], test, n, 12345)
    return {
        m: [(r[m].score, r[m].p_value, r[m].mean, r[m].ci) for r in rep.results]
        for m in rep.metrics
    }


def identical(a: dict, b: dict) -> bool:
    """Same keys and, per system, the same score, p-value, mean and CI (float32 values of
    sacrebleu compared after widening, i.e. bit for bit)."""
    return a.keys() == b.keys() and all(
        len(a[m]) == len(b[m])
        and all(
            all(
                (x is None and y is None)
                or (x is not None and y is not None and float(x) == float(y))
                for x, y in zip(ra, rb)
            )
            for ra, rb in zip(a[m], b[m])
        )
        for m in a
    )


def timed(fn, *args, repeat=3):
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "multi30k"),
        help="raw Multi30k folder (default: ../shared/data/multi30k from the "
        "repository root, whatever the current directory)",
    )
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    def lines(name, n):
        with gzip.open(Path(args.data) / name, "rt", encoding="utf-8") as f:
            return f.read().splitlines()[:n]

    rnd = random.Random(1234)
    ok = True
    cases = [
        (
            "2 systems x 1000 sentences, BLEU+chrF, paired bootstrap 1000",
            lines("test_2016_flickr.en.gz", 1000),
            2,
            "bs",
            1000,
        ),
        (
            "5 systems x 3000 sentences, BLEU+chrF, paired bootstrap 1000",
            lines("train.en.gz", 3000),
            5,
            "bs",
            1000,
        ),
        (
            "5 systems x 3000 sentences, BLEU+chrF, approximate randomization 10000",
            lines("train.en.gz", 3000),
            5,
            "ar",
            10000,
        ),
    ]
    for title, refs, k, test, n in cases:
        systems = [[perturb(r, rnd) for r in refs] for _ in range(k)]
        t_sb, out_sb = timed(run_sacrebleu, refs, systems, test, n, repeat=args.repeat)
        t_bt, out_bt = timed(run_bertune, refs, systems, test, n, repeat=args.repeat)
        same = identical(out_sb, out_bt)
        ok &= same
        print(f"[{title}]")
        print(
            f"  sacrebleu {t_sb:.3f} s   bertune {t_bt:.3f} s   speed-up {t_sb / t_bt:.1f}x   "
            f"identical scores/p-values/means/CIs: {same}"
        )
        p = {m: [r[1] for r in v[1:]] for m, v in out_bt.items()}
        print(f"  p-values: {p}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
