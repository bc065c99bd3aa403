"""Checkpoint -> CTranslate2 folder (``bertune export --format ctranslate2``).

Layout of an export folder::

    model.bin  config.json                 CTranslate2's own files (weights, special tokens)
    source_vocabulary.json                 the source BPE pieces, in source-id order
    target_vocabulary.json                 the LM WordPieces, in model-id order (a shortlist
                                           model lists only its shortlist), so an output
                                           piece maps back to the model id, then the LM id
    source/                                the source tokenizer (as in a checkpoint)
    bertune.json                           the checkpoint's, plus ``export`` {format,
                                           quantization, signature, max_positions, ...}

``ct2-transformers-converter`` cannot convert a bertune checkpoint: it builds an
``AutoTokenizer`` from the ``MarianConfig`` and its Marian loader assumes OPUS-MT's layout (one
shared vocabulary with ``<pad>`` as the last row, which it deletes, and a decoder that starts
from a zero embedding with eos as the start token). bertune's Marian has separate source and
target vocabularies, pad = model id 0 on both sides, start = [CLS] (a trained embedding) and
end = [SEP]. So the spec comes from a subclass of CTranslate2's Marian loader that keeps every
row, leaves ``start_from_zero_embedding`` off and copies the sinusoidal table from the model
(Marian's layout: sines in the first half, cosines in the second, not interleaved); what the
loader takes from the model unchanged is the post-norm layout, ReLU, sqrt(d) embedding scale
and ``final_logits_bias``. Vocabularies and special tokens are set explicitly, and
CTranslate2's ``Converter`` validates, quantizes and saves the spec.

Writing is atomic: everything goes to a hidden sibling folder swapped into place at the end
(``outputs.AtomicFolder``). Everything about ``--out`` is checked before the conversion starts
(``check_export_out``): it must not overlap the checkpoint, must be writable, and an existing
non-empty folder is replaced only when it is a bertune export and ``force`` is given — a
folder of anything else is never emptied.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from bertune_cli.core.errors import CheckpointError, UsageError
from bertune_cli.core.io.outputs import AtomicFolder, check_output_dir

QUANTIZATIONS = ("float32", "int8", "int8_float32", "float16")
FORMAT = "ctranslate2"
META_FILE = "bertune.json"
CT2_CACHE = "ct2"


def require_ctranslate2():
    """The ctranslate2 module (MissingExtra naming the ct2 extra when it is not installed)."""
    from bertune_cli.core.system.extras import require

    return require("ctranslate2", "the ct2 engine (bertune export, --engine ct2)")


def is_export(path: Path) -> bool:
    path = Path(path)
    return (path / "model.bin").is_file() and (path / META_FILE).is_file()


def export_meta(path: Path) -> dict[str, Any]:
    """The bertune.json of an export folder, leniently: {} when it is missing, unreadable or
    not a JSON object (``read_export`` is the strict reader)."""
    from bertune_cli.core.model.checkpoint import read_json_object

    try:
        return read_json_object(Path(path) / META_FILE, "")
    except CheckpointError:
        return {}


def is_bertune_export(path: Path) -> bool:
    """``is_export`` and its bertune.json says so (a folder ``export --force`` may replace)."""
    if not is_export(path):
        return False
    export = export_meta(path).get("export")
    return isinstance(export, dict) and export.get("format") == FORMAT


def read_export(folder: Path):
    """``(meta, TargetVocab, SourceEncoder)`` of an export folder."""
    from bertune_cli.core.data.source import SourceEncoder
    from bertune_cli.core.model.checkpoint import read_json_object
    from bertune_cli.core.model.vocab import TargetVocab

    folder = Path(folder)
    meta = read_json_object(folder / META_FILE, "re-export the checkpoint with `bertune export`")
    export = meta.get("export")
    if not isinstance(export, dict) or export.get("format") != FORMAT:
        raise CheckpointError(
            f"{folder} is not a bertune CTranslate2 export",
            "write one with `bertune export --format ctranslate2`",
        )
    return meta, TargetVocab.from_dict(meta["target_vocab"]), SourceEncoder.load(folder / "source")


def export_ctranslate2(
    model: Path, out: Path, quantization: str = "float32", force: bool = False
) -> dict[str, Any]:
    """Convert the checkpoint of ``model`` (run or checkpoint folder) into ``out``.

    Returns the ``export`` record written to ``out/bertune.json`` (plus ``out``).
    """
    from bertune_cli.core.lm.model import load_tokenizer
    from bertune_cli.core.model.checkpoint import load_checkpoint

    src, out = check_export_out(model, out, quantization, force)
    ct2 = require_ctranslate2()
    loaded = load_checkpoint(src, "cpu")
    tokenizer = load_tokenizer(loaded.meta["lm"]["name"])
    spec = _spec(
        loaded.model,
        _source_pieces(loaded.source, loaded.model),
        _target_tokens(tokenizer, loaded.vocab),
        loaded.vocab,
    )
    record = {
        "format": FORMAT,
        "quantization": quantization,
        "ctranslate2_version": ct2.__version__,
        "checkpoint": str(src),
        "checkpoint_sha256": _sha256(src / "model.safetensors"),
        "max_positions": int(loaded.model.config.max_position_embeddings),
        "suppress_tokens": _target_tokens(
            tokenizer, loaded.vocab, ids=(loaded.model.generation_config.suppress_tokens or [])
        ),
    }
    record["signature"] = (
        f"ct2:{ct2.__version__}|quant:{quantization}|bertune:"
        f"{loaded.meta.get('bertune_version')}|"
        f"ckpt:{record['checkpoint_sha256'][:12]}"
    )
    try:
        with AtomicFolder(out, "CTranslate2 model") as tmp:
            _save_spec(spec, tmp, quantization)
            loaded.source.save(tmp / "source")
            meta = {**loaded.meta, "export": record}
            (tmp / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    except OSError as exc:
        raise CheckpointError(
            f"could not write {out} ({exc.strerror or exc.__class__.__name__})",
            "free disk space or pick another --out",
        ) from exc
    except (ValueError, RuntimeError, NotImplementedError, KeyError) as exc:
        raise CheckpointError(
            f"CTranslate2 cannot convert {src}: {exc}".splitlines()[0],
            "this model layout is not supported by the ct2 engine",
        ) from exc
    return {**record, "out": str(out)}


def cached_export(model: Path, quantization: str = "float32") -> Path:
    """The export of ``model`` under ``$BERTUNE_HOME/ct2/<key>`` (made on first use); the key
    covers the checkpoint's path, weights file (size, mtime), bertune.json and the settings."""
    from bertune_cli.core.io.paths import data_home
    from bertune_cli.core.model.checkpoint import resolve_checkpoint

    ct2 = require_ctranslate2()
    src = resolve_checkpoint(model).resolve()
    weights = (src / "model.safetensors").stat()
    key = hashlib.sha256(
        "\n".join(
            [
                str(src),
                str(weights.st_size),
                str(weights.st_mtime_ns),
                (src / META_FILE).read_text(encoding="utf-8"),
                quantization,
                ct2.__version__,
            ]
        ).encode()
    ).hexdigest()[:16]
    folder = data_home() / CT2_CACHE / key
    if not is_export(folder):
        export_ctranslate2(src, folder, quantization, force=True)
    return folder


