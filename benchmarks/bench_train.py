"""Target tokens/s of `train-baseline`'s update step vs a plain Hugging Face training loop.

Same model (the recipe's preset, same initial weights), same optimizer (AdamW with the recipe's
lr schedule, betas, eps, weight decay), same batches (epoch 1 of the recipe's token batching,
collated the same way), one run, in this process:

- plain HF loop: ``loss = model(input_ids, attention_mask, decoder_input_ids, labels).loss``
  (transformers' token-mean cross-entropy), ``loss.backward()``, ``optimizer.step()``,
  ``zero_grad()`` — what one writes following transformers' docs;
- bertune: ``trainer.train_loop`` itself (``train-baseline``'s loop: label-smoothed CE summed
  and divided by the update's target tokens, gradient-norm computation, non-finite check,
  bookkeeping), timed per update from its ``step`` events (the final validation, on 8
  sentences, is not counted);
- bertune + torch.compile: the same loop with the loss computed through
  ``torch.compile(model, dynamic=True)`` (compile time printed, not counted). Exactness:
  logits and gradients of one batch with dropout off, compiled vs eager (max abs difference).

Both vocabularies: the recipe's (demo: shortlist) and the full LM vocabulary (30522 outputs).
The first ``--warmup`` updates of each row are not timed; the plain and bertune rows alternate
``--repeat`` times and keep their best speed (the machine is shared).

Usage (after `bertune prepare --pair demo`):
    nice python benchmarks/bench_train.py --data runs/demo/data --steps 30
"""
from __future__ import annotations

import argparse
import copy
import math
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI (commands/train_baseline.py)


