"""bertune_cli/_progress.py: a bar on a terminal, plain lines in a pipe, quiet when short."""
from __future__ import annotations

import io

import pytest
from rich.console import Console

from bertune_cli._progress import Progress, progress_every
from bertune_cli.core.errors import UsageError


def test_a_terminal_gets_a_bar_and_no_plain_lines():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100)
    with Progress("translate", unit="lines", total=3, console=console, every=0) as p:
        for _ in range(3):
            p.update(advance=1)
    out = buf.getvalue()
    assert "━" in out and "3/3" in out and "lines" in out
    assert "translate: done" not in out and "(100%)" not in out


def test_a_pipe_gets_plain_lines_with_count_share_rate_and_time():
    buf = io.StringIO()
    with Progress("translate", unit="lines", total=4, console=Console(file=buf),
                  every=0) as p:
        p.update(advance=1)
        p.update(advance=3)
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("translate: 1/4 lines (25%), ") and "lines/s" in lines[0]
    assert " elapsed" in lines[0] and "left" in lines[0]
    assert lines[1].startswith("translate: 4/4 lines (100%), ") and "left" not in lines[1]
    assert lines[2].startswith("translate: done, ") and lines[2].endswith(", 4 lines")
    assert len(lines) == 3 and "\x1b" not in buf.getvalue()


def test_stages_and_an_unknown_total():
    buf = io.StringIO()
    with Progress("report", console=Console(file=buf), every=0) as p:
        p.update(description="loading the LM", completed=0, total=3)
        p.update(description="drawing", completed=2)
    with Progress("translate", unit="lines", console=Console(file=buf), every=0) as p:
        p.update(advance=2)
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("report: loading the LM, stage 1/3, ")
    assert lines[1].startswith("report: drawing, stage 3/3, ")
    assert lines[3].startswith("translate: 2 lines, ") and "%" not in lines[3]


def test_a_short_command_in_a_pipe_stays_quiet():
    buf = io.StringIO()
    with Progress("translate", unit="lines", total=2, console=Console(file=buf),
                  every=3600) as p:
        p.update(advance=1, description="x")
        p.update(advance=1, description="y")
    assert buf.getvalue() == ""


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("BERTUNE_PROGRESS_EVERY", raising=False)
    assert progress_every() == 10.0
    monkeypatch.setenv("BERTUNE_PROGRESS_EVERY", "2.5")
    assert progress_every() == 2.5
    for bad in ("-1", "nan", "soon"):
        monkeypatch.setenv("BERTUNE_PROGRESS_EVERY", bad)
        with pytest.raises(UsageError, match="BERTUNE_PROGRESS_EVERY"):
            progress_every()


@pytest.mark.parametrize("idle_lines, expected", [(True, 3), (False, 2)])
def test_periodic_lines_while_nothing_moves_only_where_asked(idle_lines, expected):
    """report: a long stage still writes its line every period (still alive); translate on an
    open stdin writes nothing more while no line arrives."""
    buf = io.StringIO()
    p = Progress("x", unit="lines", console=Console(file=buf), every=10, idle_lines=idle_lines)
    p.t0 = 0.0
    p._tick(5.0)                            # before the first period: quiet
    p._tick(10.0)                           # first period: a line (0 lines so far)
    p.completed = 4
    p._tick(15.0)                           # moved, but within the period
    p._tick(20.0)                           # moved: a line
    p._tick(30.0)                           # nothing moved since: only with idle_lines
    lines = buf.getvalue().splitlines()
    assert len(lines) == expected and lines[1].startswith("x: 4 lines, ")
    assert lines[0] == "x: 0 lines, 0:00:10 elapsed"
