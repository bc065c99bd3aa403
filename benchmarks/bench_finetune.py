"""Seconds per BERTTune update: bertune's objective vs a plain eager PyTorch update of the same
math.

Same recipe (default multi30k-de-en: its model, LM (the bundled MiniLM), F_BERT layer,
``finetune.max_tokens`` batches, ``ce_weight``, tau), same batches (the first ``--updates`` of
fine-tuning epoch 1), same initial weights (``--from`` a checkpoint, else the recipe's preset
freshly initialised), same optimizer (AdamW at ``finetune.lr``), one process, ``--threads``
torch threads (default 1: steadier on a shared machine), the same process settings on both
sides (denormals flushed; glibc keeping freed memory as bertune's training loop sets it, or
glibc's defaults with ``--allocator default``):

- plain: written here, what one writes from the paper with PyTorch and transformers —
  ``logits[real positions]`` → softmax / sort-based sparsemax / Gumbel-softmax (noise
  -log(-log U) drawn for the real positions, as bertune draws it, so the losses can be compared)
  → p·E → ``lm(inputs_embeds=[E[CLS], p·E])`` and ``lm(input_ids=reference)`` (padded batch,
  ``no_grad``) → greedy cosine matching (bert_score's) → F; label-smoothed CE (fairseq's, via
  ``log_softmax``) mixed in with ``ce_weight``; ``(loss / sentences).backward()``, step;
- bertune: ``finetune.fbert_objective`` (the loss ``bertune finetune`` trains with) and the
  training loop's update (backward of the summed loss, gradients divided by the sample size,
  gradient norm, step). ``cold``: a new objective every round (every reference is computed,
  as in the first epoch); ``warm``: one objective whose reference cache was filled by an
  untimed pass over the same batches (later epochs, and every validation); ``disk``: the same,
  with every reference read back from the spill file (``finetune.ref_spill_mb``, kept beside
  the ``--data`` folder) instead of memory.

Rounds are interleaved (plain, cold, warm, disk, plain, ...; ``--rounds`` ≥ 5 of each); every round
starts from the same weights. Printed per mode: median seconds per update with min–max, and
the ratio plain ÷ bertune (median of the per-round paired ratios, with their range), in wall
time and in this process's CPU time (with one thread, the work done whatever else runs). Before
timing, one update of each side from the same weights and seed must give losses equal to
1e-5 (the gradients' largest difference is printed). Peak RSS: one subprocess per side
(load, then the batches; VmHWM), plus the reference cache once full (``ref_cache_mb``).
``"ratio"`` in ``--json`` is the recipe's mode (``finetune.soft``) with a warm cache;
``ratio_cold`` and ``ratio_disk`` beside it, and ``ratio_run``: a whole recipe run, epoch 1
cold, the later updates hitting memory for the share of the train references ``ref_cache_mb``
holds and the spill file for the share ``ref_spill_mb`` holds, the rest recomputed.
``ratio_ceiling``: plain ÷ (plain − the time of plain's own reference forward, measured in the
same rounds): what a reference cache could give at most if every other step cost what it
costs in the plain update.
``--profile N`` prints torch.profiler's top N entries of each side's updates.

    python benchmarks/bench_finetune.py --quick            # about two minutes on 2 idle cores
    python benchmarks/bench_finetune.py --json --from runs/multi30k-de-en/baseline
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parents[1]
MODES = ("dense", "sparsemax", "gumbel")
SIDES = ("plain", "cold", "warm", "disk")


# ----------------------------------------------------------------------------- the plain update
def sort_sparsemax():
    """Sparsemax as usually written (entmax / the original BERTTune code): sort every row."""
    import torch

    class SortSparsemax(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            zs, _ = torch.sort(z, dim=-1, descending=True)
            cs = zs.cumsum(dim=-1) - 1
            r = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype)
            k = (zs - cs / r > 0).sum(dim=-1, keepdim=True)
            p = (z - cs.gather(-1, k - 1) / k).clamp_min(0)
            ctx.save_for_backward(p)
            return p

        @staticmethod
        def backward(ctx, g):
            (p,) = ctx.saved_tensors
            s = (p > 0).to(g.dtype)
            g = g * s
            return (g - g.sum(-1, keepdim=True) / s.sum(-1, keepdim=True)) * s

    return SortSparsemax.apply


def plain_objective(lm, rows, vocab, cfg, eps: float):
    """``fn(model, batch) -> loss per sentence``: the paper's objective in plain PyTorch."""
    import torch

    E, sparsemax = lm.embeddings, sort_sparsemax()

    def probs(z):
        if cfg.soft == "dense":
            return torch.softmax(z, -1)
        if cfg.soft == "sparsemax":
            return sparsemax(z)
        u = torch.rand(z.shape).clamp_min(torch.finfo(z.dtype).tiny)
        return torch.softmax((z - torch.log(-torch.log(u))) / cfg.tau, -1)

    def loss_fn(model, batch):
        logits = model(
            input_ids=batch.src, attention_mask=batch.src_mask, decoder_input_ids=batch.tgt_in
        ).logits  # (B, T, V')
        ref_ids = vocab.to_lm(torch.cat([batch.tgt_in[:, :1], batch.tgt_out], 1))  # (B, T+1)
        mask = ref_ids.ne(lm.pad_id)
        B, T = batch.tgt_out.shape
        emb = logits.new_zeros(B, T, E.size(1))
        emb[mask[:, 1:]] = probs(logits[mask[:, 1:]]) @ rows  # p·E
        hyp_in = torch.cat([E[lm.cls_id].expand(B, 1, -1), emb], 1)
        hyp = lm.model(inputs_embeds=hyp_in, attention_mask=mask.long()).last_hidden_state
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.no_grad():
            ref = lm.model(input_ids=ref_ids, attention_mask=mask.long()).last_hidden_state
        loss_fn.ref_seconds[0] += time.perf_counter() - t0
        loss_fn.ref_seconds[1] += time.process_time() - c0
        hyp = hyp / hyp.norm(dim=-1, keepdim=True)
        ref = ref / ref.norm(dim=-1, keepdim=True)
        sim = torch.bmm(hyp, ref.transpose(1, 2))
        sim = sim.masked_fill(~(mask[:, :, None] & mask[:, None, :]), -2.0)
        n = mask.sum(1, keepdim=True)
        pos = torch.arange(T + 1)
        w = (mask & (pos > 0) & (pos < n - 1)).float()  # y_1..y_n
        P = (sim.max(2).values * w).sum(1) / w.sum(1)
        R = (sim.max(1).values * w).sum(1) / w.sum(1)
        F = 2 * P * R / (P + R)
        lp = torch.log_softmax(logits, -1)
        keep = batch.tgt_out.ne(0)
        nll = -lp.gather(-1, batch.tgt_out[..., None])[..., 0][keep].sum()
        eps_i = eps / (logits.size(-1) - 1)
        ce = (1 - eps - eps_i) * nll + eps_i * (-lp.sum(-1)[keep].sum())
        lam = cfg.ce_weight
        return ((1 - lam) * -F.sum() + lam * ce * (B / batch.ntokens)) / B

    loss_fn.ref_seconds = [0.0, 0.0]  # wall, CPU spent in the reference's forward (the ceiling)
    return loss_fn


