"""The terminal side of `chaperone selftest`: selftest.progress decides what each finished run's
line says, reports.selftest_console draws it and the summary from selftest.json's data."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from reports.selftest_console import RunLine, SelftestConsole, run_text
from selftest.progress import run_line
from selftest.scorecard import Scorecard
from tests.selftest.results import clean, fault, run, scattered


def plain(markup: str) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(markup)
    return out.getvalue().strip()


def test_a_detected_fault_says_found_with_its_suites() -> None:
    line = run_line(fault("recording-idor", run(leaks={"switch": 1, "access": 2})))
    assert (line.status, line.detail) == ("found", "2 finding(s): switch 1, access 2")
    text = plain(run_text(3, 7, line))
    assert text == (
        "[3/7] fault recording-idor, switch+access+stateful: found "
        "(2 finding(s): switch 1, access 2) in 12s"
    )


def test_a_missed_fault_a_quiet_fuzz_run_a_false_alarm_and_an_error() -> None:
    assert run_line(fault("x", run())).status == "missed"
    assert run_line(fault("x", run(), part="fuzz")).status == "nothing"
    noisy = run_line(clean(0, run(leaks={"switch": 1})))
    assert (noisy.status, noisy.detail) == ("false-alarm", "1 finding(s)")
    broken = run_line(clean(4, None, infra="the clinic did not start"))
    assert (broken.status, broken.detail) == ("error", "the clinic did not start")
    assert plain(run_text(1, 1, broken)).endswith(": ERROR the clinic did not start in 12s")
    assert run_line(clean(0, run())).status == "clean"


def test_values_from_a_run_are_never_read_as_markup() -> None:
    line = RunLine("fault [bold]x[/bold]", "error", "[red]boom[/red]", 1.0)
    assert plain(run_text(1, 2, line)) == "[1/2] fault [bold]x[/bold]: ERROR [red]boom[/red] in 1s"


def test_summary_is_drawn_from_the_scorecard_data(tmp_path: Path) -> None:
    card = Scorecard.from_outcomes(
        [fault("caught", run(leaks={"switch": 1})), fault("missed", run()), clean(0, run())],
        {"cpu_count": 2},
        seconds=60.0,
        jobs=2,
    )
    out = io.StringIO()
    console = SelftestConsole(Console(file=out, width=300, color_system=None))
    paths = {"json": tmp_path / "selftest.json", "html": tmp_path / "selftest.html"}
    console.summary(card.as_json(), paths)
    text = out.getvalue()
    assert "selftest: 1/2 faults detected, 1/1 clean runs clean, in 60s with 2 job(s)" in text
    assert "missed: missed" in text
    assert "root causes per detected fault (at most 2 each): 1 cause(s): 1" in text
    assert "more than 2 root causes" not in text
    split = Scorecard.from_outcomes([fault("spread", scattered(3)), clean(0, run())], {})
    console.summary(split.as_json(), paths)
    assert "more than 2 root causes: spread" in out.getvalue()