def plain_hf_loop(model, train, batches, vocab, settings, warmup: int) -> tuple[int, float]:
    """(target tokens, seconds) of the timed updates of the plain loop."""
    import torch

    from bertune_cli.core.data.batching import collate
    from bertune_cli.core.loops.trainer import inverse_sqrt_lr

    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, betas=settings.betas,
                                  eps=1e-8, weight_decay=settings.weight_decay)
    tokens, seconds = 0, 0.0
    for step, idx in enumerate(batches):
        t0 = time.perf_counter()
        for g in optimizer.param_groups:
            g["lr"] = inverse_sqrt_lr(step, settings.lr, settings.warmup_updates,
                                      settings.warmup_init_lr)
        batch = collate(train, idx, vocab.from_lm)
        labels = batch.tgt_out.masked_fill(batch.tgt_out.eq(0), -100)
        loss = model(input_ids=batch.src, attention_mask=batch.src_mask,
                     decoder_input_ids=batch.tgt_in, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= warmup:
            tokens, seconds = tokens + batch.ntokens, seconds + time.perf_counter() - t0
    return tokens, seconds


def bertune_loop(model, data, ctx, recipe, batches, warmup: int, work: Path,
                 forward=None) -> tuple[int, float]:
    """(target tokens, seconds) of the timed updates of ``train_loop``. An update's time is the
    wall time between its ``step`` event and the previous one (everything the loop does);
    ``forward``: a module the loss runs through instead of ``model`` (torch.compile's)."""
    from bertune_cli.core.data.store import Ragged, Split
    from bertune_cli.core.loops.train_baseline import ce_loss
    from bertune_cli.core.loops.trainer import LoopSettings, train_loop

    loss = ce_loss(recipe.train.label_smoothing)
    loss_fn = loss if forward is None else (lambda _model, batch: loss(forward, batch))
    full = data.split("valid")
    valid = Split("valid", Ragged.from_lists([full.src[i] for i in range(8)]),
                  Ragged.from_lists([full.tgt[i] for i in range(8)]), full.src_text[:8],
                  full.tgt_text[:8])
    stamps: dict[int, float] = {}
    settings = LoopSettings.from_config(recipe.train, max_steps=len(batches), max_epochs=1,
                                        patience=0, autosave_seconds=1e9, log_every=10**9)
    train = data.split("train", with_text=False)
    train_loop(model, train=train, valid=valid, loss_fn=loss_fn, settings=settings,
               run_dir=work, ctx=ctx, device="cpu",
               on_event=lambda e: stamps.setdefault(e["update"], time.perf_counter())
               if e["event"] == "step" else None)
    lengths = train.tgt.lengths() - 1  # target tokens y_1..y_n [SEP] per pair
    timed = range(max(warmup, 1), len(batches))  # update k+1 ran between stamps k and k+1
    tokens = sum(int(lengths[batches[k]].sum()) for k in timed)
    return tokens, sum(stamps[k + 1] - stamps[k] for k in timed)


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
        logits = net(input_ids=batch.src, attention_mask=batch.src_mask,
                     decoder_input_ids=batch.tgt_in).logits
        logits.float().logsumexp(-1).sum().backward()
        outs.append((logits.detach(), [p.grad.clone() for p in params.parameters()
                                       if p.grad is not None]))
    (l0, g0), (l1, g1) = outs
    return (float((l0 - l1).abs().max()),
            max(float((a - b).abs().max()) for a, b in zip(g0, g1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pair", default="demo", help="recipe (default: demo)")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / "runs" / "demo"
                                              / "data"),
                        help="prepared data directory (default: runs/demo/data of the "
                             "repository, whatever the current directory)")
    parser.add_argument("--steps", type=int, default=30, help="updates per row")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first updates")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    parser.add_argument("--vocab", nargs="+", default=["shortlist", "full"])
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    parser.add_argument("--repeat", type=int, default=2,
                        help="alternating plain/bertune passes (best kept)")
    args = parser.parse_args()

    import torch

    from bertune_cli.core.config import load_recipe
    from bertune_cli.core.data.batching import EpochBatches
    from bertune_cli.core.engines.ct2_engine import cpu_cores
    from bertune_cli.core.loops.train_baseline import setup_baseline

    threads = args.threads or cpu_cores()
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    print(f"recipe {args.pair}, data {args.data}, {args.steps} updates per row "
          f"({args.warmup} untimed), {threads} threads, torch {torch.__version__}")
    print(f"{'':40s} {'tokens/s':>9s} {'vs plain':>9s}")
    for kind in args.vocab:
        recipe = load_recipe(args.pair, [f"data.target_vocab={kind}"])
        data, model, ctx = setup_baseline(recipe, Path(args.data))
        train = data.split("train", with_text=False)
        batches = EpochBatches(train.src.lengths(), train.tgt.lengths() - 1,
                               recipe.train.max_tokens, recipe.train.seed).batches(1)
        batches = batches[:args.steps]
        init = copy.deepcopy(model.state_dict())
        # plain and bertune alternate --repeat times from the same weights; each keeps its
        # best speed (the machine is shared: one pass alone moves by +-30%).
        plain = ours = 0.0
        for _ in range(args.repeat):
            model.load_state_dict(init)
            tokens, seconds = plain_hf_loop(model, train, batches, ctx.vocab, recipe.train,
                                            args.warmup)
            plain = max(plain, tokens / seconds)
            model.load_state_dict(init)
            with tempfile.TemporaryDirectory(prefix="bench-train-") as work:
                tokens, seconds = bertune_loop(model, data, ctx, recipe, batches, args.warmup,
                                               Path(work) / "run")
            ours = max(ours, tokens / seconds)
        name = f"{kind} ({len(ctx.vocab)} outputs)"
        print(f"{'plain HF loop, ' + name:40s} {plain:9.0f} {1.0:8.2f}x")
        print(f"{'bertune train-baseline step, ' + kind:40s} {ours:9.0f} {ours / plain:8.2f}x")
        if not args.no_compile:
            model.load_state_dict(init)
            forward = torch.compile(model, dynamic=True)
            with tempfile.TemporaryDirectory(prefix="bench-train-") as work:
                t0 = time.perf_counter()
                tokens, seconds = bertune_loop(model, data, ctx, recipe, batches, args.warmup,
                                               Path(work) / "run", forward)
                total = time.perf_counter() - t0
            print(f"{'bertune step + torch.compile, ' + kind:40s} {tokens / seconds:9.0f} "
                  f"{tokens / seconds / plain:8.2f}x (one pass; whole run {total:.0f} s "
                  "incl. compilation and validation)")
        if not args.no_compile:
            model.load_state_dict(init)
            dl, dg = compile_exactness(model, train, batches[0], ctx.vocab)
            print(f"torch.compile vs eager ({kind}), one batch, no dropout: max |d logits| "
                  f"{dl:.2e}, max |d grad| {dg:.2e}")


if __name__ == "__main__":
    main()
