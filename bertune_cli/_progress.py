"""Progress on stderr for the commands that work for more than a few seconds.

On a terminal: a rich bar (as the training commands draw it), removed when the command ends.
Anywhere else (stderr piped into a log, a CI job, ``2> file``): no bar, which a pipe cannot
draw, but plain-text lines, one line each time, ``every`` seconds (``$BERTUNE_PROGRESS_EVERY``,
default 10) — the first after ``every`` seconds, so a short command stays quiet; later also one
per stage change and a last ``done`` line — e.g.::

    translate: 1,200/3,000 lines (40%), 52.1 lines/s, 0:00:23 elapsed, ~0:00:35 left
    report: scoring the test set and paired bootstrap, stage 4/9, 0:01:12 elapsed

``BERTUNE_PROGRESS_EVERY=0`` writes a line at every update (what the tests use).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

EVERY_ENV = "BERTUNE_PROGRESS_EVERY"
DEFAULT_EVERY = 10.0


def progress_every() -> float:
    """Seconds between two plain progress lines ($BERTUNE_PROGRESS_EVERY, default 10)."""
    raw = os.environ.get(EVERY_ENV, "").strip()
    if not raw:
        return DEFAULT_EVERY
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        from bertune_cli.core.errors import UsageError

        raise UsageError(
            f"{EVERY_ENV}={raw!r} is not a number of seconds >= 0",
            f"unset it (default {DEFAULT_EVERY:g}) or set e.g. {EVERY_ENV}=30",
        )
    return value


def clock(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """``with Progress("translate", unit="lines", total=n) as p: p.update(advance=1)``.

    ``unit``: what is counted ("lines"; "" for stages: no rate); ``total`` None: unknown
    (a count and a rate, no percentage). ``console``: a rich Console (default: stderr's).
    ``idle_lines``: also write the periodic line when nothing moved since the last one (a long
    stage is still running); False: only on progress (translate waiting on an open stdin).
    """

    def __init__(
        self,
        name: str,
        unit: str = "",
        total: int | None = None,
        description: str = "",
        console: Any = None,
        every: float | None = None,
        idle_lines: bool = True,
    ):
        from rich.console import Console

        self.name, self.unit, self.total, self.description = name, unit, total, description
        self.console = console or Console(stderr=True, highlight=False)
        self.every = progress_every() if every is None else every
        self.completed, self.t0, self.last = 0, time.monotonic(), None
        self.idle_lines, self._shown = idle_lines, None
        self._bar = self._task = self._thread = None
        self._lock, self._stop = threading.Lock(), threading.Event()

    # ------------------------------------------------------------------ public
    def __enter__(self) -> "Progress":
        self.t0 = time.monotonic()
        if self.console.is_terminal:
            self._start_bar()
        elif self.every > 0:
            self._thread = threading.Thread(
                target=self._heartbeat, daemon=True, name=f"{self.name}-progress"
            )
            self._thread.start()
        return self

    def __exit__(self, exc_type, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:
            self._bar.__exit__(exc_type, *exc)
        elif exc_type is None and self.last is not None:  # a log that started also ends
            self._line(
                f"done, {clock(time.monotonic() - self.t0)}"
                + (f", {self.completed:,} {self.unit}" if self.unit else "")
            )

    def update(
        self,
        *,
        completed: int | None = None,
        advance: int = 0,
        total: int | None = None,
        description: str | None = None,
    ) -> None:
        with self._lock:
            self.completed = (self.completed if completed is None else completed) + advance
            self.total = self.total if total is None else total
            changed = description is not None and description != self.description
            self.description = self.description if description is None else description
            if self._bar is not None:
                self._bar.update(
                    self._task,
                    completed=self.completed,
                    total=self.total,
                    description=self._label(),
                    rate=self._rate_text(),
                )
                return
            now = time.monotonic()
            due = now - (self.t0 if self.last is None else self.last) >= self.every
            if due or (changed and now - self.t0 >= self.every):
                self._line(self._status(now), now)

    # ------------------------------------------------------------------ drawing
    def _start_bar(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import (
            Progress as Bar,
        )

        count = (
            [MofNCompleteColumn(), TextColumn("{task.fields[rate]}")]
            if self.unit
            else [MofNCompleteColumn()]
        )
        self._bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            *count,
            TimeElapsedColumn(),
            *([TimeRemainingColumn()] if self.unit else []),
            console=self.console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._bar.__enter__()
        self._task = self._bar.add_task(
            self._label(), total=self.total, completed=self.completed, rate=self._rate_text()
        )

    def _label(self) -> str:
        from rich.markup import escape

        return escape(f"{self.name}: {self.description}" if self.description else self.name)

    def _heartbeat(self) -> None:
        while not self._stop.wait(min(1.0, self.every)):
            self._tick(time.monotonic())

    def _tick(self, now: float) -> None:
        """The heartbeat's check: a line when ``every`` seconds passed since the last one
        (and, unless ``idle_lines``, something moved)."""
        with self._lock:
            moved = self._shown != (self.completed, self.description)
            if (moved or self.idle_lines) and now - (
                self.t0 if self.last is None else self.last
            ) >= self.every:
                self._line(self._status(now), now)

    def _rate(self, now: float | None = None) -> float | None:
        elapsed = (now or time.monotonic()) - self.t0
        return self.completed / elapsed if self.unit and self.completed and elapsed > 0 else None

    def _rate_text(self) -> str:
        rate = self._rate()
        return f"{self.unit} {rate:,.1f}/s" if rate is not None else self.unit

    def _status(self, now: float) -> str:
        parts = [self.description] if self.description else []
        if self.unit:
            count = f"{self.completed:,}" + (f"/{self.total:,}" if self.total else "")
            pct = f" ({100 * self.completed / self.total:.0f}%)" if self.total else ""
            parts.append(f"{count} {self.unit}{pct}")
            rate = self._rate(now)
            if rate is not None:
                parts.append(f"{rate:,.1f} {self.unit}/s")
        elif self.total:
            parts.append(f"stage {min(self.completed + 1, self.total)}/{self.total}")
        parts.append(f"{clock(now - self.t0)} elapsed")
        rate = self._rate(now)
        if rate and self.total and self.total > self.completed:
            parts.append(f"~{clock((self.total - self.completed) / rate)} left")
        return ", ".join(parts)

    def _line(self, text: str, now: float | None = None) -> None:
        self.last = time.monotonic() if now is None else now
        self._shown = (self.completed, self.description)
        stream = self.console.file
        try:
            stream.write(f"{self.name}: {text}\n")
            stream.flush()
        except (OSError, ValueError):  # stderr closed under us: progress is not worth a crash
            pass


class NoProgress:
    """Progress's interface, drawing nothing."""

    def __enter__(self) -> "NoProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def update(self, **_: Any) -> None:
        return None
