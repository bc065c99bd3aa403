"""Raw inputs: where a file is, getting it (URL downloads), and reading it as UTF-8 lines.

- ``locate`` resolves a recipe location against ``data.root`` or a ``--data-dir`` folder.
- ``fetch`` downloads a URL into the data home (``$BERTUNE_HOME/downloads``) with resume
  (HTTP Range on the ``.part`` file), a progress callback, a truncation check against
  Content-Length and an optional sha256; a finished download is reused (cache).
- ``read_lines`` (from ``lines``, the one line reader shared with ``score``) reads a plain or
  gzip file strictly as UTF-8 and names the bad line and column.

Progress callbacks have the signature ``progress(step, done, total)`` (total may be None); they
never affect results, so the core stays free of any UI library.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import urlsplit

from bertune_cli.core.errors import DownloadError

# re-exported: the readers and the path check live in core/io/lines.py
from bertune_cli.core.io.lines import (  # noqa: F401
    RECIPE_PATH_HINT,
    decode_lines,
    iter_raw_lines,
    read_lines,
    require_file,
)
from bertune_cli.core.io.paths import data_home

Progress = Callable[[str, int, Optional[int]], None]
CHUNK = 1 << 20


def quiet(step: str, done: int, total: int | None) -> None:
    """The default progress callback: does nothing."""


def is_url(location: str) -> bool:
    return urlsplit(str(location)).scheme in ("http", "https", "ftp")


def basename(location: str) -> str:
    """File name of a path or URL (``.../raw/train.de.gz`` -> ``train.de.gz``)."""
    return Path(urlsplit(str(location)).path if is_url(location) else str(location)).name


def locate(location: str, root: str | None = None, data_dir: Path | None = None) -> str:
    """Where an input is: a URL or a local path (not checked here).

    With ``data_dir`` (the ``--data-dir`` option) every input is looked for in that folder by
    its file name (a relative path is kept relative to it); otherwise relative locations are
    joined to ``root`` (a folder or a URL) when the recipe gives one.
    """
    location = str(location)
    if data_dir is not None:
        rel = basename(location) if is_url(location) or Path(location).is_absolute() else location
        return str(Path(data_dir).expanduser() / rel)
    if is_url(location) or Path(location).expanduser().is_absolute() or not root:
        return str(Path(location).expanduser()) if not is_url(location) else location
    if is_url(root):
        return root.rstrip("/") + "/" + location.lstrip("/")
    return str(Path(root).expanduser() / location)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


_SPACE = re.compile(r"\s+")


def normalize_space(line: str) -> str:
    """Collapse every run of (Unicode) whitespace to one space and strip the ends, so a line
    can never break the one-pair-per-line text files of the data directory."""
    return _SPACE.sub(" ", line).strip()


# ----------------------------------------------------------------------------- downloads


def cache_path(url: str, cache_dir: Path | None = None) -> Path:
    """Where ``url`` is kept: ``<data home>/downloads/<url hash>-<file name>``."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", basename(url)) or "download"
    key = hashlib.sha256(url.encode()).hexdigest()[:10]
    return (cache_dir or data_home() / "downloads") / f"{key}-{name}"


def fetch(
    url: str,
    sha256: str | None = None,
    progress: Progress = quiet,
    cache_dir: Path | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` once (resuming a partial download) and return the cached file.

    Raises DownloadError when the server or network fails, when fewer bytes arrive than the
    server announced (the partial file is kept: re-running resumes it) and when the sha256 does
    not match (the bad file is deleted).
    """
    target = cache_path(url, cache_dir)
    if target.is_file():
        if not sha256 or sha256_file(target) == sha256.lower():
            return target
        target.unlink()  # a cached file that fails its checksum is downloaded again
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    _download(url, part, progress, timeout)
    if sha256:
        got = sha256_file(part)
        if got != sha256.lower():
            part.unlink()
            raise DownloadError(
                f"checksum mismatch for {url}: expected sha256 {sha256}, got {got}",
                "the file changed upstream or was corrupted; check data.sha256",
            )
    os.replace(part, target)
    return target


def _download(url: str, part: Path, progress: Progress, timeout: float) -> None:
    import http.client
    import urllib.error
    import urllib.request

    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "bertune"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    step = f"download {basename(url)}"
    try:
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            if exc.code != 416 or not have:  # 416: the .part is not a prefix any more
                raise
            part.unlink()
            return _download(url, part, progress, timeout)
        with response:
            if have and response.status != 206:  # server ignored Range: start over
                have = 0
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else None
            done = have
            with open(part, "ab" if have else "wb") as f:
                progress(step, done, total)
                while block := response.read(CHUNK):
                    f.write(block)
                    done += len(block)
                    progress(step, done, total)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(f"download of {url} failed ({reason})", _offline_hint(url)) from exc
    if total is not None and done < total:
        raise DownloadError(
            f"download of {url} truncated: got {done} of {total} bytes",
            "re-run the same command to resume it, or " + _offline_hint(url),
        )


def _offline_hint(url: str) -> str:
    return (
        f"download {url} yourself and pass its folder with --data-dir DIR (bertune looks "
        f"for {basename(url)} there), or point the recipe at the local file"
    )
