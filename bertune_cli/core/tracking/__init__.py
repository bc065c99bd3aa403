"""Experiment tracking fed by the training loop's events.

``tracker`` (``track``: the ``on_event`` callable a loop gets; what is logged is
``metrics.jsonl`` itself), ``sinks`` (the MLflow and TensorBoard sinks and their registry).
"""

__all__ = ["tracker", "sinks"]
