"""Which process this is under ``torchrun``: one definition for every stage and tracker.

Only rank 0 writes a run folder, logs to a tracker, translates the test set or prints; the
other ranks train and take part in the collectives. Outside ``torchrun`` (no process group)
the one process is rank 0 of 1.
"""

from __future__ import annotations


def rank_and_world() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) without an initialized process group."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_master() -> bool:
    """Whether this process is rank 0 (the one that writes)."""
    return rank_and_world()[0] == 0