# ----------------------------------------------------------------------------- updates
def plain_update(model, optimizer, loss_fn, batch) -> float:
    loss = loss_fn(model, batch)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def bertune_update(model, optimizer, loss_fn, batch) -> float:
    """The training loop's update (core/loops/trainer.py) for one micro-batch."""
    import math

    import torch

    loss, logs = loss_fn(model, batch)
    loss.backward()
    params = [p for p in model.parameters() if p.requires_grad]
    try:
        from bertune_cli.core.loops.gradients import finish_gradients
    except ImportError:  # the code measured predates it: what its loop did
        for p in params:
            if p.grad is not None:
                p.grad.mul_(1.0 / max(logs["sample_size"], 1.0))
        torch.nn.utils.clip_grad_norm_(params, math.inf)
    else:
        finish_gradients(params, 1.0 / max(logs["sample_size"], 1.0))
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item() / logs["sample_size"]


class Setup:
    """Recipe, data, model, LM, the benchmark's batches, and the two objectives per mode."""

    def __init__(self, args):
        import copy

        import torch

        from bertune_cli.core.config.recipe import load_recipe
        from bertune_cli.core.data.batching import EpochBatches, collate
        from bertune_cli.core.loops.services import LMCache

        torch.set_num_threads(args.threads)
        torch.set_flush_denormal(True)  # as finetune() and the training loop do
        if args.allocator == "bertune":  # as the training loop does (both sides)
            keep_freed_memory().__enter__()
        self.recipe = load_recipe(args.pair)
        data = open_or_prepare(self.recipe, Path(args.data), Path(args.raw))
        self.model, self.vocab, self.source = load_model(self.recipe, data, args.from_)
        self.model.train()
        self.init = copy.deepcopy(self.model.state_dict())
        self.lm = LMCache().lm(self.recipe.lm.name, self.recipe.lm.layer, "cpu")
        E = self.lm.embeddings
        self.rows = (
            E if self.vocab.kind == "full" else E[torch.as_tensor(self.vocab.lm_ids)].detach()
        )
        train = data.split("train", with_text=False)
        ft = self.recipe.finetune
        sampler = EpochBatches(
            train.src.lengths(),
            train.tgt.lengths() - 1,
            ft.max_tokens,
            ft.seed if ft.seed is not None else self.recipe.train.seed,
        )
        self.per_epoch = len(sampler)
        self.batches = [
            collate(train, idx, self.vocab.from_lm) for idx in sampler.batches(1)[: args.updates]
        ]
        self.ref_tokens = int(train.tgt.lengths().sum())  # [CLS] y [SEP] tokens, all pairs
        self.seed = args.seed
        # the spill file's folder: beside the data, on disk (not /tmp, often a tmpfs)
        self.spill_dir = Path(args.data).resolve().parent

    def objective(self, side: str, mode: str):
        from bertune_cli.core.config.recipe import load_recipe
        from bertune_cli.core.loops.finetune import fbert_objective

        cfg = load_recipe(self.recipe.name, [f"finetune.soft={mode}"]).finetune
        eps = self.recipe.train.label_smoothing
        if side == "plain":
            return plain_update, plain_objective(self.lm, self.rows, self.vocab, cfg, eps)
        if side == "disk":  # every reference from the spill file, none kept in memory
            cfg = dataclasses.replace(cfg, ref_cache_mb=0.0, ref_spill_mb=2.0**20)
            return bertune_update, fbert_objective(
                self.lm, self.vocab, cfg, eps, spill_dir=self.spill_dir
            )
        return bertune_update, fbert_objective(self.lm, self.vocab, cfg, eps)

    def has_spill(self) -> bool:
        """Whether the code measured has the spill tier (``finetune.ref_spill_mb``)."""
        return "ref_spill_mb" in {f.name for f in dataclasses.fields(self.recipe.finetune)}

    def optimizer(self):
        import torch

        ft, tr = self.recipe.finetune, self.recipe.train
        return torch.optim.AdamW(
            self.model.parameters(),
            lr=ft.lr,
            betas=tuple(tr.betas),
            eps=1e-8,
            weight_decay=tr.weight_decay,
        )

    def run(self, update, loss_fn, around=None) -> tuple[float, float]:
        """Wall and CPU seconds per update over the batches, from the initial weights;
        ``around``: a context manager around the updates only (the profiler)."""
        from contextlib import nullcontext

        import torch

        self.model.load_state_dict(self.init)
        optimizer, wall, cpu = self.optimizer(), 0.0, 0.0
        with around or nullcontext():
            for k, batch in enumerate(self.batches):
                torch.manual_seed(self.seed + k)
                t0, c0 = time.perf_counter(), time.process_time()
                update(self.model, optimizer, loss_fn, batch)
                wall, cpu = wall + time.perf_counter() - t0, cpu + time.process_time() - c0
        return wall / len(self.batches), cpu / len(self.batches)


