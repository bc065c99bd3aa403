"""Fixtures of the report tests: one synthetic run tree per session (see synthetic.py)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def load_synthetic():
    """tests/core/report/synthetic.py as a module (the suite uses --import-mode=importlib)."""
    spec = importlib.util.spec_from_file_location(
        "report_synthetic", Path(__file__).with_name("synthetic.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def synthetic():
    return load_synthetic()


@pytest.fixture(scope="session")
def runs_tree(tmp_path_factory, synthetic, tiny_data_dir):
    """runs/demo/{data, baseline, finetune-gumbel, finetune-dense}; finetune-dense is still
    'running' (no DONE, no test.hyp.txt)."""
    return synthetic.shared_runs(tmp_path_factory, tiny_data_dir)
