"""F_BERT speed and exactness: bertune's BERTScore vs ``bert_score.score``, same process.

1000 Multi30k test pairs: references = test_2016_flickr.en, hypotheses = the same sentences
with two word swaps and, for 30% of them, the last word dropped (seeded), so lengths and
overlap look like MT output. Both sides use the same LM (the bundled MiniLM, layer 5), the
same device and the same torch thread count; each timing includes loading the model, as a
user pays it. Prints the best of ``--repeat`` alternated runs, the ratio and the max |ΔF|.

Two scenarios:
  1. one system against the references (bert_score.score once, bertune score once);
  2. a baseline and two systems against the same references, the second system differing
     from the first on ~30% of the lines (what a fine-tuned model does): bert_score.score is
     called per system; bertune scores all three in one pass (``score_systems``) and embeds
     each distinct sentence once, as `bertune significance -m bertscore` does.

    python benchmarks/bench_score.py [--data /work/shared/data/multi30k] [--n 1000] [--threads 1]
"""
from __future__ import annotations

import argparse
import gzip
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import perturb  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/shared/data/multi30k")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads for both (0: torch's default; 1 is steadier on a "
                         "shared machine)")
    args = ap.parse_args()

    import bert_score
    import numpy as np
    import torch

    from bertune_cli.core.lm import resolve_lm
    from bertune_cli.core.metrics.bertscore import score_systems

    if args.threads:
        torch.set_num_threads(args.threads)

    with gzip.open(Path(args.data) / "test_2016_flickr.en.gz", "rt", encoding="utf-8") as f:
        refs = f.read().splitlines()[: args.n]
    rnd = random.Random(1234)
    hyps = [perturb(r, rnd) for r in refs]
    path, layer = resolve_lm("minilm"), 5

    systems = [hyps, [perturb(r, rnd) for r in refs]]
    systems.append([perturb(r, rnd) if rnd.random() < 0.3 else h
                    for r, h in zip(refs, systems[1])])

    def run_bert_score(hyp_sets):
        return np.concatenate([bert_score.score(h, refs, model_type=path, num_layers=layer,
                                                device=args.device)[2].numpy()
                               for h in hyp_sets])

    def run_bertune(hyp_sets):
        out = score_systems(hyp_sets, [refs], lm_name="minilm", layer=layer, device=args.device)
        return np.concatenate([o.F for o in out])

    # warm-up (imports, file cache, allocator) on a few pairs, untimed
    bert_score.score(hyps[:32], refs[:32], model_type=path, num_layers=layer, device=args.device)
    score_systems([hyps[:32]], [refs[:32]], lm_name="minilm", layer=layer, device=args.device)

    print(f"pairs: {len(hyps)}  LM: bundled MiniLM, layer {layer}  device: {args.device}  "
          f"torch threads: {torch.get_num_threads()}  bert_score {bert_score.__version__}")
    worst = 0.0
    for title, hyp_sets in (("1 system", systems[:1]), ("3 systems, same references", systems)):
        times = {"bert_score": [], "bertune": []}
        outs = {}
        for _ in range(args.repeat):
            for name, fn in (("bert_score", run_bert_score), ("bertune", run_bertune)):
                start = time.perf_counter()
                outs[name] = fn(hyp_sets)
                times[name].append(time.perf_counter() - start)
        best = {k: min(v) for k, v in times.items()}
        diff = float(np.abs(outs["bertune"] - outs["bert_score"]).max())
        worst = max(worst, diff)
        print(f"[{title}]")
        for k, v in times.items():
            print(f"  {k:>10}: best {best[k]:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in v)})")
        print(f"  speed-up bertune vs bert_score: {best['bert_score'] / best['bertune']:.2f}x")
        print(f"  max |F_bertune - F_bert_score|: {diff:.2e}  (mean F_BERT "
              f"{100 * outs['bertune'].mean():.4f} vs {100 * outs['bert_score'].mean():.4f})")
    sys.exit(0 if worst < 1e-5 else 1)


if __name__ == "__main__":
    main()
