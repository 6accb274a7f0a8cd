"""Hand-built engine runs and outcomes for the scorecard tests."""

from __future__ import annotations

from flags.selftest import FindingTally, PlannedRun, RunOutcome
from harness.events import EngineError, Event, FindingRaised, RunFinished
from harness.models import Verdict
from reports.result import RunCollector
from tests.reports.streams import T0, end, finding, start, suite_ok

SUITES = ("switch", "access", "stateful")
Run = list[Event]


def run(*, leaks: dict[str, int] | None = None, error: str = "", fail: str = "") -> Run:
    """The three default suites; `leaks` maps a suite to how many distinct findings it raises.
    Every suite raises the same leaks first (p10, p11, ...), as suites confirming each other do.
    """
    events: Run = [start(*SUITES)]
    for index, name in enumerate(SUITES):
        count = (leaks or {}).get(name, 0)
        events += [FindingRaised(name, finding(owner=f"p{n + 10}")) for n in range(count)]
        verdict = Verdict.FAIL if count or name == fail else Verdict.PASS
        events += suite_ok(name, T0 + 3 * index, verdict)
    if error:
        events.append(EngineError("access", error, T0 + 9))
    verdict = Verdict.ERROR if error else Verdict.FAIL if leaks or fail else Verdict.PASS
    events.append(end(verdict))
    return events


def unfinished() -> Run:
    """The engine stopped before RunFinished: an error, never a pass."""
    return [e for e in [start(*SUITES), *suite_ok("switch")] if not isinstance(e, RunFinished)]


def _outcome(planned: PlannedRun, events: Run | None, infra: str | None) -> RunOutcome:
    if events is None:
        return RunOutcome(planned, None, 12.0, "", infra)
    tally = FindingTally()
    result = RunCollector().consume(tally.watch(events))
    where = f"/out/{planned.directory}"
    return RunOutcome(planned, result, 12.0, where, infra, ("tok",), tally.counts())


def fault(name: str, events: Run | None, infra: str | None = None) -> RunOutcome:
    return _outcome(PlannedRun("fault", name, (name,), SUITES, 0), events, infra)


def clean(seed: int, events: Run | None, infra: str | None = None) -> RunOutcome:
    return _outcome(PlannedRun("clean", f"seed-{seed}", (), SUITES, seed), events, infra)
