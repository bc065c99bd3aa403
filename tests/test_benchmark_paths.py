"""Benchmark defaults resolve against the repository, not one machine's folders."""
from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _data_defaults():
    for path in sorted(BENCH.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument"
                    and node.args and getattr(node.args[0], "value", None) == "--data"):
                default = next((k.value for k in node.keywords if k.arg == "default"), None)
                yield path.name, default


def test_every_data_default_is_relative_to_the_repository():
    found = list(_data_defaults())
    assert found, "no benchmark has a --data option"
    for name, default in found:
        # a literal absolute path (or a cwd-relative literal) only works on one machine/cwd
        assert not isinstance(default, ast.Constant), f"{name}: --data default {default.value!r}"
        assert "__file__" in ast.unparse(default) or "REPO" in ast.unparse(default), name
