"""Output paths: checked before the work, written atomically, failures as one-line errors.

Every file or folder a command writes goes through here (``translate -o``, ``score
--sentence-level``, ``prepare --out``, ``report``, ``export``, and every file of a run folder:
``config.yaml``, ``metrics.jsonl`` rewritten on resume, ``valid.hyp.txt``, ``test.hyp.txt``,
``test_comparison.json``, ``DONE``, the checkpoint folders), so the rule is the same everywhere:

* ``check_output(path)`` / ``check_output_dir(path)`` run *before* the expensive work: no
  ancestor is a file, and a probe file can be created in the nearest existing ancestor
  (``os.access`` says yes to root on read-only mounts such as /sys, a probe does not).
  Nothing is created yet: a command that fails later leaves no empty folders behind; the
  writer creates the missing parent folders.
* ``AtomicFile(path)`` writes to ``.<name>.<pid>-<random>.tmp`` beside the target and renames
  it into place on success (the random part: two threads of one process, e.g. a server's
  workers writing the same plot, never share a temporary file); on failure the temporary
  file is removed and the old target is untouched.
  Targets that exist and are not regular files (``/dev/stdout``, ``/dev/full``, a FIFO) are
  written in place: a device cannot be replaced by a rename.
* ``AtomicFolder(path)`` is its twin for folders (``prepare``'s data directory, ``report``,
  ``export``): built in ``.<name>.<pid>-<random>.tmp``, swapped into place at the end, removed
  on failure; build folders left by a killed process are removed by the next build, and a
  folder set aside by a process killed between the two renames of its swap is put back
  (``recover``) before anything else looks at the target.
* An ``OSError`` (ENOSPC, EACCES, EROFS, ENOTDIR, ...) becomes an ``OutputError``:
  ``cannot write <what> <path>: <reason>``, exit 1, no traceback.
"""

from __future__ import annotations

import errno
import glob
import os
import re
import secrets
import shutil
import stat
from pathlib import Path
from typing import Any, Iterable

from bertune_cli.core.errors import OutputError, UsageError

# errno values an output write reports (mapped to OutputError even when raised by f.write()
# inside the ``with`` body); other OSErrors in the body are not ours and propagate as is.
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}
REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOTDIR: "a parent is not a directory",
    errno.EISDIR: "it is a directory",
    errno.EFBIG: "file too large",
}


def output_error(exc: OSError, path: Path, what: str = "output") -> OutputError:
    """The one-line error for an OSError while creating or writing ``path``."""
    reason = REASONS.get(exc.errno) or exc.strerror or exc.__class__.__name__
    hint = (
        "free disk space or choose another path"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT)
        else "choose a path in a folder you can write"
    )
    return OutputError(f"cannot write {what} {path}: {reason}", hint)


def is_special(path: Path) -> bool:
    """An existing target that is not a regular file or folder (device, FIFO, socket)."""
    return path.exists() and not path.is_file() and not path.is_dir()


def check_output(
    path: str | Path, what: str = "output", suffixes: Iterable[str] | None = None
) -> Path:
    """Check up front that the file ``path`` can be written (creating its parent folders).

    ``suffixes``: the extensions the writer knows (e.g. ``(".tsv", ".jsonl")``); another one is
    a UsageError (exit 2) rather than a file in a format nobody asked for.
    """
    path = Path(path).expanduser()
    known = tuple(suffixes or ())
    if known and path.suffix.lower() not in known and not is_special(path):
        kind = path.suffix or "a file without an extension"
        raise UsageError(
            f"{what} {path}: cannot write {kind}", f"use a name ending in {' or '.join(known)}"
        )
    if path.is_dir():
        raise OutputError(f"cannot write {what} {path}: it is a directory", "pass a file path")
    if not is_special(path):
        _check_folder(path.parent, path, what)
    return path


