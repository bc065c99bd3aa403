"""The resume state is JSON + safetensors: a planted pickle never runs, damage is one line."""
from __future__ import annotations

import json
import pickle
import random

import numpy as np
import pytest
import torch

from bertune_cli.core.errors import CheckpointError
from bertune_cli.core.model.checkpoint import load_trainer_state
from bertune_cli.core.model.trainer_state import STATE_JSON, STATE_TENSORS, dump_state


def _state() -> dict:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98))
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    name, keys, pos, gauss, cached = np.random.get_state()
    return {"optimizer": opt.state_dict(), "epoch": 3, "elapsed": 1.5, "best": -float("inf"),
            "rng": [{"torch": torch.get_rng_state(), "python": random.getstate(),
                     "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos, gauss,
                               cached), "cuda": None}]}


def test_state_round_trips_exactly(tmp_path):
    state = _state()
    dump_state(state, tmp_path)
    back = load_trainer_state(tmp_path)
    assert back["epoch"] == 3 and back["elapsed"] == 1.5 and back["best"] == -float("inf")
    assert back["rng"][0]["python"] == state["rng"][0]["python"]  # tuples stay tuples
    assert torch.equal(back["rng"][0]["torch"], state["rng"][0]["torch"])
    opt_a, opt_b = state["optimizer"], back["optimizer"]
    assert set(opt_b["state"]) == {0, 1}  # integer keys stay integers
    for i in opt_a["state"]:
        for k, v in opt_a["state"][i].items():
            assert torch.equal(v, opt_b["state"][i][k])
    assert opt_b["param_groups"][0]["betas"] == (0.9, 0.98)
    model = torch.nn.Linear(3, 2)
    torch.optim.AdamW(model.parameters()).load_state_dict(opt_b)  # usable as is


def test_a_planted_pickle_is_never_loaded(tmp_path):
    """An older (or planted) trainer_state.pt with a __reduce__ payload: refused, not run."""
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "trainer_state.pt").write_bytes(pickle.dumps({"x": Payload()}))
    with pytest.raises(CheckpointError, match="does not load pickles"):
        load_trainer_state(tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["not json", "wrong format", "bad tensors", "bad entry"])
def test_a_state_bertune_did_not_write_is_one_error_naming_the_file(tmp_path, damage):
    dump_state(_state(), tmp_path)
    doc = json.loads((tmp_path / STATE_JSON).read_text())
    if damage == "not json":
        (tmp_path / STATE_JSON).write_bytes(b"\x80\x04garbage")
    elif damage == "wrong format":
        (tmp_path / STATE_JSON).write_text(json.dumps({"format": "other", "state": {}}))
    elif damage == "bad tensors":
        (tmp_path / STATE_TENSORS).write_bytes(b"\x00" * 5)
    else:
        doc["state"]["epoch"] = {"__tensor__": "missing"}
        (tmp_path / STATE_JSON).write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="is not a trainer state written by bertune") as e:
        load_trainer_state(tmp_path)
    assert str(tmp_path) in e.value.message and "\n" not in str(e.value)


def test_no_state_is_none(tmp_path):
    assert load_trainer_state(tmp_path) is None
