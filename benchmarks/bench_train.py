"""Target tokens/s of `train-baseline`'s update vs a plain Hugging Face training loop, interleaved.

Same model (the recipe's preset, same initial weights), same optimizer (AdamW with the recipe's
lr schedule, betas, eps, weight decay), same batches (epoch 1 of the recipe's token batching,
collated the same way), one process, ``--threads`` torch threads (default 1: steadier on a
shared machine), the same process settings on both sides (denormals flushed and glibc keeping
freed memory, as bertune's training loop sets them):

- plain HF loop: ``loss = model(input_ids, attention_mask, decoder_input_ids, labels).loss``
  (transformers' token-mean cross-entropy), ``loss.backward()``, ``optimizer.step()``,
  ``zero_grad()`` — what one writes following transformers' docs;
- bertune: ``trainer.train_loop`` itself (``train-baseline``'s loop: label-smoothed CE summed
  and divided by the update's target tokens, gradient norm, non-finite check, bookkeeping),
  timed per update from its ``step`` events (its closing validation on 8 sentences and
  checkpoint are not counted).

Both vocabularies: the recipe's shortlist and the full LM vocabulary (30522 outputs, the
paper's setting). Each round runs ``--updates`` timed updates of each side after ``--warmup``
untimed ones, from the same weights; ``--rounds`` (≥ 5) rounds alternate plain, bertune.
Printed: median tokens/s (min–max) of each side, and the ratio bertune ÷ plain as the median
of the per-round paired ratios (with their range), in wall time and in this process's CPU time
(with one thread, the work done whatever else runs). ``--json``: one object; ``ratio`` is the
lower of the two vocabularies' ratios (``ratio_shortlist``, ``ratio_full`` beside it).
``--compile`` adds one pass of the loop through ``torch.compile`` and its exactness.

    python benchmarks/bench_train.py                      # multi30k-de-en, ../shared data
    python benchmarks/bench_train.py --pair demo --data runs/demo/data --json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI (commands/train_baseline.py)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]


def plain_hf_loop(model, train, batches, vocab, settings, warmup: int) -> tuple[int, float, float]:
    """(target tokens, wall seconds, CPU seconds) of the timed updates of the plain loop."""
    import torch

    from bertune_cli.core.data.batching import collate
    from bertune_cli.core.loops.trainer import inverse_sqrt_lr

    model.train()
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=settings.lr,
        betas=settings.betas,
        eps=1e-8,
        weight_decay=settings.weight_decay,
    )
    tokens, wall, cpu = 0, 0.0, 0.0
    with keep_freed_memory():  # the same process setting as bertune's loop
        for step, idx in enumerate(batches):
            t0, c0 = time.perf_counter(), time.process_time()
            for g in optimizer.param_groups:
                g["lr"] = inverse_sqrt_lr(
                    step, settings.lr, settings.warmup_updates, settings.warmup_init_lr
                )
            batch = collate(train, idx, vocab.from_lm)
            labels = batch.tgt_out.masked_fill(batch.tgt_out.eq(0), -100)
            loss = model(
                input_ids=batch.src,
                attention_mask=batch.src_mask,
                decoder_input_ids=batch.tgt_in,
                labels=labels,
            ).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if step >= warmup:
                tokens += batch.ntokens
                wall += time.perf_counter() - t0
                cpu += time.process_time() - c0
    return tokens, wall, cpu


def bertune_loop(
    model, data, ctx, recipe, batches, warmup: int, work: Path, forward=None
) -> tuple[int, float, float]:
    """(target tokens, wall seconds, CPU seconds) of the timed updates of ``train_loop``. An
    update's time is the time between its ``step`` event and the previous one (everything the
    loop does); ``forward``: a module the loss runs through instead of ``model``."""
    from bertune_cli.core.data.store import Ragged, Split
    from bertune_cli.core.loops.train_baseline import ce_loss
    from bertune_cli.core.loops.trainer import LoopSettings, train_loop

    loss = ce_loss(recipe.train.label_smoothing)
    loss_fn = loss if forward is None else (lambda _model, batch: loss(forward, batch))
    full = data.split("valid")
    valid = Split(
        "valid",
        Ragged.from_lists([full.src[i] for i in range(8)]),
        Ragged.from_lists([full.tgt[i] for i in range(8)]),
        full.src_text[:8],
        full.tgt_text[:8],
    )
    stamps: dict[int, tuple[float, float]] = {}
    settings = LoopSettings.from_config(
        recipe.train,
        max_steps=len(batches),
        max_epochs=1,
        patience=0,
        autosave_seconds=1e9,
        log_every=10**9,
    )
    train = data.split("train", with_text=False)

    def on_event(event):
        if event["event"] == "step":
            stamps.setdefault(event["update"], (time.perf_counter(), time.process_time()))

    train_loop(
        model,
        train=train,
        valid=valid,
        loss_fn=loss_fn,
        settings=settings,
        run_dir=work,
        ctx=ctx,
        device="cpu",
        on_event=on_event,
    )
    lengths = train.tgt.lengths() - 1  # target tokens y_1..y_n [SEP] per pair
    timed = range(max(warmup, 1), len(batches))  # update k+1 ran between stamps k and k+1
    tokens = sum(int(lengths[batches[k]].sum()) for k in timed)
    return (
        tokens,
        sum(stamps[k + 1][0] - stamps[k][0] for k in timed),
        sum(stamps[k + 1][1] - stamps[k][1] for k in timed),
    )


def keep_freed_memory():
    try:
        from bertune_cli.core.system.allocator import keep_freed_memory as keep
    except ImportError:  # code from before it existed
        from contextlib import nullcontext as keep
    return keep()


def compile_exactness(model, train, batch_idx, vocab) -> tuple[float, float]:
    """Max |logits| and |grad| differences, torch.compile vs eager, one batch, no dropout."""
    import torch

    from bertune_cli.core.data.batching import collate

    eager = copy.deepcopy(model).eval()
    compiled_base = copy.deepcopy(model).eval()
    compiled = torch.compile(compiled_base, dynamic=True)
    batch = collate(train, batch_idx, vocab.from_lm)
    outs = []
    for net, params in ((eager, eager), (compiled, compiled_base)):
        logits = net(
            input_ids=batch.src, attention_mask=batch.src_mask, decoder_input_ids=batch.tgt_in
        ).logits
        logits.float().logsumexp(-1).sum().backward()
        outs.append(
            (logits.detach(), [p.grad.clone() for p in params.parameters() if p.grad is not None])
        )
    (l0, g0), (l1, g1) = outs
    return (float((l0 - l1).abs().max()), max(float((a - b).abs().max()) for a, b in zip(g0, g1)))


def open_or_prepare(recipe, data_dir: Path, raw: Path):
    if not (data_dir / "manifest.json").is_file():
        from bertune_cli.core.data.prepare import prepare

        print(f"preparing {recipe.name} into {data_dir}", file=sys.stderr)
        prepare(recipe, data_dir, data_dir=raw if raw.is_dir() else None)


def stats(values: list[float]) -> dict:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "rounds": [round(v, 1) for v in values],
    }


def bench_vocab(args, kind: str) -> dict:
    """Interleaved rounds of both sides for one target vocabulary."""
    from bertune_cli.core.config.recipe import load_recipe
    from bertune_cli.core.data.batching import EpochBatches
    from bertune_cli.core.loops.train_baseline import setup_baseline

    recipe = load_recipe(args.pair, [f"data.target_vocab={kind}"])
    data, model, ctx = setup_baseline(recipe, Path(args.data))
    train = data.split("train", with_text=False)
    batches = EpochBatches(
        train.src.lengths(), train.tgt.lengths() - 1, recipe.train.max_tokens, recipe.train.seed
    ).batches(1)
    batches = batches[: args.warmup + args.updates]
    init = copy.deepcopy(model.state_dict())
    runs = {"plain": [], "bertune": []}
    for _ in range(args.rounds):
        model.load_state_dict(init)
        runs["plain"].append(
            plain_hf_loop(model, train, batches, ctx.vocab, recipe.train, args.warmup)
        )
        model.load_state_dict(init)
        with tempfile.TemporaryDirectory(prefix="bench-train-") as work:
            runs["bertune"].append(
                bertune_loop(model, data, ctx, recipe, batches, args.warmup, Path(work) / "run")
            )
    out = {"outputs": len(ctx.vocab), "sentences": [len(b) for b in batches[args.warmup :]]}
    for side, rows in runs.items():
        out[side] = {
            "tokens_per_s": stats([t / w for t, w, _ in rows]),
            "tokens_per_cpu_s": stats([t / c for t, _, c in rows]),
        }
    for clock, name in ((1, "ratio"), (2, "ratio_cpu")):
        paired = [
            (b[0] / b[clock]) / (p[0] / p[clock]) for p, b in zip(runs["plain"], runs["bertune"])
        ]
        out[name] = statistics.median(paired)
        out[name + "_range"] = [min(paired), max(paired)]
    if args.compile:
        out["compile"] = compile_row(model, data, ctx, recipe, batches, init, args.warmup, train)
    if args.profile:
        out["profile"] = profile(model, data, ctx, recipe, batches, init, args, train)
    return out


def compile_row(model, data, ctx, recipe, batches, init, warmup, train) -> dict:
    import torch

    model.load_state_dict(init)
    forward = torch.compile(model, dynamic=True)
    with tempfile.TemporaryDirectory(prefix="bench-train-") as work:
        t0 = time.perf_counter()
        tokens, wall, _ = bertune_loop(
            model, data, ctx, recipe, batches, warmup, Path(work) / "run", forward
        )
        total = time.perf_counter() - t0
    model.load_state_dict(init)
    dl, dg = compile_exactness(model, train, batches[0], ctx.vocab)
    return {"tokens_per_s": tokens / wall, "whole_run_s": total, "max_dlogits": dl, "max_dgrad": dg}


def profile(model, data, ctx, recipe, batches, init, args, train) -> dict:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    tables = {}
    for side in ("plain", "bertune"):
        model.load_state_dict(init)
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            if side == "plain":
                plain_hf_loop(model, train, batches, ctx.vocab, recipe.train, args.warmup)
            else:
                with tempfile.TemporaryDirectory(prefix="bench-train-") as work:
                    bertune_loop(model, data, ctx, recipe, batches, args.warmup, Path(work) / "run")
        tables[side] = prof.key_averages().table(
            sort_by="self_cpu_time_total", row_limit=args.profile
        )
    return tables


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pair", default="multi30k-de-en", help="recipe (default multi30k-de-en)")
    ap.add_argument(
        "--data",
        default=str(REPO / "runs" / "{pair}" / "data"),
        help="prepared data directory (default: runs/<pair>/data of the "
        "repository, whatever the current directory; prepared when missing)",
    )
    ap.add_argument(
        "--raw",
        default=str(REPO.parent / "shared" / "data" / "multi30k"),
        help="raw files for preparing Multi30k (default: ../shared/data/multi30k "
        "of the repository)",
    )
    ap.add_argument("--updates", type=int, default=4, help="timed updates per round and side")
    ap.add_argument("--warmup", type=int, default=1, help="untimed first updates per round")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (>= 5)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--vocab", nargs="+", default=["shortlist", "full"])
    ap.add_argument("--compile", action="store_true", help="add one torch.compile pass")
    ap.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="print the top N torch.profiler entries of one round of each side",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    if args.rounds < 5:
        ap.error("--rounds must be at least 5")
    args.data = args.data.replace("{pair}", args.pair)

    import torch

    from bertune_cli.core.config.recipe import load_recipe

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    open_or_prepare(load_recipe(args.pair), Path(args.data), Path(args.raw))
    result = {
        "benchmark": "bench_train",
        "recipe": args.pair,
        "threads": args.threads,
        "rounds": args.rounds,
        "updates_per_round": args.updates,
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "loadavg_start": list(os.getloadavg()),
        "vocab": {},
    }
    for kind in args.vocab:
        result["vocab"][kind] = bench_vocab(args, kind)
        if not args.json:
            report(kind, result["vocab"][kind])
    result["loadavg_end"] = list(os.getloadavg())
    for kind, row in result["vocab"].items():
        result[f"ratio_{kind}"] = row["ratio"]
    result["ratio"] = min(row["ratio"] for row in result["vocab"].values())
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(
        f"\n{args.pair}: {args.rounds} interleaved rounds of {args.updates} timed updates "
        f"(+{args.warmup} untimed), {args.threads} thread(s), load average "
        f"{result['loadavg_start'][0]:.1f} -> {result['loadavg_end'][0]:.1f} on "
        f"{result['cpus']} CPUs; bertune / plain: "
        + ", ".join(
            f"{k} {v['ratio']:.2f}x (CPU {v['ratio_cpu']:.2f}x)" for k, v in result["vocab"].items()
        )
    )


def report(kind: str, r: dict) -> None:
    print(f"\n{kind} ({r['outputs']} outputs), sentences per update {r['sentences']}")
    for side, name in (("plain", "plain HF loop"), ("bertune", "bertune train-baseline step")):
        w, c = r[side]["tokens_per_s"], r[side]["tokens_per_cpu_s"]
        ratio = (
            ""
            if side == "plain"
            else (
                f"  {r['ratio']:.2f}x ({r['ratio_range'][0]:.2f}–{r['ratio_range'][1]:.2f}), CPU "
                f"{r['ratio_cpu']:.2f}x "
                f"({r['ratio_cpu_range'][0]:.2f}–{r['ratio_cpu_range'][1]:.2f})"
            )
        )
        print(
            f"  {name:28s} {w['median']:7.0f} tokens/s ({w['min']:.0f}–{w['max']:.0f}), "
            f"{c['median']:7.0f} per CPU s ({c['min']:.0f}–{c['max']:.0f}){ratio}"
        )
    if "compile" in r:
        c = r["compile"]
        print(
            f"  bertune + torch.compile (one pass): {c['tokens_per_s']:.0f} tokens/s, whole run "
            f"{c['whole_run_s']:.0f} s; max |d logits| {c['max_dlogits']:.1e}, max |d grad| "
            f"{c['max_dgrad']:.1e}"
        )
    for side, table in r.get("profile", {}).items():
        print(f"\ntorch.profiler, {side}, {kind}:\n{table}")


if __name__ == "__main__":
    if not os.environ.get("PYTHONPATH"):  # PYTHONPATH set: measure that code (e.g. a commit)
        sys.path.insert(0, str(REPO))
    main()
