"""What a plain `make test` runs and skips is written down, and the reasons are shown."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = re.compile(r"pytest\.skip\(|pytest\.importorskip\(|mark\.skipif\(")


def _skipping_files() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("*.py")
                  if p.name != Path(__file__).name and SKIP.search(p.read_text(encoding="utf-8")))


def test_every_test_file_that_can_skip_is_named_in_the_development_docs():
    """A new skip (a browser, a package, a device) must say in docs/development.md when it
    happens and how to run the tests instead."""
    docs = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    files = _skipping_files()
    assert "tests/serve/conftest.py" in files  # the browser tests' fixture
    assert [f for f in files if f"`{f}`" not in docs] == []
    assert "chromium chromium-driver" in docs


def test_make_test_shows_every_skip_reason_and_the_readme_says_what_it_skips():
    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "tool"]["pytest"]["ini_options"]["addopts"]
    assert re.search(r"(^|\s)-r\w*[as]", addopts), addopts  # -ra: a reason per skip
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = make.split("\ntest: install\n", 1)[1].split("\n\n", 1)[0]
    run = [ln for ln in recipe.splitlines() if "-m pytest" in ln]
    assert len(run) == 1 and not re.search(r"\s(-r\w*|--no-summary|-o\s*addopts)", run[0])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "browser tests" in readme and "chromium chromium-driver" in readme
