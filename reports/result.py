"""The run result: what every reporter writes, and the one place the verdict is decided.

`RunCollector` consumes the engine's events and `RunCollector.result()` freezes them into a
`RunResult`. `decide_verdict` is the only function that turns a run into PASS / FAIL / ERROR,
and `exit_code` the only one that turns that into a process exit code.

Precedence (Jepsen's checker merge: error beats fail beats pass, unknown is never a pass):

1. ERROR if the engine reported an error, the run was interrupted, a requested suite never
   finished, no `RunFinished` arrived, any suite or the engine itself said ERROR, or the share
   of reads really checked (coverage) fell below the minimum;
2. FAIL if any finding was raised (accepted exposures excepted) or any suite said FAIL;
3. PASS otherwise.

An accepted exposure (a policy's suppression baseline, unexpired) is still recorded and shown;
it only does not count towards FAIL.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from harness.acceptance import AcceptedExposure, acceptance_for
from harness.coverage import CoverageRow, ListDepth, lost_reasons, missing_sent, ratio
from harness.errors import ExitCode
from harness.events import (
    CaseFinished,
    CoverageReported,
    EngineError,
    Event,
    FindingRaised,
    Interrupted,
    RunFinished,
    RunStarted,
    SuiteFinished,
    SuiteStarted,
    WorldSeeded,
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
    accepted: str = ""  # why it is an accepted exposure ("" if it is not)
    accepted_until: str = ""  # the acceptance's last day, ISO date

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
    profile: str = ""
    profile_digest: str = ""
    coverage_rows: tuple[CoverageRow, ...] = ()
    min_coverage: float = 0.0
    retries: int = 0  # transient faults survived
    relogins: int = 0  # sessions logged in again
    unfilled: tuple[str, ...] = ()  # discovered routes nothing could fill
    sources: Mapping[str, int] = field(default_factory=dict)  # reads per source
    found: Mapping[str, str] = field(default_factory=dict)  # route -> source, outside profile
    bounds: Mapping[str, int] = field(default_factory=dict)  # crawl_cut, crawl_refused, ...
    depth: Mapping[str, ListDepth] = field(default_factory=dict)  # route -> how deep it was read
    roles: Mapping[str, str] = field(default_factory=dict)  # actor id -> role

    @property
    def coverage(self) -> float | None:
        """The share of reads really checked; None when nothing was read."""
        return ratio(self.coverage_rows)

    @property
    def failing_findings(self) -> tuple[FindingRecord, ...]:
        return tuple(r for r in self.findings if not r.accepted)

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
    coverage: Sequence[CoverageRow] = (),
    min_coverage: float = 0.0,
    accepted: int = 0,
) -> tuple[Verdict, tuple[str, ...]]:
    """Apply the precedence in the module docstring; return the verdict and its reasons.
    `findings` counts findings that are not accepted exposures."""
    suites = list(suites)
    why_error = _error_reasons(list(requested), suites, errors, interrupted, run_finished)
    why_error += _coverage_reasons(coverage, min_coverage)
    if why_error:
        return Verdict.ERROR, tuple(why_error)
    why_fail = [f"suite '{s.name}' failed" for s in suites if s.verdict is Verdict.FAIL]
    if findings:
        why_fail.insert(0, f"{findings} finding(s)")
    # The engine merged the suites' own verdicts, which knew nothing of accepted exposures:
    # when some findings were accepted, the suites as judged here have the last word.
    if run_finished is not Verdict.PASS and not why_fail and not accepted:
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


def _coverage_reasons(rows: Sequence[CoverageRow], minimum: float) -> list[str]:
    silent = missing_sent(rows)
    why_silent = (
        [f"{silent} stored-media read(s) held none of the code the harness's own caller sent"]
        if silent
        else []
    )
    share = ratio(rows)
    if share is None or share >= minimum:
        return why_silent
    lost = sum(r.lost for r in rows)
    top = sorted(lost_reasons(rows).items(), key=lambda kv: -kv[1])[:3]
    why = ", ".join(f"{reason} x{count}" for reason, count in top)
    return [
        f"coverage {share:.1%} is below the minimum {minimum:.0%}: {lost} read(s) proved "
        f"nothing ({why})",
        *why_silent,
    ]


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

    def __init__(self, accepted: Sequence[AcceptedExposure] = ()) -> None:
        self._accepted = tuple(accepted)
        self._coverage: list[CoverageRow] = []
        self._retries = 0
        self._relogins = 0
        self._unfilled: set[str] = set()
        self._sources: Counter[str] = Counter()
        self._found: dict[str, str] = {}
        self._bounds: dict[str, int] = {}
        self._depth: dict[str, ListDepth] = {}
        self._roles: dict[str, str] = {}
        self._digest = ""
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
            case CoverageReported():
                self._coverage += event.rows
                self._retries += event.retries
                self._relogins += event.relogins
                self._unfilled |= set(event.unfilled)
                self._sources.update(dict(event.sources))
                for route, source in event.found:
                    self._found.setdefault(route, source)
                self._bounds.update(dict(event.bounds))  # run-wide figures: the latest
                self._depth.update({d.route: d for d in event.depth})
            case WorldSeeded():
                self._roles.update(dict(event.roles))
                self._digest = event.profile_digest or self._digest
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

    def _only_accepted(self, suite: str) -> bool:
        """Every failing case of `suite` failed on accepted findings and nothing else."""
        failing = [c for c in self._cases if c.suite == suite and c.verdict is Verdict.FAIL]
        return bool(failing) and all(
            c.finding_keys
            and all(k in self._records and self._records[k].accepted for k in c.finding_keys)
            for c in failing
        )

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

    def _accept(self) -> dict[str, FindingRecord]:
        """Each record marked with the acceptance that covers it, if any."""
        marked: dict[str, FindingRecord] = {}
        for key, record in self._records.items():
            entry = acceptance_for(record.finding, self._accepted, self._roles)
            marked[key] = (
                dataclasses.replace(
                    record, accepted=entry.reason, accepted_until=entry.expires.isoformat()
                )
                if entry is not None
                else record
            )
        return marked

    def result(self) -> RunResult:
        self._records = self._accept()
        suites = tuple(self._suite_result(s) for s in self._suites.values())
        requested = self._start.suites if self._start else ()
        minimum = self._start.min_coverage if self._start else 0.0
        verdict, reasons = decide_verdict(
            requested=requested,
            suites=suites,
            findings=sum(1 for r in self._records.values() if not r.accepted),
            errors=len(self._errors),
            interrupted=self._interrupted,
            run_finished=self._finish.verdict if self._finish else None,
            coverage=self._coverage,
            min_coverage=minimum,
            accepted=sum(1 for r in self._records.values() if r.accepted),
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
            profile=self._start.profile if self._start else "",
            profile_digest=self._digest,
            coverage_rows=tuple(self._coverage),
            min_coverage=minimum,
            retries=self._retries,
            relogins=self._relogins,
            unfilled=tuple(sorted(self._unfilled)),
            sources=dict(sorted(self._sources.items())),
            found=dict(sorted(self._found.items())),
            bounds=dict(sorted(self._bounds.items())),
            depth=dict(sorted(self._depth.items())),
            roles=dict(self._roles),
        )

    def _suite_result(self, state: _SuiteState) -> SuiteResult:
        done = state.finished
        mine = [r for r in self._records.values() if r.finding.suite == state.name]
        own_findings = any(not r.accepted for r in mine)
        # A suite that says PASS while its oracles raised findings is contradictory; the
        # findings win, so the suite row can never show green over a leak.
        reported = done.verdict if done else Verdict.ERROR
        if reported is Verdict.FAIL and not own_findings and self._only_accepted(state.name):
            reported = Verdict.PASS  # it failed on accepted exposures alone
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


def depth_line(depths: Iterable[ListDepth]) -> str:
    """How deep each list and export was read, on one line: "GET /x 11 pages 105 rows (end)"."""
    parts = []
    for d in depths:
        pages = f"{d.pages} page{'s' if d.pages != 1 else ''}"
        end = "end" if d.end else f"NOT the end: {d.capped} walk(s) stopped at the page bound"
        parts.append(f"{d.route} {pages} {d.rows} rows ({end})")
    return "; ".join(parts)
