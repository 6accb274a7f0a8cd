"""Hand-built engine event streams for the reporter tests."""

from __future__ import annotations

from harness.events import (
    CaseFinished,
    Event,
    FindingRaised,
    RunFinished,
    RunStarted,
    StepFinished,
    SuiteFinished,
    SuiteStarted,
)
from harness.models import CanaryKind, Finding, Severity, Step, Surface, SurfaceKind, Verdict

T0 = 1_780_000_000.0


def finding(
    owner: str | None = "p1",
    observer: str = "p2",
    where: str = "GET /api/me/recordings",
    time: float = T0 + 1,
    message: str = "p1's note reached p2",
    kind: CanaryKind | None = CanaryKind.NOTE,
    suite: str = "",
    label: str = "",
    step: str = "switch/p2/switch-to-video",
    resource: str = "",
) -> Finding:
    return Finding(
        check="canary",
        kind="canary-leak",
        severity=Severity.CRITICAL,
        message=message,
        observer=observer,
        surface=Surface(SurfaceKind.JSON, where),
        step=step,
        time=time,
        owner=owner,
        canary_kind=kind,
        evidence="...[canary]...",
        suite=suite,
        extra=tuple((k, v) for k, v in (("label", label), ("resource", resource)) if v),
        repro=(Step("p1", "join"), Step("p2", "switch", "video")),
    )


def start(*suites: str) -> RunStarted:
    return RunStarted(
        run_id="r1", target="http://127.0.0.1:8000", seed=7, suites=suites, time=T0, build="b42"
    )


def suite_ok(
    name: str, t: float = T0, verdict: Verdict = Verdict.PASS, **kw: object
) -> list[Event]:
    return [
        SuiteStarted(name, 2, t),
        StepFinished(name, "s1", "p1", 200, t + 0.5),
        StepFinished(name, "s2", "p2", 200, t + 1),
        CaseFinished(name, f"{name}-case", verdict, 1.0),
        SuiteFinished(name, verdict, 2.0, t + 2, **kw),  # type: ignore[arg-type]
    ]


def end(verdict: Verdict = Verdict.PASS, t: float = T0 + 10) -> RunFinished:
    return RunFinished(verdict, t - T0, t)


def passing_run() -> list[Event]:
    return [start("switch", "access"), *suite_ok("switch"), *suite_ok("access", T0 + 3), end()]


def failing_run() -> list[Event]:
    """switch leaks p1's note to p2 twice (one finding) and p3's name to p2 once.
    As real suites do, findings carry their suite before their keys are taken."""
    leak = finding(suite="switch")
    return [
        start("switch", "access"),
        SuiteStarted("switch", 3, T0),
        FindingRaised("switch", leak),
        FindingRaised("switch", finding(time=T0 + 4, suite="switch")),
        FindingRaised(
            "switch",
            finding(
                owner="p3", kind=CanaryKind.NAME, time=T0 + 2, label="patient name", suite="switch"
            ),
        ),
        CaseFinished("switch", "switch-p2", Verdict.FAIL, 1.5, "leak", (leak.key,)),
        CaseFinished("switch", "switch-p1", Verdict.PASS, 1.0),
        SuiteFinished("switch", Verdict.FAIL, 5.0, T0 + 5, "2 leaks"),
        *suite_ok("access", T0 + 5),
        end(Verdict.FAIL),
    ]


def two_causes_run() -> list[Event]:
    """Two bugs: switch leaks p1's note (their own record) to p2; access then replays a read
    that serves p3's appointment reason to p2, an object no earlier step showed."""
    note = finding(suite="switch")
    reason = finding(
        owner="p3",
        kind=CanaryKind.REASON,
        time=T0 + 6,
        label="appointment reason",
        suite="access",
        where="GET /api/recordings/{id}",
        step="access/p2->p3",
        resource="appointment:p3:0",
    )
    return [
        start("switch", "access"),
        SuiteStarted("switch", 3, T0),
        FindingRaised("switch", note),
        CaseFinished("switch", "switch-p2", Verdict.FAIL, 1.5, "leak", (note.key,)),
        SuiteFinished("switch", Verdict.FAIL, 5.0, T0 + 5, "1 leak"),
        SuiteStarted("access", 3, T0 + 5),
        FindingRaised("access", reason),
        CaseFinished("access", "access-matrix", Verdict.FAIL, 1.0, "leak", (reason.key,)),
        SuiteFinished("access", Verdict.FAIL, 2.0, T0 + 7, "1 leak"),
        end(Verdict.FAIL),
    ]
