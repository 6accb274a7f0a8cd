"""The run result: what every reporter writes, and the one place the verdict is decided.

`RunCollector` consumes the engine's events and `RunCollector.result()` freezes them into a
`RunResult`. `decide_verdict` is the only function that turns a run into PASS / FAIL / ERROR,
and `exit_code` the only one that turns that into a process exit code.

Precedence (Jepsen's checker merge: error beats fail beats pass, unknown is never a pass):

1. ERROR if the engine reported an error, the run was interrupted, a requested suite never
   finished, no `RunFinished` arrived, or any suite or the engine itself said ERROR;
2. FAIL if any finding was raised or any suite said FAIL;
3. PASS otherwise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from harness.errors import ExitCode
from harness.events import (
    CaseFinished,
    EngineError,
    Event,
    FindingRaised,
    Interrupted,
    RunFinished,
    RunStarted,
    SuiteFinished,
    SuiteStarted,
)
from harness.models import Exposure, Finding, Verdict
from reports.exposures import build_exposures


@dataclass(frozen=True, slots=True)
class SuiteResult:
    name: str
    verdict: Verdict
    seconds: float
    message: str = ""
    metrics: Mapping[str, object] = field(default_factory=dict)
    artifacts: tuple[str, ...] = ()
    started: float | None = None
    finished: float | None = None
    total_steps: int | None = None
    steps: int = 0


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """One deduplicated finding (the first seen) and how often its key recurred."""

    finding: Finding
    occurrences: int
    first_seen: float
    last_seen: float

    @property
    def key(self) -> str:
        return self.finding.key


@dataclass(frozen=True, slots=True)
class RunError:
    suite: str
    message: str
    time: float


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: str
    target: str
    build: str
    seed: int | None
    suites_requested: tuple[str, ...]
    suites: tuple[SuiteResult, ...]
    cases: tuple[CaseFinished, ...]
    findings: tuple[FindingRecord, ...]
    exposures: tuple[Exposure, ...]
    errors: tuple[RunError, ...]
    interrupted: bool
    run_finished: bool
    started: float | None
    finished: float | None
    verdict: Verdict
    reasons: tuple[str, ...] = ()  # why the verdict is not PASS, one line each

    @property
    def seconds(self) -> float:
        if self.started is None or self.finished is None:
            return 0.0
        return max(0.0, self.finished - self.started)

    def suite(self, name: str) -> SuiteResult | None:
        return next((s for s in self.suites if s.name == name), None)

    def findings_for(self, suite: str) -> list[FindingRecord]:
        return [r for r in self.findings if r.finding.suite == suite]

    def cases_for(self, suite: str) -> list[CaseFinished]:
        return [c for c in self.cases if c.suite == suite]


def decide_verdict(
    *,
    requested: Iterable[str],
    suites: Iterable[SuiteResult],
    findings: int,
    errors: int,
    interrupted: bool,
    run_finished: Verdict | None,
) -> tuple[Verdict, tuple[str, ...]]:
    """Apply the precedence in the module docstring; return the verdict and its reasons."""
    suites = list(suites)
    why_error = _error_reasons(list(requested), suites, errors, interrupted, run_finished)
    if why_error:
        return Verdict.ERROR, tuple(why_error)
    why_fail = [f"suite '{s.name}' failed" for s in suites if s.verdict is Verdict.FAIL]
    if findings:
        why_fail.insert(0, f"{findings} finding(s)")
    if run_finished is not Verdict.PASS and not why_fail:
        why_fail.append(f"the engine reported {run_finished}")
    if why_fail:
        return Verdict.FAIL, tuple(why_fail)
    return Verdict.PASS, ()


def _error_reasons(
    requested: list[str],
    suites: list[SuiteResult],
    errors: int,
    interrupted: bool,
    run_finished: Verdict | None,
) -> list[str]:
    finished = {s.name for s in suites if s.finished is not None}
    reasons = [f"{errors} engine error(s)"] if errors else []
    if interrupted:
        reasons.append("the run was interrupted")
    if run_finished is None:
        reasons.append("the run never finished (no RunFinished event)")
    reasons += [f"suite '{n}' never finished" for n in requested if n not in finished]
    reasons += [
        f"suite '{s.name}' never finished"
        for s in suites
        if s.finished is None and s.name not in requested
    ]
    reasons += [
        f"suite '{s.name}' errored"
        for s in suites
        if s.verdict is Verdict.ERROR and s.finished is not None
    ]
    if run_finished is Verdict.ERROR and not reasons:
        reasons.append("the engine reported an error")
    return reasons


def exit_code(result: RunResult) -> ExitCode:
    """The process exit code for a run: error 2, fail 1, pass 0."""
    return {
        Verdict.PASS: ExitCode.PASS,
        Verdict.FAIL: ExitCode.FAIL,
    }.get(result.verdict, ExitCode.ERROR)


@dataclass
class _SuiteState:
    name: str
    started: float | None = None
    total_steps: int | None = None
    steps: int = 0
    finished: SuiteFinished | None = None


class RunCollector:
    """Event handler that remembers a run. Feed it every event, then call `result()`."""

    def __init__(self) -> None:
        self._start: RunStarted | None = None
        self._finish: RunFinished | None = None
        self._suites: dict[str, _SuiteState] = {}
        self._cases: list[CaseFinished] = []
        self._records: dict[str, FindingRecord] = {}
        self._all_findings: list[Finding] = []
        self._errors: list[RunError] = []
        self._interrupted = False

    def handle(self, event: Event) -> None:
        match event:
            case RunStarted():
                self._start = event
            case SuiteStarted():
                state = self._suite(event.suite)
                state.started, state.total_steps = event.time, event.total_steps
            case FindingRaised():
                self._add_finding(event)
            case CaseFinished():
                self._cases.append(event)
            case SuiteFinished():
                self._suite(event.suite).finished = event
            case EngineError():
                self._errors.append(RunError(event.suite, event.message, event.time))
            case Interrupted():
                self._interrupted = True
            case RunFinished():
                self._finish = event
            case _:
                self._count_step(event)

    def consume(self, events: Iterable[Event]) -> RunResult:
        for event in events:
            self.handle(event)
        return self.result()

    def _suite(self, name: str) -> _SuiteState:
        return self._suites.setdefault(name, _SuiteState(name))

    def _count_step(self, event: Event) -> None:
        suite = getattr(event, "suite", None)
        if isinstance(suite, str):
            self._suite(suite).steps += 1

    def _add_finding(self, event: FindingRaised) -> None:
        finding = event.finding
        if not finding.suite:
            finding = dataclasses.replace(finding, suite=event.suite)
        self._all_findings.append(finding)
        seen = self._records.get(finding.key)
        if seen is None:
            self._records[finding.key] = FindingRecord(finding, 1, finding.time, finding.time)
            return
        self._records[finding.key] = dataclasses.replace(
            seen,
            occurrences=seen.occurrences + 1,
            first_seen=min(seen.first_seen, finding.time),
            last_seen=max(seen.last_seen, finding.time),
        )

    def result(self) -> RunResult:
        suites = tuple(self._suite_result(s) for s in self._suites.values())
        requested = self._start.suites if self._start else ()
        verdict, reasons = decide_verdict(
            requested=requested,
            suites=suites,
            findings=len(self._records),
            errors=len(self._errors),
            interrupted=self._interrupted,
            run_finished=self._finish.verdict if self._finish else None,
        )
        return RunResult(
            run_id=self._start.run_id if self._start else "",
            target=self._start.target if self._start else "",
            build=self._start.build if self._start else "",
            seed=self._start.seed if self._start else None,
            suites_requested=tuple(requested),
            suites=suites,
            cases=tuple(self._cases),
            findings=tuple(self._records.values()),
            exposures=tuple(build_exposures(self._all_findings)),
            errors=tuple(self._errors),
            interrupted=self._interrupted,
            run_finished=self._finish is not None,
            started=self._start.time if self._start else None,
            finished=self._finish.time if self._finish else None,
            verdict=verdict,
            reasons=reasons,
        )

    def _suite_result(self, state: _SuiteState) -> SuiteResult:
        done = state.finished
        own_findings = any(r.finding.suite == state.name for r in self._records.values())
        # A suite that says PASS while its oracles raised findings is contradictory; the
        # findings win, so the suite row can never show green over a leak.
        reported = done.verdict if done else Verdict.ERROR
        verdict = Verdict.merge(reported, Verdict.FAIL) if own_findings else reported
        return SuiteResult(
            name=state.name,
            verdict=verdict,
            seconds=done.seconds if done else 0.0,
            message=done.message if done else "did not finish",
            metrics=dict(done.metrics) if done else {},
            artifacts=done.artifacts if done else (),
            started=state.started,
            finished=done.time if done else None,
            total_steps=state.total_steps,
            steps=state.steps,
        )
