"""Typed errors raised by the core.

The core never exits and never prints: it raises one of these with an actionable message
(what went wrong) and a hint (what to do next). Only ``bertune_cli.main.main`` turns them
into a red line and an exit code.

Exit codes, one rule (docs/errors.md): **2** when the command line is wrong — a value invalid in
itself or for what it names (out of range, an LM layer beyond the LM's layers), a path named on
the command line that does not exist or is not what the option takes, an unknown or invalid
recipe or ``--set`` value (``UsageError``, ``ConfigError``, ``CheckpointNotFound``,
``LMChoiceError``, ``InputNotFound``); **1** when a valid command could not do its work — a
damaged or incompatible checkpoint, unreadable data, an LM not available offline, inputs a
recipe needs that are missing (the preflight lists them), an optional package not installed,
a full disk, a locked run, a training that had to stop.
"""

from __future__ import annotations


class BertuneError(Exception):
    """Base class. ``message`` says what is wrong, ``hint`` what to do about it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} — {self.hint}"


class UsageError(BertuneError):
    """The command line itself is wrong (exit code 2, like Typer's own usage errors)."""

    exit_code = 2


class ConfigError(BertuneError):
    """A recipe or override is invalid (exit code 2). ``problems`` lists every problem found."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None, problems: list[str] | None = None):
        super().__init__(message, hint)
        self.problems = list(problems or [])


class DataError(BertuneError):
    """Input data is missing, malformed or inconsistent (names the file and line)."""


class InputNotFound(DataError):
    """An input file named by the request does not exist, or is a folder (exit code 2)."""

    exit_code = 2


class DownloadError(DataError):
    """A download failed or was truncated."""


class LMUnavailable(BertuneError):
    """A language model cannot be loaded (typically: not available offline)."""


class LMChoiceError(LMUnavailable):
    """The LM asked for cannot be: ``--lm`` names a folder that does not exist, ``--layer`` is
    beyond the LM's layers (exit code 2)."""

    exit_code = 2


class CheckpointError(BertuneError):
    """A checkpoint or run directory is damaged, incomplete or incompatible."""


class CheckpointNotFound(CheckpointError):
    """The path given holds no bertune checkpoint: it does not exist, or is some other folder
    (exit code 2)."""

    exit_code = 2


class OutputError(BertuneError):
    """An output file or folder cannot be written (names the path and the OS's reason)."""


class RunLocked(BertuneError):
    """Another live process holds the lock of a run directory (names its pid)."""


class TrainingError(BertuneError):
    """Training had to stop (NaN loss, no data, ...)."""


class MissingExtra(BertuneError):
    """An optional package is not installed (the message names the extra that brings it)."""


class KernelUnavailable(BertuneError):
    """A requested kernel implementation cannot run here (no Triton, no GPU, no interpreter)."""


class NotYetAvailable(BertuneError):
    """A stage that has not been built yet."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised by the ``bertune`` executable's handler: a KeyboardInterrupt, so every
    cleanup that Ctrl-C runs (temporary files, locks, checkpoint_last) runs for it too; the
    exit code is 143 (128 + SIGTERM)."""