def keep_freed_memory():
    """core.allocator's setting (a no-op context for code from before it existed)."""
    try:
        from bertune_cli.core.system.allocator import keep_freed_memory as keep
    except ImportError:
        from contextlib import nullcontext as keep
    return keep()


def open_or_prepare(recipe, data_dir: Path, raw: Path):
    """The prepared data for ``recipe`` (prepared from ``raw`` into ``data_dir`` if missing)."""
    from bertune_cli.core.loops.services import open_data

    if not (data_dir / "manifest.json").is_file():
        from bertune_cli.core.data.prepare import prepare

        print(f"preparing {recipe.name} from {raw} into {data_dir}", file=sys.stderr)
        prepare(recipe, data_dir, data_dir=raw)
    return open_data(recipe, data_dir)


def load_model(recipe, data, checkpoint: str | None):
    """(model, target vocab, source) from ``checkpoint``, or the recipe's preset, freshly
    initialised (seeded) when there is none."""
    if checkpoint:
        from bertune_cli.core.model.checkpoint import load_checkpoint

        loaded = load_checkpoint(Path(checkpoint), "cpu")
        return loaded.model, loaded.vocab, checkpoint
    from bertune_cli.core.loops.train_baseline import setup_baseline

    _, model, ctx = setup_baseline(recipe, data.path)
    return model, ctx.vocab, f"fresh {recipe.model.preset} (seed {recipe.train.seed})"


