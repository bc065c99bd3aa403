"""An opt-in, size-bounded disk cache of reference embeddings for F_BERT (``score --cache``).

Scoring many systems against one test set over several calls embeds the same references
every time; with a cache the first call stores them and later calls read them back. What is
stored per entry (one ``.npz`` file): the layer-L hidden states of a list of reference
sentences, (Σ T_i, D) float32, with their token ids (Σ T_i,) and lengths (n,).

* Key: sha256 of the LM fingerprint (name, path, config, weight files' size and mtime,
  layer, tokenizer class and vocabulary, bf16, torch and transformers versions, device type)
  and of the sentence texts, so a different LM, layer or tokenizer never collides. On a hit
  the stored token ids must equal the current ones, or the entry counts as a miss.
* Concurrent writers: an entry is written to a temporary file in the cache folder and
  ``os.replace``-d into place, so a reader sees a whole entry or none; two writers of the
  same key write the same bytes. Eviction takes an ``fcntl`` lock on ``.lock``.
* Size bound: after each write, least recently used entries (mtime, refreshed on every hit)
  are deleted until the folder is under ``max_mb``. An entry larger than the bound is not
  stored. A damaged or vanished entry is a miss (and is removed), never an error.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from bertune_cli.core.errors import DataError

FORMAT = "bertune-embcache-1"
STALE_TMP_S = 3600  # a temporary file this old belongs to a killed writer


class EmbeddingCache:
    """Reference-embedding cache in folder ``root``, at most ``max_mb`` MiB of entries."""

    def __init__(self, root: str | Path, max_mb: float = 1024.0):
        self.root = Path(root).expanduser()
        self.max_bytes = int(max_mb * 2**20)
        self.warnings: list[str] = []
        self.hits = self.misses = 0
        self._fingerprints: dict[int, str] = {}
        if max_mb <= 0:
            raise DataError(
                f"cache size {max_mb} MB must be positive", "pass --cache-size-mb N with N > 0"
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(
                f"cannot create the cache folder {self.root} ({exc.strerror})",
                "pass --cache with a writable folder",
            ) from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise DataError(
                f"the cache folder {self.root} is not writable",
                "pass --cache with a writable folder",
            )

    # ----------------------------------------------------------------- keys
    def fingerprint(self, lm, bf16: bool = False) -> str:
        """What identifies the embeddings an LM produces (see the module docstring)."""
        cached = self._fingerprints.get(id(lm))
        if cached is None:
            cached = _lm_fingerprint(lm)
            self._fingerprints[id(lm)] = cached
        return f"{cached}|bf16={bool(bf16)}"

    def key(self, lm, texts: Sequence[str], bf16: bool = False) -> str:
        """Entry name for the embeddings of ``texts`` (in this order) under ``lm``."""
        h = hashlib.sha256(f"{FORMAT}|{self.fingerprint(lm, bf16)}".encode())
        for t in texts:  # length-prefixed: no separator ambiguity
            b = t.encode("utf-8")
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
        return h.hexdigest()[:40]

    # ------------------------------------------------------------ get / put
    def get(self, key: str, ids: Sequence[Sequence[int]]) -> list[np.ndarray] | None:
        """The stored (T_i, D) arrays for ``key`` if present and its token ids equal ``ids``."""
        path = self.root / f"{key}.npz"
        try:
            with np.load(path, allow_pickle=False) as z:
                emb, lengths, stored = z["emb"], z["lengths"], z["ids"]
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # damaged
            self.warnings.append(
                f"cache entry {path.name} is unreadable ({exc.__class__.__name__}); recomputed"
            )
            _unlink(path)
            self.misses += 1
            return None
        flat = np.fromiter((t for s in ids for t in s), np.int64)
        if (
            len(lengths) != len(ids)
            or not np.array_equal(lengths, [len(s) for s in ids])
            or not np.array_equal(stored, flat)
            or emb.shape[0] != len(flat)
        ):
            self.misses += 1
            return None
        try:
            os.utime(path)  # LRU: a hit makes the entry recent
        except OSError:
            pass
        self.hits += 1
        return np.split(emb, np.cumsum(lengths)[:-1])

    def put(self, key: str, ids: Sequence[Sequence[int]], arrays: Sequence[np.ndarray]) -> bool:
        """Store the (T_i, D) float32 ``arrays`` of sentences with token ids ``ids``.
        Returns False (with a warning) when it could not, which never fails the scoring."""
        emb = np.concatenate([np.asarray(a, np.float32) for a in arrays])
        if emb.nbytes > self.max_bytes:
            self.warnings.append(
                f"reference embeddings ({emb.nbytes / 2**20:.0f} MiB) exceed "
                f"the cache bound ({self.max_bytes / 2**20:.0f} MiB); "
                "not cached (raise --cache-size-mb)"
            )
            return False
        lengths = np.array([len(s) for s in ids], np.int64)
        flat = np.fromiter((t for s in ids for t in s), np.int64)
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".npz")
            with os.fdopen(fd, "wb") as f:
                np.savez(f, emb=emb, lengths=lengths, ids=flat)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.root / f"{key}.npz")  # atomic: whole entry or none
            tmp = None
        except OSError as exc:
            self.warnings.append(
                f"could not write to the cache {self.root} ({exc.strerror}); scores are unaffected"
            )
            return False
        finally:
            if tmp is not None:
                _unlink(Path(tmp))
        self.evict()
        return True

    # ------------------------------------------------------------- eviction
    def size_bytes(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def evict(self) -> None:
        """Delete least recently used entries until the folder is within the bound."""
        import fcntl

        with open(self.root / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one evicting process at a time
            now = time.time()
            for tmp in self.root.glob(".tmp-*"):
                try:
                    if now - tmp.stat().st_mtime > STALE_TMP_S:
                        _unlink(tmp)
                except OSError:
                    pass
            entries = sorted(self._entries(), key=lambda e: e[2])  # oldest first
            total = sum(size for _, size, _ in entries)
            for path, size, _ in entries:
                if total <= self.max_bytes:
                    break
                _unlink(path)
                total -= size

    def _entries(self) -> list[tuple[Path, int, float]]:
        out = []
        for path in self.root.glob("*.npz"):
            try:
                st = path.stat()
            except OSError:  # removed meanwhile by another process
                continue
            out.append((path, st.st_size, st.st_mtime))
        return out


def _lm_fingerprint(lm) -> str:
    """LM name/path, config, weight files (size, mtime), layer, tokenizer, library versions."""
    import torch
    import transformers

    parts = [
        f"name={lm.name}",
        f"path={lm.path}",
        f"layer={lm.layer}",
        f"config={lm.model.config.to_json_string(use_diff=False)}",
        f"torch={torch.__version__}",
        f"transformers={transformers.__version__}",
        f"device={next(lm.model.parameters()).device.type}",
    ]
    folder = Path(lm.path)
    if folder.is_dir():
        for f in sorted(folder.iterdir()):
            if f.suffix in (".safetensors", ".bin", ".pt", ".h5", ".msgpack"):
                st = f.stat()
                parts.append(f"weights={f.name}:{st.st_size}:{st.st_mtime_ns}")
    tok = lm.tokenizer
    vocab = hashlib.sha256(
        tok.backend_tokenizer.to_str().encode()
        if hasattr(tok, "backend_tokenizer")
        else repr(sorted(tok.get_vocab().items())).encode()
    ).hexdigest()
    parts.append(f"tokenizer={type(tok).__name__}:{vocab}:{tok.model_max_length}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
