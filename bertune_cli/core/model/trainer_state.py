"""The trainer's resume state without pickle: JSON for the structure, safetensors for tensors.

``checkpoint_last`` holds the optimizer, the GradScaler, the schedule and data position and the
RNG states of every rank. A pickle (``torch.save``) of that runs code when loaded, so a run
folder received from someone else could execute anything on resume. Instead the state is split:

    trainer_state.json          the nested structure; every tensor replaced by {"__tensor__": k},
                                tuples by {"__tuple__": [...]}, dicts with non-string keys by
                                {"__items__": [[key, value], ...]}
    trainer_state.safetensors   the tensors, by key k

Loading parses JSON and a safetensors file, nothing else; anything that is not what
:func:`dump_state` writes is one CheckpointError naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bertune_cli.core.errors import CheckpointError

STATE_JSON = "trainer_state.json"
STATE_TENSORS = "trainer_state.safetensors"
LEGACY_PICKLE = "trainer_state.pt"
_FORMAT = "bertune-trainer-state-1"


def dump_state(state: dict[str, Any], folder: Path) -> None:
    """Write ``state`` (dicts, lists, tuples, str/int/float/bool/None, torch tensors) into
    ``folder`` as the two files above."""
    from safetensors.torch import save_file

    tensors: dict[str, Any] = {}
    tree = _encode(state, tensors)
    save_file(
        {k: t.detach().contiguous().cpu() for k, t in tensors.items()},
        str(Path(folder) / STATE_TENSORS),
    )
    Path(folder, STATE_JSON).write_text(
        json.dumps({"format": _FORMAT, "state": tree}), encoding="utf-8"
    )


def load_state(folder: Path) -> dict[str, Any] | None:
    """The state stored in ``folder`` (None when it holds none). A pickled state of an older
    bertune is refused, never unpickled."""
    from safetensors.torch import load_file

    folder = Path(folder)
    file, tensor_file = folder / STATE_JSON, folder / STATE_TENSORS
    if not file.is_file():
        if (folder / LEGACY_PICKLE).exists():
            raise CheckpointError(
                f"{folder / LEGACY_PICKLE} is a pickled trainer state; bertune does not load "
                "pickles (loading one can run code planted in the file)",
                "resume it with the bertune that wrote it, or start a new run with --out "
                "(its checkpoint_best weights remain usable with --from)",
            )
        return None
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
        tensors = load_file(str(tensor_file))
    except (OSError, ValueError, RuntimeError, RecursionError) as exc:
        raise _not_ours(file, exc.__class__.__name__) from exc
    except Exception as exc:  # safetensors raises its own SafetensorError on a bad header
        raise _not_ours(tensor_file, exc.__class__.__name__) from exc
    if (
        not isinstance(doc, dict)
        or doc.get("format") != _FORMAT
        or not isinstance(doc.get("state"), dict)
    ):
        raise _not_ours(file, "not a bertune trainer state")
    try:
        return _decode(doc["state"], tensors)
    except (KeyError, TypeError, ValueError) as exc:
        raise _not_ours(file, f"malformed entry: {exc.__class__.__name__}") from exc


def _not_ours(file: Path, why: str) -> CheckpointError:
    return CheckpointError(
        f"{file} is not a trainer state written by bertune ({why})",
        "the run folder is damaged or was not made by bertune; start a new run with --out",
    )


def _encode(obj: Any, tensors: dict[str, Any]) -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj
        return {"__tensor__": key}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, tensors) for k, v in obj.items()}
        return {"__items__": [[_encode(k, tensors), _encode(v, tensors)] for k, v in obj.items()]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"trainer state cannot store a {type(obj).__name__}")


def _decode(obj: Any, tensors: dict[str, Any]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if set(obj) == {"__tensor__"}:
            return tensors[obj["__tensor__"]]
        if set(obj) == {"__tuple__"}:
            return tuple(_decode(v, tensors) for v in obj["__tuple__"])
        if set(obj) == {"__items__"}:
            return {_decode(k, tensors): _decode(v, tensors) for k, v in obj["__items__"]}
        return {k: _decode(v, tensors) for k, v in obj.items()}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(type(obj).__name__)
