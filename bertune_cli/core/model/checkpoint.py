"""Checkpoints: ``save_pretrained`` folders plus what bertune needs to rebuild every stage.

Layout of a checkpoint folder (e.g. ``runs/demo/baseline/checkpoint_best``)::

    config.json  generation_config.json  model.safetensors   plain MarianMTModel.from_pretrained
    tokenizer.json  tokenizer_config.json  target/           plain AutoTokenizer.from_pretrained:
                        the source tokenizer; target/ the target one (core/model/hf_tokenizers.py)
    bertune.json        {format, bertune_version, config (resolved recipe), lm {name, layer},
                         target_vocab {kind, size, lm_ids, lm_specials}, data {fingerprint, path},
                         training {...}}
    source/             the source tokenizer (SourceEncoder.save)
    trainer_state.json + trainer_state.safetensors
                        checkpoint_last only: optimizer, schedule position, RNG, data position
                        (no pickle: core/model/trainer_state.py)

Saving is atomic, through ``outputs.AtomicFolder`` like every folder bertune writes: everything
is written to a hidden sibling ``.<name>.<pid>-<random>.tmp``, verified, then swapped into
place (the old folder set aside, the new one renamed in, the old one removed). A failure while
writing (disk full, ...) removes the temporary folder and leaves the previous checkpoint
untouched; a crash between the two renames is repaired by the next load or save (the folder
set aside is moved back; also ``.<name>.old``, the name older bertune versions used).
Files get the umask's permissions like any other file (safetensors writes its files 0600).

Integrity: ``verify_weights`` checks ``model.safetensors`` against its own header (the header
length fits, the header is JSON, the file size is exactly header + tensor bytes). It runs after
every save (before the new folder replaces the old one) and before every load, so a truncated
or overwritten file is one CheckpointError naming the file and the sibling checkpoint
(checkpoint_last / checkpoint_best) that is intact, instead of a safetensors traceback.
"""

from __future__ import annotations

import errno
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from bertune_cli.core.config.input import shown
from bertune_cli.core.errors import CheckpointError, CheckpointNotFound, OutputError
from bertune_cli.core.model.trainer_state import dump_state, load_state
from bertune_cli.core.model.vocab import TargetVocab

META_FILE = "bertune.json"
WEIGHTS = "model.safetensors"
SOURCE_DIR = "source"
FORMAT = 1
BEST, LAST = "checkpoint_best", "checkpoint_last"


class Loaded(NamedTuple):
    model: Any  # MarianMTModel (eval mode)
    meta: dict[str, Any]  # bertune.json
    vocab: TargetVocab
    source: Any  # SourceEncoder


