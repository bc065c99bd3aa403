"""Typed errors raised by the core.

The core never exits and never prints: it raises one of these with an actionable message
(what went wrong) and a hint (what to do next). Only ``bertune_cli.main.main`` turns them
into a red line and an exit code.
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
    """A recipe or override is invalid. ``problems`` lists every problem found."""

    def __init__(self, message: str, hint: str | None = None, problems: list[str] | None = None):
        super().__init__(message, hint)
        self.problems = list(problems or [])


class DataError(BertuneError):
    """Input data is missing, malformed or inconsistent (names the file and line)."""


class DownloadError(DataError):
    """A download failed or was truncated."""


class LMUnavailable(BertuneError):
    """A language model cannot be loaded (typically: not available offline)."""


class CheckpointError(BertuneError):
    """A checkpoint or run directory is missing, incomplete or incompatible."""


class OutputError(BertuneError):
    """An output file or folder cannot be written (names the path and the OS's reason)."""


class RunLocked(BertuneError):
    """Another live process holds the lock of a run directory (names its pid)."""


class TrainingError(BertuneError):
    """Training had to stop (NaN loss, no data, ...)."""


class KernelUnavailable(BertuneError):
    """A requested kernel implementation cannot run here (no Triton, no GPU, no interpreter)."""


class NotYetAvailable(BertuneError):
    """A stage that has not been built yet."""
