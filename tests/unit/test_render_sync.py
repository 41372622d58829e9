"""Progress output: bars on a terminal, one plain line per stage otherwise, nothing when quiet."""

from __future__ import annotations

import io

from rich.console import Console

from healthsync.render_sync import LineReporter, RichReporter, reporter_for
from healthsync.sync.engine import Reporter


def test_a_terminal_gets_bars_and_a_pipe_gets_lines() -> None:
    assert isinstance(reporter_for(Console(file=io.StringIO(), force_terminal=True)), RichReporter)
    assert isinstance(reporter_for(Console(file=io.StringIO(), force_terminal=False)), LineReporter)
    assert type(reporter_for(Console(file=io.StringIO(), force_terminal=True), quiet=True)) is Reporter


def test_lines_name_the_stage_and_its_summary() -> None:
    stream = io.StringIO()
    reporter = LineReporter(stream)
    reporter.stage("accounts")
    reporter.advance("accounts", 100)
    reporter.done("accounts", "100 accounts read from hubspot")
    (line,) = stream.getvalue().splitlines()
    assert line.endswith(" accounts: 100 accounts read from hubspot")


def test_bars_count_records_and_end_with_the_summary() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    with RichReporter(console) as reporter:
        reporter.stage("write", 250)
        reporter.advance("fields", 200)  # sub-streams count towards their stage
        reporter.advance("tasks", 50)
        assert reporter.progress.tasks[0].completed == 250
        reporter.done("write", "200 accounts updated, 50 tasks created")
    assert "write: 200 accounts updated, 50 tasks created" in out.getvalue()