def check_export_out(
    model: Path, out: Path, quantization: str = "float32", force: bool = False
) -> tuple[Path, Path]:
    """Everything an export can refuse before converting (usage errors, exit 2; an unwritable
    folder: OutputError): the quantization, the model (a checkpoint, not an export), ``out``.
    Returns (the checkpoint folder, ``out``)."""
    from bertune_cli.core.model.checkpoint import resolve_checkpoint

    if quantization not in QUANTIZATIONS:
        raise UsageError(
            f"unknown quantization {quantization[:40]!r}", f"use one of: {', '.join(QUANTIZATIONS)}"
        )
    if is_export(model):
        raise UsageError(
            f"{model} is already a CTranslate2 export",
            "pass the run directory or checkpoint it came from",
        )
    src, out = resolve_checkpoint(model), Path(out)
    src_r, out_r = src.resolve(), out.resolve()
    if out_r == src_r or out_r in src_r.parents or src_r in out_r.parents:
        raise UsageError(
            f"--out {out} overlaps the checkpoint {src}", "write the export to a folder of its own"
        )
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file", "pass a folder")
    if out.is_dir() and any(out.iterdir()):
        if not is_bertune_export(out):
            raise UsageError(
                f"--out {out} exists and is not a bertune export (no model.bin and "
                "bertune.json of one); refusing to replace it, even with --force",
                "pass a new or empty folder",
            )
        if not force:
            raise UsageError(
                f"--out {out} already holds an export",
                "pass --force to replace it, or another --out",
            )
    check_output_dir(out, "CTranslate2 model")
    return src, out


