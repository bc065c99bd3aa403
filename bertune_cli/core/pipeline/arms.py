"""The arms of a controlled fine-tuning study (``bertune ablate``; method.md §10).

An arm is an (objective, schedule) pair applied to one starting checkpoint. Every arm of a
study shares the start, the data order (the run seed and epoch decide the batches), the update
budget, the validation schedule, the selection rule and the seeds; only what the arm names
differs:

    ce           label-smoothed CE only, the recipe's fine-tuning schedule (fresh optimizer,
                 its warm-up and peak): the control
    ce-cont      label-smoothed CE only, no re-warm-up: the start's Adam moments and the
                 baseline's schedule carried on from the start's update count
    dense, sparsemax, gumbel
                 BERTTune with the recipe's ce_weight, the recipe's fine-tuning schedule
    dense-only, sparsemax-only, gumbel-only
                 BERTTune with F_BERT alone (ce_weight 0)
    paper        the authors' protocol as their scripts run it: fresh optimizer, warm-up of
                 4,000 updates from 1e-7 to 5e-5, F_BERT alone, Gumbel-softmax at τ 0.1

``ARMS`` is the registry; ``arm_run(recipe, arm, seed, start)`` turns one arm into what
``finetune`` takes (a recipe, loop overrides, the optimizer state to start from).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from bertune_cli.core.config.recipe import Recipe
from bertune_cli.core.errors import CheckpointError, UsageError

PAPER_SCHEDULE = {"lr": 5e-5, "warmup_updates": 4000, "warmup_init_lr": 1e-7}


@dataclass(frozen=True)
class Arm:
    """One arm: ``ce_weight`` None = the recipe's; ``schedule``: recipe | continue | paper."""

    name: str
    soft: str  # the soft mode (irrelevant when ce_weight is 1)
    ce_weight: Optional[float]
    schedule: str = "recipe"
    tau: Optional[float] = None  # None: the recipe's
    help: str = ""

    @property
    def ce_only(self) -> bool:
        return self.ce_weight == 1.0


def _bertune(soft: str) -> Arm:
    return Arm(soft, soft, None, help=f"BERTTune ({soft}) with the recipe's ce_weight")


def _only(soft: str) -> Arm:
    return Arm(f"{soft}-only", soft, 0.0, help=f"BERTTune ({soft}), F_BERT alone")


ARMS: dict[str, Arm] = {
    "ce": Arm(
        "ce",
        "dense",
        1.0,
        help="label-smoothed CE, the recipe's fine-tuning schedule (the control)",
    ),
    "ce-cont": Arm(
        "ce-cont",
        "dense",
        1.0,
        "continue",
        help="label-smoothed CE, no re-warm-up: the start's optimizer state and "
        "the baseline's schedule carried on",
    ),
    "dense": _bertune("dense"),
    "sparsemax": _bertune("sparsemax"),
    "gumbel": _bertune("gumbel"),
    "dense-only": _only("dense"),
    "sparsemax-only": _only("sparsemax"),
    "gumbel-only": _only("gumbel"),
    "paper": Arm(
        "paper",
        "gumbel",
        0.0,
        "paper",
        tau=0.1,
        help="the authors' protocol: fresh optimizer, 4,000-update warm-up from 1e-7 "
        "to 5e-5, F_BERT alone, Gumbel τ 0.1",
    ),
}


def parse_arms(value: str | None, control: str) -> list[str]:
    """``--arms a,b,c`` checked against the registry (UsageError, nothing created yet); the
    control must be one of them."""
    names = [a.strip() for a in (value or "").split(",") if a.strip()]
    if not names:
        raise UsageError(
            "--arms needs at least one arm", f"e.g. --arms ce,dense,gumbel; arms: {', '.join(ARMS)}"
        )
    unknown = [a for a in names if a not in ARMS]
    if unknown:
        shown = ", ".join(repr(a[:40]) for a in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise UsageError(f"unknown arm {shown}{more}", f"arms: {', '.join(ARMS)}")
    if len(set(names)) != len(names):
        raise UsageError(f"--arms repeats an arm: {', '.join(names)}", "name each arm once")
    if control not in ARMS:
        raise UsageError(f"unknown control arm {control[:40]!r}", f"arms: {', '.join(ARMS)}")
    if control not in names:
        raise UsageError(
            f"the control arm {control!r} is not among --arms",
            f"add it (e.g. --arms {control},{','.join(names)}) or choose --control among them",
        )
    return names


def arm_recipe(recipe: Recipe, arm: Arm, seed: int) -> Recipe:
    """The recipe one run of ``arm`` with ``seed`` trains with."""
    ft = recipe.finetune
    ft = dataclasses.replace(
        ft,
        soft=arm.soft,
        seed=seed,
        ce_weight=ft.ce_weight if arm.ce_weight is None else arm.ce_weight,
        tau=ft.tau if arm.tau is None else arm.tau,
    )
    if arm.schedule == "paper":
        ft = dataclasses.replace(
            ft, **{k: v for k, v in PAPER_SCHEDULE.items() if k in ("lr", "warmup_updates")}
        )
    return dataclasses.replace(recipe, finetune=ft)


def arm_loop(recipe: Recipe, arm: Arm, start: Path) -> tuple[dict[str, Any], Any]:
    """(LoopSettings overrides, optimizer state to start from) of ``arm`` from checkpoint
    ``start``. ``continue`` reads the start's optimizer state and update count."""
    if arm.schedule == "paper":
        return {"warmup_init_lr": PAPER_SCHEDULE["warmup_init_lr"]}, None
    if arm.schedule != "continue":
        return {}, None
    from bertune_cli.core.model.checkpoint import load_trainer_state, read_meta

    state = load_trainer_state(start)
    updates = read_meta(start).get("training", {}).get("updates")
    if state is None or "optimizer" not in state or not isinstance(updates, int):
        raise CheckpointError(
            f"arm {arm.name!r} continues the start's optimizer, but {start} holds no optimizer "
            "state (checkpoints written before bertune kept it in checkpoint_best do not)",
            "start from a checkpoint that has it (a checkpoint_last, or a baseline trained "
            "with this bertune), or leave the arm out",
        )
    t = recipe.train
    return (
        {
            "lr": t.lr,
            "warmup_updates": t.warmup_updates,
            "warmup_init_lr": t.warmup_init_lr,
            "schedule_offset": updates,
        },
        state["optimizer"],
    )


def run_name(arm: str, seed: int) -> str:
    """The run directory of one arm and seed inside the study folder."""
    return f"{arm}-seed{seed}"
