"""Run-directory locks: one writing process per run or data directory.

``run_lock(path)`` takes an exclusive ``fcntl.flock`` on ``<parent>/.<name>.lock`` (beside
the directory, so that a data directory can still be replaced by a rename) and writes the
holder's pid, command and start time into it. A second process is refused at once with a
``RunLocked`` error naming that pid. The kernel drops a flock when its process dies, however it
dies (kill -9 included), so a lock file left by a killed process is stale by construction:
the next process gets the lock and takes the file over (``RunLock.stale`` tells whose it was).
The lock is released when the ``with`` block ends (the file is removed), or at the latest
when the process exits. Removing a lock file is safe because a process that got the flock
checks that the path still names the inode it locked, and starts over when it does not.

Used by ``prepare`` (core/data/prepare.py) and by ``train_loop`` (train-baseline, finetune;
rank 0 only under torchrun).
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bertune_cli.core.errors import RunLocked


def lock_path(directory: str | Path) -> Path:
    """``runs/demo/baseline`` -> ``runs/demo/.baseline.lock``."""
    directory = Path(os.path.abspath(directory))
    return directory.parent / f".{directory.name}.lock"


class RunLock:
    """``with RunLock(path, "train-baseline"):`` — exclusive, non-blocking, released on exit."""

    def __init__(self, directory: str | Path, command: str | None = None):
        self.directory = Path(directory)
        self.path = lock_path(directory)
        self.command = command or " ".join(["bertune", *sys.argv[1:2]])
        self.fd: int | None = None
        self.stale: dict[str, Any] | None = None  # the holder record a killed process left
        self.created: list[Path] = []

    def acquire(self) -> "RunLock":
        import fcntl

        # Folders made for the lock file are removed again on release if still empty, so a
        # command that fails early leaves nothing behind.
        self.created = [a for a in (self.path.parent, *self.path.parent.parents) if not a.exists()][
            ::-1
        ]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                break
            if _same_file(fd, self.path):
                return self._take(fd)
            os.close(fd)  # the holder released and removed it meanwhile: lock the new file
        holder = _read(fd)
        os.close(fd)
        since = holder.get("since")
        raise RunLocked(
            f"{self.directory} is in use by another bertune process (pid "
            f"{holder.get('pid', '?')}, {holder.get('command', 'bertune')}"
            + (f", since {since}" if since else "")
            + ")",
            "wait for it to finish or stop it; two processes would write the same files "
            "(choose another --out / --runs-dir to run both)",
        )

    def _take(self, fd: int) -> "RunLock":
        previous = _read(fd)
        if previous.get("pid") not in (None, os.getpid()):
            self.stale = previous  # its process is gone: the kernel released its flock
        record = {
            "pid": os.getpid(),
            "command": self.command,
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        self.fd = fd
        atexit.register(self.release)  # a normal exit without release() still cleans up
        return self

    def release(self) -> None:
        import fcntl

        if self.fd is None:
            return
        atexit.unregister(self.release)
        try:
            if _same_file(self.fd, self.path):
                self.path.unlink()
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)
            self.fd = None
        for folder in reversed(self.created):
            try:
                folder.rmdir()
            except OSError:
                break  # not empty (the run wrote something): keep it and its parents

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def run_lock(directory: str | Path, command: str | None = None) -> RunLock:
    """A ``RunLock`` for ``directory`` (use it as a context manager)."""
    return RunLock(directory, command)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _read(fd: int) -> dict[str, Any]:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", errors="replace").strip()
        return json.loads(text) if text else {}
    except (OSError, ValueError):
        return {}