# ----------------------------------------------------------------------------- checks, stats
def same_math(setup: Setup, mode: str) -> dict:
    """One update's loss and gradients, plain vs bertune, from the same weights and seed."""
    import torch

    out = {}
    for side in ("plain", "cold"):
        _, loss_fn = setup.objective(side, mode)
        setup.model.load_state_dict(setup.init)
        setup.model.zero_grad(set_to_none=True)
        torch.manual_seed(setup.seed)
        batch = setup.batches[0]
        if side == "plain":
            loss = loss_fn(setup.model, batch)
            loss.backward()
            value = loss.item()
        else:
            loss, logs = loss_fn(setup.model, batch)
            (loss / logs["sample_size"]).backward()
            value = loss.item() / logs["sample_size"]
        out[side] = (
            value,
            [p.grad.clone() for p in setup.model.parameters() if p.grad is not None],
        )
    setup.model.zero_grad(set_to_none=True)
    (a, ga), (b, gb) = out["plain"], out["cold"]
    scale = max(float(g.abs().max()) for g in ga)
    diff = max(float((x - y).abs().max()) for x, y in zip(ga, gb))
    return {
        "loss_plain": a,
        "loss_bertune": b,
        "loss_diff": abs(a - b),
        "grad_max_diff": diff,
        "grad_max": scale,
    }


def summary(times: list[float]) -> dict:
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "rounds_s": [round(t, 4) for t in times],
    }


