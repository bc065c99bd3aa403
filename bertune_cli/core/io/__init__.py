"""Files in and out: where things live, who may write, how it is written, how lines are read.

``paths`` (the data home and run directories), ``locks`` (one writing process per run or data
directory), ``outputs`` (output paths checked before the work and written atomically),
``lines`` (the one reader of one-segment-per-line text files).
"""

__all__ = ["paths", "locks", "outputs", "lines"]
