"""torch.profiler's top entries of bertune's fine-tuning update, for any commit's code.

Not a ratio: the "before and after" profile of a speed change. It runs two BERTTune updates of
the recipe (default multi30k-de-en, ``--mode`` default gumbel) from ``--from`` a checkpoint, an
untimed pass first (it fills the reference cache where the code has one), then the same two
updates under the profiler, 1 thread, and prints seconds per update and the table. It uses only
what every version of the code since the fine-tuning stage has (``fbert_objective``, the data
directory, the checkpoint loader), so it profiles an old tree as well:

    PYTHONPATH=/tmp/old python benchmarks/profile_update.py --from runs/multi30k-de-en/baseline
    (with /tmp/old from `git archive <commit> | tar -x -C /tmp/old`)
    python benchmarks/profile_update.py --from runs/multi30k-de-en/baseline      # this tree
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]


def first_module(*names):
    """The first of ``names`` that imports (modules moved between versions)."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    raise ModuleNotFoundError(f"none of {names}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pair", default="multi30k-de-en", help="recipe (default multi30k-de-en)")
    ap.add_argument(
        "--data",
        default=str(REPO / "runs" / "{pair}" / "data"),
        help="prepared data directory (default: runs/<pair>/data of the repository)",
    )
    ap.add_argument("--from", dest="from_", required=True, help="checkpoint to start from")
    ap.add_argument("--mode", default="gumbel", choices=["dense", "sparsemax", "gumbel"])
    ap.add_argument("--top", type=int, default=12, help="table rows (default 12)")
    args = ap.parse_args()
    data_dir = Path(args.data.replace("{pair}", args.pair))

    import torch
    from torch.profiler import ProfilerActivity, profile

    import bertune_cli
    from bertune_cli.core.data.batching import EpochBatches, collate
    from bertune_cli.core.data.store import DataDir
    from bertune_cli.core.model.checkpoint import load_checkpoint

    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    print(f"code: {Path(bertune_cli.__file__).resolve().parent.parent}")
    config = first_module("bertune_cli.core.config.recipe", "bertune_cli.core.config")
    stage = first_module("bertune_cli.core.loops.finetune")
    recipe = config.load_recipe(args.pair, [f"finetune.soft={args.mode}"])
    data = DataDir(data_dir)
    loaded = load_checkpoint(Path(args.from_), "cpu")
    model, vocab = loaded.model, loaded.vocab
    model.train()
    if hasattr(stage, "shared_lm"):  # before the LM cache object
        lm = stage.shared_lm(recipe.lm.name, recipe.lm.layer, "cpu")
    else:
        services = first_module("bertune_cli.core.loops.services")
        lm = services.LMCache().lm(recipe.lm.name, recipe.lm.layer, "cpu")
    ft = recipe.finetune
    train = data.split("train", with_text=False)
    seed = ft.seed if ft.seed is not None else recipe.train.seed
    sampler = EpochBatches(train.src.lengths(), train.tgt.lengths() - 1, ft.max_tokens, seed)
    batches = [collate(train, idx, vocab.from_lm) for idx in sampler.batches(1)[:2]]
    loss_fn = stage.fbert_objective(lm, vocab, ft, recipe.train.label_smoothing)
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=ft.lr,
        betas=tuple(recipe.train.betas),
        eps=1e-8,
        weight_decay=recipe.train.weight_decay,
    )
    init = {k: v.clone() for k, v in model.state_dict().items()}

    def updates() -> float:
        model.load_state_dict(init)
        t0 = time.perf_counter()
        for k, batch in enumerate(batches):
            torch.manual_seed(1 + k)
            loss, logs = loss_fn(model, batch)
            loss.backward()
            for p in model.parameters():
                if p.grad is not None:
                    p.grad.mul_(1.0 / max(logs["sample_size"], 1.0))
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return (time.perf_counter() - t0) / len(batches)

    print(f"untimed pass: {updates():.3f} s/update")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        seconds = updates()
    print(f"profiled pass: {seconds:.3f} s/update ({args.mode}, {len(batches)} updates)")
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top)
    print(table)


if __name__ == "__main__":
    if not os.environ.get("PYTHONPATH"):  # PYTHONPATH set: profile that code (e.g. a commit)
        sys.path.insert(0, str(REPO))
    main()