def bench_mode(setup: Setup, mode: str, rounds: int) -> dict:
    check = same_math(setup, mode)
    if not check["loss_diff"] <= 1e-5:
        sys.exit(
            f"{mode}: plain and bertune losses differ by {check['loss_diff']:.2e} "
            "(> 1e-5): not the same computation"
        )
    warm_update, warm_fn = setup.objective("warm", mode)
    setup.run(warm_update, warm_fn)  # untimed: fills the reference cache
    sides = SIDES if setup.has_spill() else SIDES[:3]
    if "disk" in sides:
        disk_update, disk_fn = setup.objective("disk", mode)
        setup.run(disk_update, disk_fn)  # untimed: fills the spill file
    plain_update_, plain_fn = setup.objective("plain", mode)
    # (wall, CPU) seconds per update of each side, and of the plain update's reference forward
    times: dict[str, list[tuple[float, float]]] = {s: [] for s in (*sides, "ref_forward")}
    for _ in range(rounds):
        plain_fn.ref_seconds[:] = [0.0, 0.0]
        times["plain"].append(setup.run(plain_update_, plain_fn))
        times["ref_forward"].append(tuple(t / len(setup.batches) for t in plain_fn.ref_seconds))
        times["cold"].append(setup.run(*setup.objective("cold", mode)))
        times["warm"].append(setup.run(warm_update, warm_fn))
        if "disk" in sides:
            times["disk"].append(setup.run(disk_update, disk_fn))
    # The ceiling of caching: the plain update with its reference forward taken out, every
    # other step done as plain does it; a warm update can beat it only by doing those faster.
    times["ceiling"] = [
        (p[0] - r[0], p[1] - r[1]) for p, r in zip(times["plain"], times["ref_forward"])
    ]
    out = {**check}
    for side in (*sides, "ref_forward"):
        out[side] = summary([w for w, _ in times[side]])
        out[side]["cpu"] = summary([c for _, c in times[side]])
    if "disk" in sides:
        out["disk_cache"] = disk_fn.ref_cache.stats()
        disk_fn.ref_cache.close()
    for side in (*sides[1:], "ceiling"):
        for clock, suffix in ((0, ""), (1, "_cpu")):
            paired = [p[clock] / b[clock] for p, b in zip(times["plain"], times[side])]
            out[f"ratio_{side}{suffix}"] = statistics.median(paired)
            out[f"ratio_{side}{suffix}_range"] = [min(paired), max(paired)]
    cache = getattr(warm_fn, "ref_cache", None)  # (absent before the cache existed)
    out["cache"] = cache.stats() if cache is not None else None
    return out


# ----------------------------------------------------------------------------- memory, profile
def rss_kb(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status (Linux only)")


def memory_worker(args) -> dict:
    """Peak RSS of a process that loads everything and runs the batches (``--worker``)."""
    setup = Setup(args)
    side, mode = args.worker
    before = rss_kb("VmRSS")
    update, loss_fn = setup.objective(side, mode)
    setup.run(update, loss_fn)
    if side == "warm":
        setup.run(update, loss_fn)
    return {
        "side": side,
        "mode": mode,
        "before_mb": before / 1024,
        "peak_mb": rss_kb("VmHWM") / 1024,
    }


def memory(args, mode: str) -> dict:
    out = {}
    for side in ("plain", "warm"):
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            side,
            mode,
            "--pair",
            args.pair,
            "--data",
            args.data,
            "--raw",
            args.raw,
            "--updates",
            str(args.updates),
            "--threads",
            str(args.threads),
            "--allocator",
            args.allocator,
        ] + (["--from", args.from_] if args.from_ else [])
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if res.returncode != 0:
            sys.exit(f"memory worker {side}/{mode} failed:\n{res.stderr[-2000:]}")
        out[side] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def profile(setup: Setup, mode: str, side: str, top: int) -> str:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    update, loss_fn = setup.objective(side, mode)
    if side == "warm":
        setup.run(update, loss_fn)
    prof = torch_profile(activities=[ProfilerActivity.CPU])
    setup.run(update, loss_fn, around=prof)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top)