def check_output_dir(path: str | Path, what: str = "output folder") -> Path:
    """Check up front that the folder ``path`` can be created or replaced (atomic writers
    build it beside itself, in its parent, and rename it into place)."""
    path = Path(path).expanduser()
    try:
        mode = path.stat().st_mode  # one stat: another build may move the folder meanwhile
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    if mode is not None and not stat.S_ISDIR(mode):
        raise OutputError(
            f"cannot write {what} {path}: it is a file, not a folder", "pass a folder path"
        )
    _check_folder(path.parent, path, what)
    return path


def _check_folder(folder: Path, target: Path, what: str) -> None:
    folder = Path(os.path.abspath(folder))
    first = next((a for a in (folder, *folder.parents) if a.exists()), Path("/"))
    if not first.is_dir():
        raise OutputError(
            f"cannot write {what} {target}: {first} is a file, not a folder",
            "choose a path whose parent folders are folders",
        )
    try:
        probe = first / _sibling_name(target, "probe")
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.unlink(probe)
    except OSError as exc:
        raise output_error(exc, target, what) from exc


def _sibling_name(target: Path, kind: str) -> str:
    """A hidden name beside ``target`` that no other process *or thread* uses at the same time."""
    return f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.{kind}"


def use_umask(path: str | Path) -> None:
    """Give a file the permissions a plain ``open()`` would (0666 less the umask): writers that
    create files 0600 (safetensors) would otherwise make one file of a folder private."""
    os.chmod(path, 0o666 & ~_umask())


def _umask() -> int:
    try:  # Linux: read it without changing it (os.umask sets it, racing other threads)
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str, what: str = "output") -> None:
    """``path`` holds ``text`` afterwards, or is unchanged (``AtomicFile``)."""
    with AtomicFile(path, what) as f:
        f.write(text)


class AtomicFile:
    """``with AtomicFile(path) as f: f.write(...)``: temp name + rename, errors mapped.

    The path is checked when the object is made (``check_output``), so create it before the
    expensive work and enter it when writing. ``mode``/``encoding``/``newline`` go to open().
    """

    def __init__(
        self,
        path: str | Path,
        what: str = "output",
        *,
        mode: str = "w",
        encoding: str | None = "utf-8",
        newline: str | None = None,
        suffixes: Iterable[str] | None = None,
    ):
        self.path = check_output(path, what, suffixes)
        self.what = what
        self.special = is_special(self.path)
        self.tmp = (
            self.path if self.special else self.path.with_name(_sibling_name(self.path, "tmp"))
        )
        self.open_args: dict[str, Any] = dict(
            mode=mode, newline=newline, encoding=None if "b" in mode else encoding
        )
        self.file = None

    def __enter__(self):
        try:
            if not self.special:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(self.tmp, **self.open_args)
        except OSError as exc:
            raise output_error(exc, self.path, self.what) from exc
        return self.file

    def __exit__(self, exc_type, exc, tb) -> None:
        _finish(self.path, self.what, exc, self._commit, self._discard)

    def _commit(self) -> None:
        self.file.close()  # flushes: a full disk shows up here
        if not self.special:
            os.replace(self.tmp, self.path)

    def _discard(self) -> None:
        _close_quietly(self.file)
        if not self.special:
            self.tmp.unlink(missing_ok=True)


def _finish(path: Path, what: str, exc: BaseException | None, commit, discard) -> None:
    """The end of an atomic write: ``commit()`` when the body succeeded, else ``discard()``
    (also when the commit fails); OSErrors of the commit, and write errors (WRITE_ERRNOS) that
    ended the body, become one OutputError naming ``path``."""
    committed = False
    try:
        if exc is None:
            commit()
            committed = True
    except OSError as err:
        raise output_error(err, path, what) from err
    finally:
        if not committed:
            discard()
    if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
        raise output_error(exc, path, what) from exc


def _close_quietly(file) -> None:
    try:
        file.close()
    except OSError:
        pass  # the buffered bytes that failed to write fail again on close


SWAP_ATTEMPTS = 100  # builds of one target publishing at the same moment (AtomicFolder._swap)