def save_checkpoint(
    path: Path,
    model,
    *,
    vocab: TargetVocab,
    source,
    meta: dict[str, Any],
    trainer_state: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` (+ ``bertune.json`` from ``meta``, the source tokenizer and optionally
    the trainer state) to ``path`` atomically. ``meta`` holds at least config, lm and data."""
    from bertune_cli import __version__
    from bertune_cli.core.io.outputs import AtomicFolder

    path = Path(path)
    _recover(path)
    full_meta = {
        "format": FORMAT,
        "bertune_version": __version__,
        **meta,
        "target_vocab": vocab.to_dict(),
    }
    try:
        with AtomicFolder(path, "checkpoint") as tmp:
            _write_checkpoint(tmp, model, source, full_meta, trainer_state)
            problem = _weights_problem(tmp / WEIGHTS)
            if problem:
                raise OSError(errno.EIO, f"the written {WEIGHTS} is {problem}")
    except (OSError, OutputError) as exc:
        cause = exc.__cause__ if isinstance(exc, OutputError) else exc
        why = getattr(cause, "strerror", None) or str(cause or exc) or exc.__class__.__name__
        raise CheckpointError(
            f"could not save checkpoint {path} ({why}); the previous checkpoint there is intact",
            "free disk space (or use --out on another disk) and re-run the same command to "
            "resume from it",
        ) from exc
    return path


def _write_checkpoint(
    folder: Path, model, source, meta: dict[str, Any], trainer_state: dict[str, Any] | None
) -> None:
    """Everything that touches the disk (tests replace it to simulate a full disk)."""
    from bertune_cli.core.io.outputs import use_umask

    with quiet_transformers():
        model.save_pretrained(folder)
    source.save(folder / SOURCE_DIR)
    from bertune_cli.core.model.hf_tokenizers import write_hf_tokenizers  # AutoTokenizer files

    write_hf_tokenizers(
        folder, source, meta, getattr(model.config, "max_position_embeddings", None)
    )
    if trainer_state is not None:
        dump_state(trainer_state, folder)
    for written in folder.glob("*.safetensors"):
        use_umask(written)
    # bertune.json last: a folder with it is complete.
    (folder / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")


def resolve_checkpoint(path: Path) -> Path:
    """A checkpoint folder as is; a run folder -> its ``checkpoint_best`` (else ``_last``)."""
    path = Path(path)
    _recover(path)
    if not path.exists():
        raise CheckpointNotFound(
            f"no checkpoint or run directory at {path}",
            "pass a run directory such as runs/demo/baseline or one of its "
            "checkpoint_best / checkpoint_last folders",
        )
    for candidate in (path, path / BEST, path / LAST):
        _recover(candidate)  # finish an interrupted swap
        if (candidate / META_FILE).is_file():
            return candidate
    if (path / "config.json").is_file():
        raise CheckpointNotFound(
            f"{path} is a transformers model but not a bertune checkpoint (no {META_FILE})",
            "pass a folder written by bertune",
        )
    raise CheckpointNotFound(
        f"{path} holds no bertune checkpoint (no {META_FILE}, no {BEST}/)",
        "train one with `bertune train-baseline`, or check the path",
    )


def read_json_object(file: Path, remedy: str) -> dict[str, Any]:
    """The JSON object in ``file`` (a ``bertune.json``): CheckpointError with ``remedy`` when
    the file is missing, unreadable, not JSON or not an object."""
    try:
        meta = json.loads(Path(file).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON or UTF-8
        raise CheckpointError(f"{file} is unreadable ({exc.__class__.__name__})", remedy) from exc
    if not isinstance(meta, dict):
        raise CheckpointError(f"{file} is not a JSON object", remedy)
    return meta


def read_meta(path: Path) -> dict[str, Any]:
    path = resolve_checkpoint(path)
    meta = read_json_object(path / META_FILE, "the checkpoint is damaged; use another one")
    if meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} has checkpoint format {shown(meta.get('format'))}; "
            f"this bertune reads format {FORMAT}",
            "use a matching bertune",
        )
    return meta


def model_config(path: Path) -> dict[str, Any]:
    """The transformers ``config.json`` of a checkpoint or run folder (layers, sizes), read
    without loading the model ({} when there is none, e.g. a CTranslate2 export)."""
    file = resolve_checkpoint(path) / "config.json"
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{file} is unreadable ({exc.__class__.__name__})",
            "the checkpoint is damaged; use another one",
        ) from exc
    return config if isinstance(config, dict) else {}


def load_checkpoint(path: Path, device: str = "cpu") -> Loaded:
    """(model in eval mode on ``device``, meta, TargetVocab, SourceEncoder) from a checkpoint
    or run folder."""
    from transformers import MarianMTModel

    from bertune_cli.core.data.source import SourceEncoder

    path = resolve_checkpoint(path)
    meta = read_meta(path)
    verify_weights(path)
    vocab = TargetVocab.from_dict(meta.get("target_vocab", {}))
    try:
        with quiet_transformers():
            model = MarianMTModel.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"cannot load the model weights in {path} ({exc.__class__.__name__})",
            "the checkpoint is incomplete or damaged",
        ) from exc
    if model.config.decoder_vocab_size != len(vocab):
        raise CheckpointError(
            f"{path}: the model predicts {model.config.decoder_vocab_size} ids "
            f"but its target vocabulary has {len(vocab)}",
            "the checkpoint is damaged",
        )
    freeze_positions(model)
    source = SourceEncoder.load(path / SOURCE_DIR)
    return Loaded(model.to(device).eval(), meta, vocab, source)


def freeze_positions(model) -> None:
    """The sinusoidal position tables are fixed, as in a freshly built model: transformers
    (5.x) loads them with ``requires_grad=True``, and they are never saved, so training them
    would change the model that validation sees but not the one the checkpoint keeps."""
    for name, module in model.named_modules():
        if name.endswith("embed_positions"):
            module.requires_grad_(False)


def load_weights(model, path: Path) -> None:
    """Copy the weights of checkpoint ``path`` into ``model`` (same architecture)."""
    from safetensors.torch import load_file

    verify_weights(path)
    state = load_file(str(Path(path) / WEIGHTS))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if "embed_positions" not in k]  # recomputed, never saved
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not match the model (missing {missing[:3]}, unexpected {unexpected[:3]})",
            "the run directory holds another model; use --out for a new run",
        )


def verify_weights(path: Path) -> None:
    """CheckpointError when ``path/model.safetensors`` is missing, truncated or not safetensors;
    the message names the file and says which sibling checkpoint is intact."""
    path = Path(path)
    problem = _weights_problem(path / WEIGHTS)
    if not problem:
        return
    others = [path.parent / name for name in (LAST, BEST) if name != path.name]
    intact = [o for o in others if (o / META_FILE).is_file() and not _weights_problem(o / WEIGHTS)]
    hint = (
        f"{intact[0].name} is intact: use {intact[0]} (e.g. --model / --from it), or retrain"
        if intact
        else "no other checkpoint of this run is intact; retrain (or restore the "
        "file from a backup)"
    )
    raise CheckpointError(f"checkpoint {path} is corrupt: {path / WEIGHTS} is {problem}", hint)


def _weights_problem(file: Path) -> str | None:
    """Why ``file`` is not a complete safetensors file (None: it is).

    Layout: 8-byte little-endian header length N, N bytes of JSON header mapping each tensor
    to ``data_offsets`` [begin, end) in the data section that follows; the file must end exactly
    where the last tensor ends.
    """
    try:
        size = file.stat().st_size
        with open(file, "rb") as f:
            head = f.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else -1
            if n < 2 or 8 + n > size:
                return f"truncated or not a safetensors file ({size} bytes)"
            header = json.loads(f.read(n).decode("utf-8"))
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc.__class__.__name__})"
    except (UnicodeDecodeError, ValueError):
        return "not a safetensors file (its header is not JSON)"
    if not isinstance(header, dict):
        return "not a safetensors file (its header is not a mapping)"
    try:
        end = max(
            (int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0
        )
    except (KeyError, TypeError, ValueError, IndexError):
        return "not a safetensors file (bad tensor entries)"
    if size != 8 + n + end:
        return f"truncated ({size} bytes, its header describes {8 + n + end})"
    return None


def load_trainer_state(path: Path) -> dict[str, Any] | None:
    """The resume state of checkpoint ``path`` (None: it has none). JSON + safetensors only."""
    return load_state(Path(path))


def check_data_compatible(
    meta: dict[str, Any],
    data_lm: str,
    data_fingerprint: str | None = None,
    where: str = "the data directory",
) -> None:
    """A checkpoint only fits data tokenized for its LM (its decoder vocabulary)."""
    ckpt_lm = meta.get("lm", {}).get("name")
    if ckpt_lm != data_lm:
        raise CheckpointError(
            f"{where} was prepared for LM {data_lm!r} but the checkpoint's "
            f"decoder vocabulary is that of {ckpt_lm!r}",
            "prepare the data with the checkpoint's LM (same recipe), or train "
            "a new baseline on this data",
        )
    fp = meta.get("data", {}).get("fingerprint")
    if data_fingerprint is not None and fp and fp != data_fingerprint:
        raise CheckpointError(
            f"{where} (fingerprint {data_fingerprint}) is not the data the "
            f"checkpoint was trained on ({fp})",
            "use the data directory the checkpoint was trained on, or --out for a new run",
        )


@contextmanager
def quiet_transformers():
    """No tqdm bars from transformers while saving/loading (the CLI draws its own)."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


def _recover(path: Path) -> None:
    """Finish an interrupted swap: ``<name>`` is missing and its old folder is still set aside
    (``outputs.recover``; ``.<name>.old`` of older bertune versions too)."""
    from bertune_cli.core.io.outputs import recover

    legacy = path.with_name(f".{path.name}.old")
    if legacy.is_dir() and not path.exists():
        os.replace(legacy, path)
    recover(path)
