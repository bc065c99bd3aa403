"""The two training stages and the loop they share.

``trainer`` (``train_loop``), ``settings`` (``LoopSettings`` from a config section),
``process`` (signals, autosaves, bad updates), ``gradients`` (scale, norm, clip),
``validation``, ``run_files`` (a stage's files), ``losses`` (label-smoothed CE and the F_BERT
objective), ``services`` (the LM cache, run context and checks the stages share),
``train_baseline`` and ``finetune`` (the stages).
"""

__all__ = [
    "trainer",
    "settings",
    "process",
    "gradients",
    "validation",
    "run_files",
    "losses",
    "services",
    "train_baseline",
    "finetune",
]
