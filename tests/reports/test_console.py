from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from harness.events import EngineError, Interrupted
from harness.models import Verdict
from reports.console import ConsoleReporter
from tests.reports.streams import T0, end, failing_run, passing_run


def run(
    events, plain: bool | None = True, terminal: bool = False, secrets=()
) -> tuple[ConsoleReporter, str]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=100, color_system=None)
    reporter = ConsoleReporter(console, plain=plain, secrets=secrets)
    for event in events:
        reporter.handle(event)
    return reporter, out.getvalue()


def test_plain_lines_for_a_failing_run() -> None:
    reporter, text = run(failing_run())
    lines = text.splitlines()
    assert (
        lines[0]
        == "chaperone run r1 against http://127.0.0.1:8000, build b42, seed 7: switch, access"
    )
    assert lines[1] == "[switch] started"
    assert lines[2] == (
        "[switch] FINDING critical canary-leak p1 -> p2 at json:GET /api/me/recordings"
        " - p1's note reached p2"
    )
    assert "[switch] case switch-p2 fail: leak" in lines
    assert "[switch] fail in 5.0s: 2 leaks" in lines
    assert "[access] pass in 2.0s" in lines
    assert lines[-1] == "verdict: FAIL (2 finding(s); suite 'switch' failed) in 10.0s"
    assert reporter.collector.result().verdict is Verdict.FAIL


def test_plain_is_the_default_off_a_terminal() -> None:
    reporter, text = run(passing_run(), plain=None)
    assert reporter.plain
    assert text.splitlines()[-1] == "verdict: PASS in 10.0s"


def test_errors_and_interrupt_are_reported() -> None:
    events = [
        *passing_run()[:-1],
        EngineError("switch", "db down", T0 + 8),
        Interrupted(T0 + 9),
        end(),
    ]
    _, text = run(events)
    assert "[switch] ERROR db down" in text
    assert "interrupted" in text
    assert text.splitlines()[-1].startswith(
        "verdict: ERROR (1 engine error(s); the run was interrupted)"
    )


def test_summary_lists_counts_exposures_and_paths() -> None:
    reporter, _ = run(failing_run())
    out = io.StringIO()
    reporter.console = Console(file=out, width=100)
    reporter.summary(reporter.collector.result(), {"json": Path("out/report.json")})
    lines = out.getvalue().splitlines()
    # One line per root cause on top, then the counts and the exposures: the flood of
    # repeats is counted, not listed.
    assert lines[0] == "1 root cause(s) behind 2 finding(s):"
    assert lines[1].startswith("  [") and "own record" in lines[1]
    assert "2 finding(s), 2 owner(s) -> 1 observer(s)" in lines[1]
    assert lines[2] == (
        "2 suite(s), 3 case(s) (1 not passed), 2 finding(s) (2 critical), 2 exposure(s), 0 error(s)"
    )
    exposures = [line for line in lines if line.startswith("exposure:")]
    assert "exposure: p1 -> p2: note via json:GET /api/me/recordings; 2x, first" in exposures[0]
    assert "exposure: p3 -> p2: patient name" in exposures[1]
    assert "json report: out/report.json" in lines
    assert lines[-1].startswith("verdict: FAIL")


def test_secrets_never_reach_the_terminal() -> None:
    _, text = run(failing_run(), secrets=["p1's note"])
    assert "p1's note" not in text and "[REDACTED] reached p2" in text


def test_rich_progress_mode_prints_findings_and_verdict() -> None:
    reporter, text = run(failing_run(), plain=False, terminal=True)
    assert not reporter.plain
    assert "CRITICAL canary-leak p1 -> p2" in text
    assert "verdict: FAIL" in text
    assert reporter._progress is None  # stopped at RunFinished


def test_rich_summary_has_an_exposure_table() -> None:
    reporter, _ = run(failing_run(), plain=False, terminal=True)
    out = io.StringIO()
    reporter.console = Console(file=out, width=120, color_system=None)
    reporter.summary(reporter.collector.result())
    text = out.getvalue()
    assert "Exposures: whose data reached whom" in text
    assert "patient name" in text