class AtomicFolder:
    """``with AtomicFolder(path) as tmp: <write into tmp>``: the folder twin of AtomicFile.

    Entering makes a new hidden sibling ``.<name>.<pid>-<random>.tmp`` with ``mkdir`` (the
    umask's permissions, like any folder the user makes; a new name per build, so two builds of
    one target, in two processes or two threads, never share or delete each other's folder).
    On success the old folder, if any, is renamed to a fresh ``.old`` sibling, the build folder
    is renamed into place and the old one removed: ``path`` is always either the old or the
    complete new folder. On failure the build folder is removed and ``path`` is untouched.
    Build folders of a process that is gone (killed mid-build) are removed when entering.
    """

    def __init__(self, path: str | Path, what: str = "output folder"):
        self.path = check_output_dir(path, what)
        self.what = what
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            recover(self.path)
            _remove_stale_siblings(self.path)
            self.tmp = _new_sibling_dir(self.path, "tmp")
        except OSError as exc:
            raise output_error(exc, self.path, self.what) from exc
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        _finish(
            self.path,
            self.what,
            exc,
            self._swap,
            lambda: shutil.rmtree(self.tmp, ignore_errors=True),
        )

    def _swap(self) -> None:
        """Old folder aside, new one in, old one removed. Builds of one target publishing at
        once race here: the old folder may be gone when it is set aside (another build set it
        aside first), and the rename onto the target fails with ENOTEMPTY/EEXIST when another
        build published meanwhile; then that one is set aside and the rename tried again."""
        olds: list[Path] = []
        try:
            for attempt in range(SWAP_ATTEMPTS):
                if self.path.exists():
                    olds.append(_new_sibling_dir(self.path, "old"))  # empty: a folder replaces it
                    try:
                        os.replace(self.path, olds[-1])
                    except FileNotFoundError:
                        pass
                try:
                    os.replace(self.tmp, self.path)
                    return
                except OSError as exc:
                    if (
                        exc.errno not in (errno.ENOTEMPTY, errno.EEXIST)
                        or attempt == SWAP_ATTEMPTS - 1
                    ):
                        raise
        finally:
            for old in olds:
                shutil.rmtree(old, ignore_errors=True)


def _new_sibling_dir(target: Path, kind: str) -> Path:
    folder = target.parent / _sibling_name(target, kind)
    folder.mkdir()
    return folder


def _sibling_pattern(target: Path) -> re.Pattern:
    return re.compile(rf"\.{re.escape(target.name)}\.(\d+)-[0-9a-f]+\.(tmp|old)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive but not ours (PermissionError), or unknown
        return True
    return True


def recover(target: str | Path) -> None:
    """Finish a swap that a killed process left half done: ``target`` is missing and its old
    folder still sits aside as ``.<name>.<pid>-<random>.old`` (the process is gone): put the
    newest such folder back. A live process's swap is left alone (it completes itself)."""
    target = Path(target)
    if target.exists() or not target.parent.is_dir():
        return
    pattern = _sibling_pattern(target)
    olds = []
    for path in target.parent.glob(f".{glob.escape(target.name)}.*.old"):
        match = pattern.fullmatch(path.name)
        if match and path.is_dir() and not path.is_symlink() and not _alive(int(match[1])):
            olds.append((path.stat().st_mtime_ns, path))
    for _, old in sorted(olds, reverse=True)[:1]:
        try:
            os.rename(old, target)
        except OSError:  # another process recovered it first
            pass


def _remove_stale_siblings(target: Path) -> None:
    """Remove the ``.<name>.<pid>-<random>.tmp/.old`` siblings of ``target`` whose process is
    gone (a build killed mid-way); those of live processes are left alone."""
    pattern = _sibling_pattern(target)
    for path in target.parent.glob(f".{glob.escape(target.name)}.*"):
        match = pattern.fullmatch(path.name)
        if not match or _alive(int(match.group(1))):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
