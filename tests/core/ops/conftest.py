"""Rows that break a float32 sparsemax computed on unshifted logits."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def degenerate_rows():
    """``degenerate_rows(V)``: see ``_degenerate_rows``."""
    return _degenerate_rows


def _degenerate_rows(v: int, seed: int = 0) -> torch.Tensor:
    """(6, V) float32: flat-topped rows at logit scales 12, 40 and 112 (about 100-300 entries
    within 1 of the max: unshifted, |sum p - 1| reached 3e-5, 5e-4 and 2e-3), a row of V exact
    ties at 1000 and one of 2000 ties at 1e4 (unshifted: tau = -1, k = 0, NaN in the backward),
    and an ordinary random row."""
    g = torch.Generator().manual_seed(seed)
    rows = [scale - torch.rand(v, generator=g) * 0.9 for scale in (12.0, 40.0, 112.0)]
    rows.append(torch.full((v,), 1000.0))
    ties = torch.randn(v, generator=g)
    ties[:min(2000, v)] = 1e4
    rows.append(ties)
    rows.append(torch.randn(v, generator=g) * 3)
    return torch.stack(rows).float()
