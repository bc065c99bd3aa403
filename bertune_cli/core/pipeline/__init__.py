"""Orchestration: the jobs that run the stages of core/loops in order and compare them.

* ``preflight``: every missing input of a stage named at once, before any stage starts;
* ``run``: the main job of ``bertune finetune`` (prepare -> train-baseline -> finetune -> the
  test comparison), ``run_pipeline``;
* ``grid``: every soft mode x seed through ``run_pipeline``, then a mean ± sd summary;
* ``arms``: the arms of a controlled study; ``ablate`` runs them from one checkpoint and tests
  each against a control; ``ablate_report`` renders that study.

The stages themselves (the training loop, train-baseline, finetune) and what they share
(``services.LMCache``, ...) are core/loops; nothing there imports this package.
"""

__all__ = ["preflight", "run", "grid", "arms", "ablate", "ablate_report"]
