"""Concurrency: one writer per run directory (fcntl.flock), tested with real
processes: the second is refused naming the holder's pid, a killed holder's lock is taken
over, the lock is released on exit."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from bertune_cli.core.errors import RunLocked
from bertune_cli.core.io.locks import RunLock, lock_path

HOLDER = """
import sys, time
from bertune_cli.core.io.locks import RunLock
lock = RunLock(sys.argv[1], "holder").acquire()
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def hold(directory, seconds: float = 60.0) -> subprocess.Popen:
    """A second process holding ``directory``'s lock (returns once it holds it)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(directory), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_process_is_refused_with_the_holders_pid(tmp_path):
    run = tmp_path / "runs" / "demo" / "baseline"
    holder = hold(run)
    try:
        with pytest.raises(RunLocked, match=rf"in use by another bertune process \(pid "
                                            rf"{holder.pid}, holder"):
            RunLock(run).acquire()
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holders_lock_is_stale_and_taken_over(tmp_path):
    run = tmp_path / "baseline"
    holder = hold(run)
    holder.send_signal(signal.SIGKILL)                  # no cleanup: the lock file stays
    holder.wait()
    assert lock_path(run).is_file()
    with RunLock(run) as lock:
        assert lock.stale["pid"] == holder.pid
        assert f'"pid": {os.getpid()}' in lock_path(run).read_text()
    assert not lock_path(run).exists()                  # released and removed


def test_the_lock_is_released_when_the_holder_exits(tmp_path):
    run = tmp_path / "baseline"
    holder = hold(run, seconds=0.5)
    holder.wait(timeout=30)
    with RunLock(run) as lock:
        assert lock.stale is None                       # a clean exit removes the file too


def test_folders_made_for_the_lock_are_removed_when_nothing_was_written(tmp_path):
    with RunLock(tmp_path / "a" / "b" / "data"):
        assert (tmp_path / "a" / "b").is_dir()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.integration
def test_prepare_refuses_a_data_dir_another_process_holds(tmp_path):
    """Before: two prepare/train-baseline processes on one directory both ran and wrote every
    metrics row twice."""
    out = tmp_path / "runs" / "demo" / "data"
    holder = hold(out)
    try:
        env = {**os.environ, "BERTUNE_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
        start = time.time()
        proc = subprocess.run([sys.executable, "-m", "bertune_cli.main", "prepare", "--pair",
                               "demo", "--out", str(out)], capture_output=True, text=True,
                              env=env, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert f"{out} is in use by another bertune process (pid {holder.pid}" in lines[0]
    assert not out.exists() and time.time() - start < 60
