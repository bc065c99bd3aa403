"""outputs.AtomicFolder: the folder twin of AtomicFile that prepare's data directory, report and
export write through. One private build folder per build (processes and threads), the old
folder untouched on failure, build folders of killed processes removed by the next build."""
from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import threading

import pytest

from bertune_cli.core.errors import OutputError
from bertune_cli.core.io.outputs import AtomicFolder


def _hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_each_build_gets_its_own_hidden_folder_with_mkdir_permissions(tmp_path):
    out = tmp_path / "report"
    with AtomicFolder(out) as a, AtomicFolder(out) as b:
        assert a != b and a.parent == b.parent == tmp_path
        assert a.name.startswith(f".report.{os.getpid()}-") and a.name.endswith(".tmp")
        assert not any(a.iterdir())
        umask = os.umask(0)
        os.umask(umask)
        assert stat.S_IMODE(a.stat().st_mode) == 0o777 & ~umask
        (a / "report.json").write_text("a")
        (b / "report.json").write_text("b")
    # b (entered last) is published first, then a replaces it whole
    assert (out / "report.json").read_text() == "a"
    assert _hidden(tmp_path) == []


def test_success_replaces_the_old_folder_whole(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "old-only.txt").write_text("old")
    with AtomicFolder(out) as tmp:
        (tmp / "new.txt").write_text("new")
        assert (out / "old-only.txt").is_file()          # untouched while building
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_a_failed_build_keeps_the_old_folder_and_leaves_nothing(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    with pytest.raises(RuntimeError, match="killed mid-build"):
        with AtomicFolder(out) as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("killed mid-build")
    assert (out / "keep.txt").read_text() == "old" and not (out / "half.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_a_full_disk_in_the_body_is_one_output_error(tmp_path):
    with pytest.raises(OutputError, match="cannot write export .*: no space left on device"):
        with AtomicFolder(tmp_path / "ct2", "export"):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_a_target_that_is_a_file_is_refused_before_any_work(tmp_path):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(OutputError, match="it is a file, not a folder"):
        AtomicFolder(tmp_path / "out")


def test_build_folders_of_a_killed_process_are_removed_live_ones_kept(tmp_path):
    out = tmp_path / "data"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = [tmp_path / f".data.{dead}-0a1b2c3d.tmp", tmp_path / f".data.{dead}-deadbeef.old"]
    for folder in stale:
        folder.mkdir()
        (folder / "x").write_text("left by a killed build")
    live = tmp_path / f".data.{os.getpid()}-12345678.tmp"     # a build running now
    live.mkdir()
    other = tmp_path / f".data.{dead}-cafe.tmpx"               # not our name: left alone
    other.mkdir()
    with AtomicFolder(out) as tmp:
        (tmp / "ok").write_text("ok")
    assert _hidden(tmp_path) == sorted([live.name, other.name])


def test_builds_of_one_target_from_many_threads_never_collide(tmp_path):
    """8 threads publish one folder at the same moment, 20 times: every build either lands
    whole or is replaced whole; none fails (the old folder set aside by another build, or a
    rename onto a folder another build just published, are retried) and nothing is left."""
    out, n = tmp_path / "plots", 8
    barrier, errors = threading.Barrier(n), []

    def build(i):
        try:
            for _ in range(20):
                with AtomicFolder(out) as tmp:
                    (tmp / "who").write_text(str(i))
                    barrier.wait(timeout=30)      # every build folder exists at once
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=build, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert int((out / "who").read_text()) in range(n)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plots"]


def test_a_folder_set_aside_by_a_dead_process_is_put_back(tmp_path):
    """A build killed between its two renames leaves the target missing and the old folder in
    a .old sibling: entering the next build (or ``recover``) puts it back first, instead of
    deleting it as a stale build."""
    from bertune_cli.core.io.outputs import recover

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    target = tmp_path / "out"
    aside = tmp_path / f".out.{proc.pid}-abcdef01.old"
    aside.mkdir()
    (aside / "kept.txt").write_text("old")
    live = tmp_path / f".other.{os.getpid()}-abcdef01.old"   # a live process's: left alone
    live.mkdir()
    recover(tmp_path / "other")
    assert live.is_dir() and not (tmp_path / "other").exists()
    with pytest.raises(RuntimeError):
        with AtomicFolder(target):
            assert (target / "kept.txt").read_text() == "old"   # recovered on entering
            raise RuntimeError("the new build fails")
    assert (target / "kept.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "out"]
    recover(target)                                  # nothing to do: the target exists
    assert (target / "kept.txt").read_text() == "old"
