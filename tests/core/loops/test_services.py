"""The stages' shared services: an explicit LM cache (no process-global state) and one
definition of "this process is rank 0"."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from bertune_cli.core.loops import services
from bertune_cli.core.loops.services import LMCache


def test_lm_cache_loads_once_per_cache_and_keeps_one_lm_per_role(monkeypatch):
    loads = []

    def fake_load(name, layer, device):
        loads.append((name, layer, device))
        return object()

    monkeypatch.setattr(services, "_load_lm", fake_load)
    lms = LMCache()
    first = lms.lm("minilm", 5, "cpu")
    assert lms.lm("minilm", 5, "cpu") is first and len(loads) == 1   # kept for the next caller
    assert LMCache().lm("minilm", 5, "cpu") is not first             # nothing process-global
    assert len(loads) == 2
    other = lms.lm("minilm", 4, "cpu")                                # another layer replaces it
    assert other is not first and lms.lm("minilm", 4, "cpu") is other and len(loads) == 3
    assert lms.lm("minilm", 5, "cpu") is not first and len(loads) == 4


def test_rank_zero_is_decided_in_one_place():
    """Stages, validation and trackers ask ``core.distributed.is_master``; no module writes
    its own rank test."""
    root = Path(services.__file__).resolve().parents[2]
    own = root / "core" / "system" / "distributed.py"
    found = [f"{p.relative_to(root)}" for p in root.rglob("*.py") if p != own and
             re.search(r"def _?is_master\b|get_rank\(\)\s*[!=]=\s*0", p.read_text("utf-8"))]
    assert found == []


def test_stages_never_import_the_orchestration():
    """core/loops (the training loop, the stages, their services) sits below core/pipeline
    (the main job, grid, ablation), which calls it: never the other way round."""
    loops = Path(services.__file__).resolve().parent
    found = []
    for path in loops.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names
                      if n.startswith("bertune_cli.core.pipeline")]
    assert found == [] and len(list(loops.glob("*.py"))) >= 6
