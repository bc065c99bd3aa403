"""`bertune finetune --soft a,b --seeds 1,2`: the grid's values are checked before anything runs."""
from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("args, msg", [
    (["--soft", "dense,softmax"], "--soft: 'softmax' is not one of dense, sparsemax, gumbel"),
    (["--soft", "dense", "--seeds", "1,x"], "--seeds: 'x' is not an integer"),

    (["--soft", "dense,dense"], "--soft repeats a value"),
    (["--seeds", "1,1"], "--seeds repeats a value")])
def test_bad_grid_values_are_one_line_usage_errors(tmp_path, args, msg):
    proc = subprocess.run([sys.executable, "-m", "bertune_cli.main", "finetune", "--pair", "demo",
                           "--runs-dir", str(tmp_path / "runs"), *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert msg in proc.stderr.replace("Invalid value for ", "") and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()   # refused before any stage ran