# ---------------------------------------------------------------------- internals


def _source_pieces(source, model) -> list[str]:
    """The source BPE pieces in id order (CTranslate2's source vocabulary)."""
    vocab = source.tokenizer.get_vocab(with_added_tokens=True)
    rows = int(model.config.vocab_size)
    if sorted(vocab.values()) != list(range(rows)):
        raise CheckpointError(
            f"the source tokenizer's ids are not 0..{rows - 1} (the encoder's embedding rows)",
            "the checkpoint is damaged",
        )
    pieces = [""] * rows
    for piece, i in vocab.items():
        pieces[i] = piece
    return pieces


def _target_tokens(tokenizer, vocab, ids=None) -> list[str]:
    """The LM's WordPiece strings of model ids ``ids`` (default: every model id, in order)."""
    import numpy as np

    model_ids = np.arange(len(vocab)) if ids is None else np.asarray(list(ids), dtype=np.int64)
    tokens = tokenizer.convert_ids_to_tokens(vocab.to_lm(model_ids).tolist())
    if ids is None and len(set(tokens)) != len(tokens):
        raise CheckpointError(
            f"LM {tokenizer.name_or_path!r} has duplicate token strings",
            "CTranslate2 needs one string per output id",
        )
    return tokens


def _spec(model, source_pieces: list[str], target_tokens: list[str], vocab):
    """The TransformerSpec of a bertune MarianMTModel (see the module docstring)."""
    import torch
    from ctranslate2.converters import transformers as hf

    class BertuneMarianLoader(hf.MarianMTLoader):
        def get_model_spec(self, model):
            model.config.normalize_before = False  # post-norm, as fairseq
            model.config.normalize_embedding = False
            return hf.BartLoader.get_model_spec(self, model)  # keeps every vocabulary row

        def set_decoder(self, spec, decoder):
            hf.BartLoader.set_decoder(self, spec, decoder)  # start from [CLS]'s embedding

        def set_position_encodings(self, spec, module):
            spec.encodings = module.create_weight()  # (max_positions, d): sin | cos halves

    with torch.no_grad():
        spec = BertuneMarianLoader().get_model_spec(model)
    spec.register_source_vocabulary(source_pieces)
    spec.register_target_vocabulary(target_tokens)
    spec.config.unk_token = target_tokens[vocab.unk_id]
    spec.config.bos_token = spec.config.decoder_start_token = target_tokens[vocab.bos_id]
    spec.config.eos_token = target_tokens[vocab.eos_id]
    return spec


def _save_spec(spec, folder: Path, quantization: str) -> None:
    """CTranslate2's ``Converter`` (validate, quantize, save) on a ready spec."""
    from ctranslate2.converters.converter import Converter

    class SpecConverter(Converter):
        def _load(self):
            return spec

    SpecConverter().convert(str(folder), quantization=quantization, force=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
