"""F_BERT speed and exactness: where the time goes, bertune vs ``bert_score.score``, the limit.

1000 Multi30k test pairs: references = test_2016_flickr.en, hypotheses = the same sentences
with two word swaps and, for 30% of them, the last word dropped (seeded), so lengths and
overlap look like MT output. Both sides use the same LM (the bundled MiniLM, layer 5), the
same device and the same torch threads (``--threads``, default 1: steady on a shared
machine). Every timing is the best of ``--repeat`` alternated runs, as wall seconds and as
this process's CPU seconds (with one thread, CPU time is the work done, whatever else runs).

Printed, in one run:
  1. breakdown of one system, bertune (tokenize, batching, LM forward, matching, I/O) and
     bert_score (its tokenization, padding, LM forward, matching), with the padding waste;
  2. the limit: the LM forward over the distinct sentences with no padding (sentences of
     equal token length batched together), and bertune's and bert_score's ratio to it;
  3. bertune vs bert_score, 1 system and 3 systems (a baseline and two systems, the second
     differing from the first on ~30 % of the lines); max |ΔF| must be < 1e-6;
  4. the reference-embedding cache (``score --cache``): call 1 scores system A (stores the
     references), call 2 scores system B (reads them): call 2 vs the same call uncached;
  5. start-up: ``bertune score`` on 10 lines vs ``python -c "import transformers, torch"`` and
     vs that plus loading the LM (AutoTokenizer + AutoModel), in fresh processes.

    python benchmarks/bench_score.py [--data ../shared/data/multi30k] [--n 1000] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import multi30k_references, perturb  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parents[1]


class Clock:
    """Wall and process-CPU seconds of a block; ``best`` keeps the minimum of each."""

    def __init__(self):
        self.runs: list[tuple[float, float]] = []

    def __enter__(self):
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.runs.append((time.perf_counter() - self._w, time.process_time() - self._c))

    @property
    def wall(self) -> float:
        return min(w for w, _ in self.runs)

    @property
    def cpu(self) -> float:
        return min(c for _, c in self.runs)

    def __str__(self) -> str:
        return f"{self.wall:6.2f} s wall {self.cpu:6.2f} s CPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        default=str(REPO.parent / "shared" / "data" / "multi30k"),
        help="folder with test_2016_flickr.en.gz (default: ../shared/data/multi30k "
        "from the repository root)",
    )
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for both (0: torch's default; 1 is steadier on a shared machine)",
    )
    ap.add_argument("--skip-startup", action="store_true", help="skip section 5")
    args = ap.parse_args()

    import bert_score
    import numpy as np
    import torch

    from bertune_cli.core.lm.model import load_lm, resolve_lm

    if args.threads:
        torch.set_num_threads(args.threads)
    refs = multi30k_references(args.data, args.n)
    rnd = random.Random(1234)
    systems = [[perturb(r, rnd) for r in refs]]
    systems.append([perturb(r, rnd) for r in refs])
    systems.append([perturb(r, rnd) if rnd.random() < 0.3 else h for r, h in zip(refs, systems[1])])
    path, layer = resolve_lm("minilm"), 5
    lm = load_lm("minilm", layer, args.device)
    print(
        f"pairs: {len(refs)}  LM: bundled MiniLM, layer {layer}  device: {args.device}  "
        f"torch {torch.__version__} threads: {torch.get_num_threads()}  "
        f"bert_score {bert_score.__version__}  (best of {args.repeat}; wall / process CPU)"
    )

    bs = BertScoreRun(path, layer, args.device)
    bt = BertuneRun(layer, args.device)
    BertScoreRun(path, layer, args.device)([systems[0][:32]], refs[:32])  # warm-up: imports,
    BertuneRun(layer, args.device)([systems[0][:32]], refs[:32])  # allocator, caches

    # 1-3: one system, breakdowns, limit, ratios
    outs = {}
    for _ in range(args.repeat):
        outs["bert_score"] = bs(systems[:1], refs)
        outs["bertune"] = bt(systems[:1], refs)
    limit = forward_limit(lm, refs + systems[0], args.repeat)
    worst = report_one(bs, bt, limit, outs, lm, refs, systems[0], io_time(refs, systems[0]))

    # 3 systems against the same references
    bs3, bt3 = BertScoreRun(path, layer, args.device), BertuneRun(layer, args.device)
    for _ in range(args.repeat):
        outs["bert_score"] = bs3(systems, refs)
        outs["bertune"] = bt3(systems, refs)
    limit3 = forward_limit(lm, refs + [s for h in systems for s in h], args.repeat)
    diff = float(np.abs(outs["bertune"] - outs["bert_score"]).max())
    worst = max(worst, diff)
    print("\n[3. three systems, same references (bertune: one score_systems call)]")
    print(
        f"  bert_score.score x3: {bs3.clock}\n  bertune:             {bt3.clock}\n"
        f"  LM-forward limit:    {limit3}"
    )
    print(
        f"  speed-up bertune vs bert_score: {bs3.clock.wall / bt3.clock.wall:.2f}x wall, "
        f"{bs3.clock.cpu / bt3.clock.cpu:.2f}x CPU;  bertune / limit: "
        f"{bt3.clock.cpu / limit3.cpu:.2f}x CPU;  max |ΔF| {diff:.1e}"
    )

    worst = max(worst, report_cache(lm, refs, systems, args.repeat))
    if not args.skip_startup:
        report_startup(path, refs, systems[0], args.threads)
    print(
        f"\nmax |F_bertune - F_bert_score| over every comparison: {worst:.2e} "
        f"({'OK' if worst < 1e-6 else 'FAIL'}: < 1e-6)"
    )
    sys.exit(0 if worst < 1e-6 else 1)


class BertScoreRun:
    """``bert_score.score`` per system, timed, with its phases timed by wrapping its helpers."""

    PHASES = {
        "sent_encode": "tokenize",
        "padding": "padding",
        "bert_encode": "LM forward",
        "greedy_cos_idf": "matching",
    }

    def __init__(self, path, layer, device):
        self.path, self.layer, self.device = path, layer, device
        self.clock, self.phases, self._now = Clock(), {}, defaultdict(float)

    def __call__(self, hyp_sets, refs):
        import bert_score
        import bert_score.utils as bu
        import numpy as np

        originals = {name: getattr(bu, name) for name in self.PHASES}

        def timed(name, fn):
            def wrapper(*a, **k):
                start = time.process_time()
                try:
                    return fn(*a, **k)
                finally:
                    self._now[name] += time.process_time() - start

            return wrapper

        self._now = defaultdict(float)
        for name, fn in originals.items():
            setattr(bu, name, timed(name, fn))
        try:
            with self.clock:
                out = np.concatenate(
                    [
                        bert_score.score(
                            h, refs, model_type=self.path, num_layers=self.layer, device=self.device
                        )[2].numpy()
                        for h in hyp_sets
                    ]
                )
        finally:
            for name, fn in originals.items():
                setattr(bu, name, fn)
        if self.clock.runs[-1][1] <= self.clock.cpu:  # phases of the best run
            self.phases = dict(self._now)
        return out


class BertuneRun:
    """``score_systems`` (loading the LM, as a user pays it), timed, with its ``stats``."""

    def __init__(self, layer, device):
        self.layer, self.device = layer, device
        self.clock, self.stats = Clock(), {}

    def __call__(self, hyp_sets, refs, **kw):
        import numpy as np

        from bertune_cli.core.metrics.bertscore import score_systems

        stats = {}
        with self.clock:
            out = score_systems(
                hyp_sets,
                [refs],
                lm_name="minilm",
                layer=self.layer,
                device=self.device,
                stats=stats,
                **kw,
            )
        if self.clock.runs[-1][1] <= self.clock.cpu:
            self.stats = stats
        return np.concatenate([o.F for o in out])


def forward_limit(lm, texts, repeat: int, max_tokens: int = 8192) -> Clock:
    """The LM forward over the distinct sentences, no padding: equal lengths batched."""
    import torch

    from bertune_cli.core.metrics.bertscore import _tokenize

    ids = _tokenize(lm, list(dict.fromkeys(t.strip() for t in texts)))[0]
    by_len = defaultdict(list)
    for s in ids:
        by_len[len(s)].append(s)
    batches = [
        torch.tensor(group[lo : lo + max(1, max_tokens // length)])
        for length, group in sorted(by_len.items())
        for lo in range(0, len(group), max(1, max_tokens // length))
    ]
    clock = Clock()
    with torch.inference_mode():
        for _ in range(repeat):
            with clock:
                for x in batches:
                    lm.model(input_ids=x, attention_mask=torch.ones_like(x))
    clock.tokens = sum(map(len, ids))
    return clock


def bert_score_padding(lm, texts) -> tuple[int, int]:
    """Real and padded tokens of bert_score's batches (distinct sentences sorted by word
    count, longest first, 64 per batch, each padded to its longest)."""
    from bertune_cli.core.metrics.bertscore import _tokenize

    sentences = sorted(set(texts), key=lambda x: len(x.split(" ")), reverse=True)
    lengths = [len(s) for s in _tokenize(lm, [s.strip() for s in sentences])[0]]
    padded = sum(
        max(lengths[i : i + 64]) * len(lengths[i : i + 64]) for i in range(0, len(lengths), 64)
    )
    return sum(lengths), padded


def io_time(refs, hyps) -> float:
    """Reading the two files as `bertune score` does (inputs.read_parallel), CPU seconds."""
    from bertune_cli.core.metrics.inputs import read_parallel

    with tempfile.TemporaryDirectory() as tmp:
        for name, lines in (("hyp", hyps), ("ref", refs)):
            Path(tmp, name).write_text("".join(s + "\n" for s in lines), encoding="utf-8")
        start = time.process_time()
        read_parallel([("hypothesis", Path(tmp, "hyp")), ("reference", Path(tmp, "ref"))])
        return time.process_time() - start


def report_one(bs, bt, limit, outs, lm, refs, hyps, io) -> float:
    import numpy as np

    diff = float(np.abs(outs["bertune"] - outs["bert_score"]).max())
    st = bt.stats
    print("\n[1. where the time goes: 1 system, CPU seconds of the best run]")
    print(f"  bertune ({bt.clock}):")
    batching = st["embed_cpu"] - st["forward_cpu"]
    rest = bt.clock.cpu - st["tokenize_cpu"] - st["embed_cpu"] - st["match_cpu"]
    for name, value in (
        ("tokenize (fast, once)", st["tokenize_cpu"]),
        ("batching", batching),
        ("LM forward", st["forward_cpu"]),
        ("matching", st["match_cpu"]),
        ("LM load + rest", rest),
        ("I/O (read files)", io),
    ):
        print(f"    {name:<22} {value:6.3f} s  {100 * value / bt.clock.cpu:5.1f} %")
    print(
        f"    sentences {st['sentences']}, tokens {st['tokens']}, padded {st['padded_tokens']} "
        f"(padding waste {100 * (st['padded_tokens'] / st['tokens'] - 1):.1f} %)"
    )
    print(f"  bert_score ({bs.clock}):")
    for fn, name in bs.PHASES.items():
        value = bs.phases.get(fn, 0.0)
        print(f"    {name:<22} {value:6.3f} s  {100 * value / bs.clock.cpu:5.1f} %")
    rest = bs.clock.cpu - sum(bs.phases.values())
    print(f"    {'load + rest':<22} {rest:6.3f} s  {100 * rest / bs.clock.cpu:5.1f} %")
    real, padded = bert_score_padding(lm, refs + hyps)
    print(f"    tokens {real}, padded {padded} (padding waste {100 * (padded / real - 1):.1f} %)")
    share = limit.cpu / bs.clock.cpu
    print("\n[2. the limit: LM forward over the distinct sentences, no padding]")
    print(f"  {limit}  ({limit.tokens} tokens)")
    print(
        f"  limit / bert_score total: {100 * share:.0f} % -> 2x bert_score would need "
        f"{'less than the limit' if share > 0.5 else 'half its time'}"
    )
    print(
        f"  bertune total / limit:    {bt.clock.cpu / limit.cpu:.3f}x CPU, "
        f"{bt.clock.wall / limit.wall:.3f}x wall  (target <= 1.2x)"
    )
    print(
        f"  bertune forward / limit:  {st['forward_cpu'] / limit.cpu:.3f}x CPU (padding, "
        "batch shapes)"
    )
    print(f"  bert_score total / limit: {bs.clock.cpu / limit.cpu:.3f}x CPU")
    print("\n[3. one system]")
    print(f"  bert_score.score: {bs.clock}\n  bertune:          {bt.clock}")
    print(
        f"  speed-up bertune vs bert_score: {bs.clock.wall / bt.clock.wall:.2f}x wall, "
        f"{bs.clock.cpu / bt.clock.cpu:.2f}x CPU;  max |ΔF| {diff:.1e}  (mean F_BERT "
        f"{100 * outs['bertune'].mean():.4f} vs {100 * outs['bert_score'].mean():.4f})"
    )
    return diff


def report_cache(lm, refs, systems, repeat: int) -> float:
    """Call 1: system A with an empty cache; call 2: system B, references from the cache."""
    import numpy as np

    from bertune_cli.core.metrics.cache import EmbeddingCache

    plain, cold, warm = (BertuneRun(lm.layer, "cpu") for _ in range(3))
    worst = 0.0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            ref_b = plain([systems[1]], refs)
            cold([systems[0]], refs, cache=EmbeddingCache(tmp))
            got = warm([systems[1]], refs, cache=EmbeddingCache(tmp))
            worst = max(worst, float(np.abs(got - ref_b).max()))
    hyp_only = forward_limit(
        lm, [h for h in systems[1] if h.strip() not in {r.strip() for r in refs}], repeat
    )
    print("\n[4. reference-embedding cache: score system A, then system B (--cache)]")
    print(f"  call 1 (A, empty cache, stores refs): {cold.clock}")
    print(
        f"  call 2 (B, refs from the cache):      {warm.clock}  "
        f"({warm.stats['cached_sentences']} sentences read, not embedded)"
    )
    print(f"  B without the cache:                  {plain.clock}")
    print(
        f"  call 2 speed-up vs uncached: {plain.clock.cpu / warm.clock.cpu:.2f}x CPU;  "
        f"B's own LM-forward limit (its non-reference lines) {hyp_only.cpu:.2f} s CPU -> "
        f"call 2 / that limit {warm.clock.cpu / hyp_only.cpu:.2f}x;  |ΔF| vs uncached "
        f"{worst:.1e}"
    )
    return worst


def report_startup(lm_path: str, refs, hyps, threads: int) -> None:
    """Fresh processes, best of 3: wall and CPU (user + sys of the child)."""
    bertune = Path(sys.executable).with_name("bertune")
    cli = [str(bertune)] if bertune.exists() else [sys.executable, "-m", "bertune_cli.main"]
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": str(threads or ""),
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    if not threads:
        env.pop("OMP_NUM_THREADS")
    load = (
        "import transformers, torch; "
        f"transformers.AutoTokenizer.from_pretrained({lm_path!r}); "
        f"transformers.AutoModel.from_pretrained({lm_path!r})"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, lines in (
            ("hyp10", hyps[:10]),
            ("ref10", refs[:10]),
            ("hyp", hyps),
            ("ref", refs),
        ):
            Path(tmp, name).write_text("".join(s + "\n" for s in lines), encoding="utf-8")
        cmds = {
            "import transformers, torch": [sys.executable, "-c", "import transformers, torch"],
            "+ load the LM": [sys.executable, "-c", load],
            "bertune score, 10 lines": [
                *cli,
                "score",
                f"{tmp}/hyp10",
                f"{tmp}/ref10",
                "-m",
                "bertscore",
            ],
            "bertune score, 1000 lines": [
                *cli,
                "score",
                f"{tmp}/hyp",
                f"{tmp}/ref",
                "-m",
                "bertscore",
            ],
        }
        times = {
            name: child_time(cmd, env, 1 if "1000" in name else 3) for name, cmd in cmds.items()
        }
    print("\n[5. start-up, fresh processes (best of 3; 1000 lines: 1 run)]")
    for name, (wall, cpu) in times.items():
        print(f"  {name:<28} {wall:6.2f} s wall {cpu:6.2f} s CPU")
    base, mine = times["+ load the LM"], times["bertune score, 10 lines"]
    print(
        f"  gap bertune score (10 lines) - (import + load): {mine[0] - base[0]:+.2f} s wall, "
        f"{mine[1] - base[1]:+.2f} s CPU"
    )


def child_time(cmd, env, runs: int) -> tuple[float, float]:
    best = (float("inf"), float("inf"))
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best = (min(best[0], wall), min(best[1], cpu))
    return best


if __name__ == "__main__":
    main()
