"""Translated files waiting to be downloaded (``POST /translate_file`` -> ``GET /download_file``).

One private temporary folder per app (``mkdtemp``, mode 0700), made on first use. A file is
stored under a random 128-bit token and listed in memory with its download name and expiry:
``GET /download_file/<token>.<name>`` serves it only if that exact name is listed (no path is
ever built from the request), so names cannot be guessed or walked. Files are deleted
``ttl_s`` seconds after they were made (swept on every store call and by the app's sweeper
task), the oldest first beyond ``max_files``, and the whole folder on shutdown.
"""

from __future__ import annotations

import collections
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(filename: str, default: str = "file.txt") -> str:
    """The last path part of a client's file name, reduced to ``[A-Za-z0-9._-]`` (at most 100
    characters, no leading dots): what the download is called."""
    base = re.split(r"[\\/]", filename or "")[-1]
    name = _UNSAFE.sub("_", base).lstrip("._")[-100:]
    return name or default


@dataclass(frozen=True)
class Stored:
    path: Path
    name: str  # the download's file name
    media_type: str
    expires: float  # time.monotonic()


class FileStore:
    def __init__(self, ttl_s: float, max_files: int = 256):
        self.ttl_s, self.max_files = float(ttl_s), int(max_files)
        self._files: collections.OrderedDict[str, Stored] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._folder: Path | None = None

    @property
    def folder(self) -> Path:
        with self._lock:
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="bertune-serve-files-"))
            return self._folder

    def put(self, data: bytes, name: str, media_type: str) -> str:
        """Store ``data``; returns its URL name, ``<token>.<name>``."""
        self.sweep()
        token = secrets.token_hex(16)
        path = self.folder / token
        path.write_bytes(data)
        url_name = f"{token}.{name}"
        with self._lock:
            self._files[url_name] = Stored(path, name, media_type, time.monotonic() + self.ttl_s)
            while len(self._files) > self.max_files:
                _, old = self._files.popitem(last=False)
                old.path.unlink(missing_ok=True)
        return url_name

    def get(self, url_name: str) -> Stored | None:
        self.sweep()
        with self._lock:
            stored = self._files.get(url_name)
        return stored if stored is not None and stored.path.is_file() else None

    def sweep(self) -> int:
        """Delete the expired files; returns how many."""
        now = time.monotonic()
        with self._lock:
            gone = [k for k, v in self._files.items() if v.expires <= now]
            for k in gone:
                self._files.pop(k).path.unlink(missing_ok=True)
        return len(gone)

    def close(self) -> None:
        """Delete every file and the folder (the app's shutdown)."""
        with self._lock:
            self._files.clear()
            folder, self._folder = self._folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def __len__(self) -> int:
        return len(self._files)