# ----------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pair", default="multi30k-de-en", help="recipe (default multi30k-de-en)")
    ap.add_argument(
        "--data",
        default=str(REPO / "runs" / "multi30k-de-en" / "data"),
        help="prepared data directory (default: runs/multi30k-de-en/data of the "
        "repository; prepared from --raw when missing)",
    )
    ap.add_argument(
        "--raw",
        default=str(REPO.parent / "shared" / "data" / "multi30k"),
        help="raw Multi30k files (default: ../shared/data/multi30k of the repository)",
    )
    ap.add_argument(
        "--from",
        dest="from_",
        default=None,
        help="checkpoint to start from (default: a freshly initialised model)",
    )
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (>= 5)")
    ap.add_argument("--updates", type=int, default=3, help="updates per round")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--allocator",
        choices=("bertune", "default"),
        default="bertune",
        help="bertune: glibc keeps freed blocks, as the training loop sets it "
        "(both sides); default: glibc's defaults (both sides)",
    )
    ap.add_argument(
        "--quick", action="store_true", help="the recipe's mode only, 1 update per round"
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-RSS subprocesses")
    ap.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="print the top N torch.profiler entries of each side (recipe's mode)",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--worker", nargs=2, metavar=("SIDE", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(memory_worker(args)))
        return
    if args.rounds < 5:
        ap.error("--rounds must be at least 5")
    if args.quick:
        args.updates = 1
    setup = Setup(args)
    recipe_mode = setup.recipe.finetune.soft
    modes = [recipe_mode] if args.quick else args.modes.split(",")
    import torch

    result = {
        "benchmark": "bench_finetune",
        "recipe": setup.recipe.name,
        "mode": recipe_mode,
        "model": setup.source,
        "threads": args.threads,
        "rounds": args.rounds,
        "allocator": args.allocator,
        "updates_per_round": len(setup.batches),
        "sentences_per_update": [b.nsentences for b in setup.batches],
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "loadavg_start": list(os.getloadavg()),
        "modes": {},
    }
    for mode in modes:
        result["modes"][mode] = bench_mode(setup, mode, args.rounds)
        if not args.json:
            report_mode(mode, result["modes"][mode])
    result["loadavg_end"] = list(os.getloadavg())
    main_row = result["modes"][recipe_mode]
    warm_share = warm_share_of_run(setup)
    result["ratio"] = main_row["ratio_warm"]
    result["ratio_cold"] = main_row["ratio_cold"]
    if "ratio_disk" in main_row:
        result["ratio_disk"], result["ratio_disk_cpu"] = (
            main_row["ratio_disk"],
            main_row["ratio_disk_cpu"],
        )
    result["ratio_cpu"] = main_row["ratio_warm_cpu"]
    result["ratio_ceiling"] = main_row["ratio_ceiling"]
    result["ratio_ceiling_cpu"] = main_row["ratio_ceiling_cpu"]
    result["ratio_cold_cpu"] = main_row["ratio_cold_cpu"]
    D = setup.lm.embeddings.size(1)
    result["references_mb"] = setup.ref_tokens * D * 4 / 2**20  # the whole train split
    result["ref_cache_mb"] = getattr(setup.recipe.finetune, "ref_cache_mb", 0.0)
    result["ref_spill_mb"] = getattr(setup.recipe.finetune, "ref_spill_mb", 0.0)
    cached = min(1.0, result["ref_cache_mb"] / result["references_mb"])
    spilled = 0.0
    if "disk" in main_row:
        spilled = min(1.0 - cached, result["ref_spill_mb"] / result["references_mb"])
    result["cached_share"], result["spilled_share"] = cached, spilled
    result["warm_share_of_run"] = warm_share
    # a run: epoch 1 cold; later epochs hit memory for the cached share of the sentences and
    # the spill file for the spilled share; the rest is recomputed
    for suffix, clock in (("", lambda row: row), ("_cpu", lambda row: row["cpu"])):
        t = {k: clock(main_row[k])["median_s"] for k in SIDES if k in main_row}
        later = cached * t["warm"] + (1 - cached - spilled) * t["cold"]
        later += spilled * t["disk"] if spilled else 0.0
        result["ratio_run" + suffix] = t["plain"] / (
            warm_share * later + (1 - warm_share) * t["cold"]
        )
    if not args.no_memory:
        result["memory"] = memory(args, recipe_mode)
    if args.profile:
        result["profile"] = {
            side: profile(setup, recipe_mode, side, args.profile) for side in ("plain", "warm")
        }
    if args.json:
        print(json.dumps(result, indent=1))
        return
    report_end(result)


def warm_share_of_run(setup: Setup) -> float:
    """Share of the recipe's updates that see a warm cache: every epoch after the first."""
    ft = setup.recipe.finetune
    total = min(ft.max_steps or 10**9, ft.max_epochs * setup.per_epoch)
    return max(total - setup.per_epoch, 0) / total


def report_mode(mode: str, r: dict) -> None:
    print(
        f"\n{mode}: one update from the same weights and seed: loss plain {r['loss_plain']:.6f}"
        f", bertune {r['loss_bertune']:.6f} (|d| {r['loss_diff']:.1e}); max |d grad| "
        f"{r['grad_max_diff']:.1e} (max |grad| {r['grad_max']:.1e})"
    )
    for side, name in (
        ("plain", "plain eager PyTorch"),
        ("cold", "bertune, cache cold"),
        ("warm", "bertune, cache warm"),
        ("disk", "bertune, from spill"),
    ):
        if side not in r:
            continue
        s, c = r[side], r[side]["cpu"]
        ratio = (
            ""
            if side == "plain"
            else (
                f"  {r[f'ratio_{side}']:.2f}x ({r[f'ratio_{side}_range'][0]:.2f}–"
                f"{r[f'ratio_{side}_range'][1]:.2f}), CPU {r[f'ratio_{side}_cpu']:.2f}x "
                f"({r[f'ratio_{side}_cpu_range'][0]:.2f}–{r[f'ratio_{side}_cpu_range'][1]:.2f})"
            )
        )
        print(
            f"  {name:21s} wall {s['median_s']:6.3f} s ({s['min_s']:.2f}–{s['max_s']:.2f}), "
            f"CPU {c['median_s']:6.3f} s ({c['min_s']:.2f}–{c['max_s']:.2f}){ratio}"
        )
    f, fc = r["ref_forward"], r["ref_forward"]["cpu"]
    print(
        f"  of plain, the reference's forward: wall {f['median_s']:.3f} s, CPU "
        f"{fc['median_s']:.3f} s; without it (the ceiling of a reference cache) "
        f"{r['ratio_ceiling']:.2f}x ({r['ratio_ceiling_range'][0]:.2f}–"
        f"{r['ratio_ceiling_range'][1]:.2f}), CPU {r['ratio_ceiling_cpu']:.2f}x"
    )


def report_end(r: dict) -> None:
    print(
        f"\nrecipe {r['recipe']} ({r['mode']}), model: {r['model']}; {r['threads']} thread(s), "
        f"allocator {r['allocator']}, "
        f"{r['rounds']} interleaved rounds of {r['updates_per_round']} update(s) "
        f"({r['sentences_per_update']} sentences); load average {r['loadavg_start'][0]:.1f} "
        f"-> {r['loadavg_end'][0]:.1f} on {r['cpus']} CPUs"
    )
    print(
        f"ratio plain / bertune ({r['mode']}), median of paired rounds: warm cache "
        f"{r['ratio']:.2f}x (CPU time {r['ratio_cpu']:.2f}x), cold {r['ratio_cold']:.2f}x "
        f"(CPU {r['ratio_cold_cpu']:.2f}x); over a recipe run "
        f"({100 * r['warm_share_of_run']:.0f}% of updates after epoch 1, "
        f"ref_cache_mb {r['ref_cache_mb']:.0f} of {r['references_mb']:.0f} MiB = "
        f"{100 * r['cached_share']:.0f}% of the references in memory, "
        f"{100 * r['spilled_share']:.0f}% in the spill file) {r['ratio_run']:.2f}x "
        f"(CPU {r['ratio_run_cpu']:.2f}x); ceiling of a reference cache "
        f"{r['ratio_ceiling']:.2f}x (CPU {r['ratio_ceiling_cpu']:.2f}x)"
    )
    if "memory" in r:
        m = r["memory"]
        full = min(r["ref_cache_mb"], r["references_mb"])
        print(
            f"peak RSS ({r['mode']}, own process each): plain {m['plain']['peak_mb']:.0f} MB, "
            f"bertune {m['warm']['peak_mb']:.0f} MB, + {full:.0f} MiB once the cache is full "
            f"= {100 * ((m['warm']['peak_mb'] + full) / m['plain']['peak_mb'] - 1):+.0f}%"
        )
    for side, table in r.get("profile", {}).items():
        print(f"\ntorch.profiler, {side}, {r['mode']} ({r['updates_per_round']} updates):\n{table}")


if __name__ == "__main__":
    if not os.environ.get("PYTHONPATH"):  # PYTHONPATH set: measure that code (e.g. a commit)
        sys.path.insert(0, str(REPO))
    main()
