from __future__ import annotations

import pytest

from harness.errors import ExitCode
from harness.events import EngineError, Event, FindingRaised, Interrupted, SuiteStarted
from harness.models import Verdict
from reports.result import RunCollector, exit_code
from tests.reports.streams import T0, end, failing_run, finding, passing_run, start, suite_ok


def collect(events: list[Event]):
    return RunCollector().consume(events)


def test_clean_run_passes_with_exit_0() -> None:
    result = collect(passing_run())
    assert result.verdict is Verdict.PASS
    assert result.reasons == ()
    assert exit_code(result) is ExitCode.PASS
    assert [s.name for s in result.suites] == ["switch", "access"]
    assert result.suite("switch").steps == 2
    assert result.seed == 7 and result.build == "b42" and result.seconds == 10


PRECEDENCE = {
    "no events at all": ([], Verdict.ERROR),
    "no RunFinished": (passing_run()[:-1], Verdict.ERROR),
    "requested suite never started": (
        [start("switch", "load"), *suite_ok("switch"), end()],
        Verdict.ERROR,
    ),
    "suite started, never finished": (
        [start("switch"), SuiteStarted("switch", None, T0), end()],
        Verdict.ERROR,
    ),
    "interrupted": ([*passing_run()[:-1], Interrupted(T0 + 9), end()], Verdict.ERROR),
    "engine error beats findings": (
        [*failing_run()[:-1], EngineError("access", "boom", T0 + 9), end(Verdict.FAIL)],
        Verdict.ERROR,
    ),
    "suite error": ([start("s"), *suite_ok("s", verdict=Verdict.ERROR), end()], Verdict.ERROR),
    "engine says error": ([*passing_run()[:-1], end(Verdict.ERROR)], Verdict.ERROR),
    "finding in a suite that says pass": (
        [start("s"), FindingRaised("s", finding()), *suite_ok("s"), end()],
        Verdict.FAIL,
    ),
    "suite fail without findings": (
        [start("s"), *suite_ok("s", verdict=Verdict.FAIL), end()],
        Verdict.FAIL,
    ),
    "engine says fail": ([*passing_run()[:-1], end(Verdict.FAIL)], Verdict.FAIL),
    "findings": (failing_run(), Verdict.FAIL),
    "everything passed": (passing_run(), Verdict.PASS),
}


@pytest.mark.parametrize("events, expected", PRECEDENCE.values(), ids=PRECEDENCE.keys())
def test_verdict_precedence(events: list[Event], expected: Verdict) -> None:
    result = collect(events)
    assert result.verdict is expected
    assert exit_code(result) == {Verdict.PASS: 0, Verdict.FAIL: 1, Verdict.ERROR: 2}[expected]
    assert bool(result.reasons) == (expected is not Verdict.PASS)


def test_missing_suite_is_named_in_reasons() -> None:
    result = collect([start("switch", "load"), *suite_ok("switch"), end()])
    assert "suite 'load' never finished" in result.reasons


def test_suite_claiming_pass_with_findings_shows_fail() -> None:
    result = collect([start("s"), FindingRaised("s", finding()), *suite_ok("s"), end()])
    assert result.suite("s").verdict is Verdict.FAIL


def test_findings_are_deduplicated_by_key_keeping_first() -> None:
    result = collect(failing_run())
    assert len(result.findings) == 2
    note = next(r for r in result.findings if r.finding.owner == "p1")
    assert note.occurrences == 2
    assert note.first_seen == T0 + 1 and note.last_seen == T0 + 4
    assert note.finding.time == T0 + 1  # the first one kept
    assert note.finding.suite == "switch"  # filled from the event


def test_different_observer_is_a_different_finding() -> None:
    events = [
        start("s"),
        FindingRaised("s", finding()),
        FindingRaised("s", finding(observer="p9")),
        *suite_ok("s"),
        end(),
    ]
    assert len(collect(events).findings) == 2


def test_errors_and_interruption_are_recorded() -> None:
    result = collect(
        [*passing_run()[:-1], EngineError("switch", "db down", T0 + 8), Interrupted(T0 + 9), end()]
    )
    assert result.interrupted
    assert [(e.suite, e.message) for e in result.errors] == [("switch", "db down")]
