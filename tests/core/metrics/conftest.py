"""Evaluation test texts: 48 segments written for these tests (tests/data/evaluation_sample.tsv),
two references and three systems (close paraphrase, near copy, telegraphic with an empty line)."""
from __future__ import annotations

from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "evaluation_sample.tsv"


def load_sample() -> dict[str, list[str]]:
    rows = [line.split("\t") for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    return {name: [r[i] for r in rows[1:]] for i, name in enumerate(rows[0])}


@pytest.fixture(scope="session")
def sample() -> dict[str, list[str]]:
    return load_sample()
