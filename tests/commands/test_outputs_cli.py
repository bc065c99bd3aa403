"""Output paths: an output that cannot be written is one line naming the path and
the reason (exit 1, no traceback), checked before the work where it can be; `score` still
prints its table when --sentence-level fails; writes are atomic (core/io/outputs.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from bertune_cli.core.errors import OutputError, UsageError
from bertune_cli.core.io.outputs import AtomicFile, check_output, check_output_dir
from bertune_cli.main import main

# As root, chmod does not make a folder unwritable; sysfs refuses new files even to root.
UNWRITABLE = Path("/sys/bertune-test-dir")


def _unwritable_ok() -> bool:
    try:
        (UNWRITABLE.parent / ".bertune-probe").touch()
    except OSError:
        return True
    return False


needs_unwritable = pytest.mark.skipif(not _unwritable_ok(), reason="/sys is writable here")


@pytest.fixture()
def texts(tmp_path):
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_text("the cat sat on the mat\na dog\n", encoding="utf-8")
    ref.write_text("the cat sat on a mat\nthe dog\n", encoding="utf-8")
    return hyp, ref


def _main(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in err, err
    return lines[0]


@needs_unwritable
def test_score_sentence_level_into_an_unwritable_folder_fails_before_scoring(capsys, texts):
    code, out, err = _main(capsys, "score", *texts, "-m", "bleu", "--sentence-level",
                           UNWRITABLE / "s.tsv")
    line = _one_error_line(err)
    assert code == 1 and str(UNWRITABLE / "s.tsv") in line and "permission denied" in line
    assert out == ""                                   # checked up front: nothing was scored


def test_score_sentence_level_under_a_file_is_one_line(capsys, texts, tmp_path):
    code, out, err = _main(capsys, "score", *texts, "-m", "bleu", "--sentence-level",
                           texts[0] / "sub" / "s.tsv")
    line = _one_error_line(err)
    assert code == 1 and f"{texts[0]} is a file, not a folder" in line


def test_score_sentence_level_on_a_full_disk_still_prints_the_table(capsys, texts):
    """/dev/full: the write fails with ENOSPC after the scoring; the table comes first."""
    code, out, err = _main(capsys, "score", *texts, "-m", "bleu", "--sentence-level",
                           "/dev/full")
    assert code == 1 and "BLEU" in out
    line = _one_error_line(err)
    assert "/dev/full" in line and "no space left on device" in line


def test_score_sentence_level_refuses_an_extension_it_does_not_write(capsys, texts, tmp_path):
    code, out, err = _main(capsys, "score", *texts, "-m", "bleu", "--sentence-level",
                           tmp_path / "s.csv")
    assert code == 2 and "cannot write .csv" in _one_error_line(err)
    assert not (tmp_path / "s.csv").exists()


def test_score_sentence_level_creates_folders_and_leaves_no_temporary_file(capsys, texts,
                                                                           tmp_path):
    target = tmp_path / "new" / "deeper" / "s.jsonl"
    code, out, err = _main(capsys, "score", *texts, "-m", "bleu", "--sentence-level", target)
    assert code == 0 and target.is_file()
    assert [p.name for p in target.parent.iterdir()] == ["s.jsonl"]


def test_atomic_file_keeps_the_old_target_when_the_write_fails(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with AtomicFile(target) as f:
            f.write("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old\n" and os.listdir(tmp_path) == ["out.txt"]
    with AtomicFile(target) as f:
        f.write("new\n")
    assert target.read_text() == "new\n" and os.listdir(tmp_path) == ["out.txt"]


def test_atomic_file_maps_enospc_to_one_line():
    with pytest.raises(OutputError, match="cannot write output /dev/full: no space left"):
        with AtomicFile("/dev/full") as f:
            f.write("x" * 100_000)


def test_checks_name_the_reason(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output(tmp_path / "f" / "a" / "b.txt")
    with pytest.raises(OutputError, match="it is a directory"):
        check_output(tmp_path)
    with pytest.raises(OutputError, match="it is a file, not a folder"):
        check_output_dir(tmp_path / "f")
    with pytest.raises(UsageError, match="cannot write .csv"):
        check_output(tmp_path / "x.csv", suffixes=(".tsv",))
    assert check_output(tmp_path / "new" / "x.txt") == tmp_path / "new" / "x.txt"
    assert not (tmp_path / "new").exists()              # checking creates nothing


@needs_unwritable
def test_prepare_out_into_an_unwritable_folder_is_one_line_before_the_work(capsys, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("BERTUNE_HOME", str(tmp_path / "home"))
    code, out, err = _main(capsys, "prepare", "--pair", "demo", "--out", UNWRITABLE / "data")
    line = _one_error_line(err)
    assert code == 1 and str(UNWRITABLE / "data") in line and "permission denied" in line


@needs_unwritable
def test_translate_output_is_checked_before_the_model_loads(capsys, tmp_path):
    """-o is checked first: the error is about the output, although the model is missing too."""
    code, out, err = _main(capsys, "translate", "-m", tmp_path / "no-model", "-o",
                           UNWRITABLE / "out.en")
    line = _one_error_line(err)
    assert code == 1 and str(UNWRITABLE / "out.en") in line and "permission denied" in line


def test_atomic_writes_of_one_target_from_many_threads_do_not_collide(tmp_path):
    # serve writes plots from worker threads of one process: each writer must get its own
    # temporary file (a per-pid name made two threads truncate and rename the same file)
    import threading

    target = tmp_path / "plot.txt"
    barrier, errors = threading.Barrier(8), []

    def write(k: int) -> None:
        try:
            with AtomicFile(target) as f:
                barrier.wait(timeout=30)      # every thread has its temporary file open now
                f.write(f"{k}\n" * 10_000)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    lines = target.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 10_000 and len(set(lines)) == 1     # one writer's whole file, not a mix
    assert not list(tmp_path.glob(".*.tmp")) and not list(tmp_path.glob(".*.probe"))
